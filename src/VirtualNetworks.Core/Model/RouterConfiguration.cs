using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace VirtualNetworks
{
    /// <summary>One configured interface of a router: the router's end of a link.</summary>
    public sealed class InterfaceConfiguration
    {
        public string LinkName { get; set; } = "";
        /// <summary>The router's own address on this link, CIDR (e.g. 10.200.0.0/31 or fd00::/127).</summary>
        public string Address { get; set; } = "";
        /// <summary>The peer's address on this link, without prefix length.</summary>
        public string PeerAddress { get; set; } = "";
        public string PeerRouter { get; set; } = "";
    }

    /// <summary>A static route: destination prefix via a next hop reachable on a directly attached link.</summary>
    public sealed class RouteConfiguration
    {
        /// <summary>Destination prefix, CIDR.</summary>
        public string Destination { get; set; } = "";
        /// <summary>Next-hop address (a neighbour's address on <see cref="LinkName"/>).</summary>
        public string NextHop { get; set; } = "";
        public string LinkName { get; set; } = "";
    }

    /// <summary>Everything a router image that accepts configuration needs: addresses and static routes.</summary>
    public sealed class RouterConfiguration
    {
        public string RouterName { get; set; } = "";
        public NetworkAddressFamily AddressFamily { get; set; }
        public List<InterfaceConfiguration> Interfaces { get; set; } = new List<InterfaceConfiguration>();
        public List<RouteConfiguration> Routes { get; set; } = new List<RouteConfiguration>();
        /// <summary>Dynamic routing the router runs; null = static routes only (<see cref="Routes"/>).</summary>
        public RoutingConfiguration? Routing { get; set; }

        /// <summary>A canonical text form; two configurations are equal when their canonical forms are equal.</summary>
        public string ToCanonicalString()
        {
            var sb = new StringBuilder();
            sb.Append("router ").Append(RouterName.ToLowerInvariant()).Append(" af ").Append((int)AddressFamily).Append('\n');
            foreach (var i in Interfaces.OrderBy(i => i.LinkName, StringComparer.OrdinalIgnoreCase))
                sb.Append("if ").Append(i.LinkName.ToLowerInvariant()).Append(' ').Append(i.Address).Append(" peer ").Append(i.PeerAddress).Append('\n');
            foreach (var r in Routes.OrderBy(r => r.Destination, StringComparer.Ordinal))
                sb.Append("route ").Append(r.Destination).Append(" via ").Append(r.NextHop).Append(" dev ").Append(r.LinkName.ToLowerInvariant()).Append('\n');
            if (Routing != null) sb.Append(Routing.ToCanonicalString()).Append('\n');
            return sb.ToString();
        }
    }
}
