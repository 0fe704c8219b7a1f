using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;

namespace VirtualNetworks
{
    /// <summary>How the routers of a virtual network learn their routes (topology <c>networks[].routing</c>).</summary>
    public enum RoutingProtocol
    {
        /// <summary>Static routes the engine computes from the wiring (shortest paths); nothing reacts to a failed link.</summary>
        Static = 0,
        /// <summary>OSPF in the guest (BIRD 2): OSPFv2 for an IPv4 network, OSPFv3 for an IPv6 network; point-to-point interfaces.</summary>
        Ospf = 1,
    }

    /// <summary>Administrative state of a virtual link (Disable-/Enable-VirtualLink, topology <c>links[].state</c>).</summary>
    public enum LinkState
    {
        /// <summary>The link forwards.</summary>
        Up = 0,
        /// <summary>The cable is pulled: carrier down at both ends (Linux: QMP set_link off; Hyper-V: the port disconnected).</summary>
        CablePulled = 1,
        /// <summary>A silent failure: carrier stays up at both ends, every frame is dropped on the host side.</summary>
        Silent = 2,
    }

    /// <summary>The routing settings of one network, as declared in a topology's <c>networks</c> section.</summary>
    public sealed class NetworkSpec
    {
        /// <summary>A network label (routers' <c>network</c>) or a computed network name (e.g. vn-r1).</summary>
        public string Name { get; set; } = "";
        public RoutingProtocol Routing { get; set; } = RoutingProtocol.Static;
        /// <summary>BFD on every OSPF interface (only with <see cref="RoutingProtocol.Ospf"/>).</summary>
        public bool Bfd { get; set; }
        /// <summary>OSPF hello interval, seconds; null = <see cref="RoutingDefaults.HelloIntervalSeconds"/>.</summary>
        public int? HelloIntervalSeconds { get; set; }
        /// <summary>OSPF dead interval, seconds; null = <see cref="RoutingDefaults.DeadIntervalSeconds"/>.</summary>
        public int? DeadIntervalSeconds { get; set; }
        /// <summary>BFD transmit/receive interval, ms; null = <see cref="RoutingDefaults.BfdIntervalMilliseconds"/>.</summary>
        public int? BfdIntervalMilliseconds { get; set; }
        /// <summary>BFD detection multiplier; null = <see cref="RoutingDefaults.BfdMultiplier"/>.</summary>
        public int? BfdMultiplier { get; set; }
        public string? SourcePath { get; set; }

        public NetworkSpec Clone() => (NetworkSpec)MemberwiseClone();
        public override string ToString() => Name;
    }

    /// <summary>The documented defaults and bounds of the routing settings.</summary>
    public static class RoutingDefaults
    {
        /// <summary>Lab value (OSPF's protocol default is 10 s).</summary>
        public const int HelloIntervalSeconds = 1;
        /// <summary>Lab value, 4 × hello (OSPF's protocol default is 40 s).</summary>
        public const int DeadIntervalSeconds = 4;
        public const int BfdIntervalMilliseconds = 100;
        /// <summary>Detection time = interval × multiplier = 500 ms by default.</summary>
        public const int BfdMultiplier = 5;

        public const int MinHelloIntervalSeconds = 1, MaxHelloIntervalSeconds = 65535;
        public const int MinDeadIntervalSeconds = 2, MaxDeadIntervalSeconds = 65535;
        public const int MinBfdIntervalMilliseconds = 10, MaxBfdIntervalMilliseconds = 10000;
        public const int MinBfdMultiplier = 2, MaxBfdMultiplier = 255;
    }

    /// <summary>
    /// The dynamic routing a router runs (part of its <see cref="RouterConfiguration"/>); null on a configuration means
    /// static routes. Rendered into the guest configuration text as one <c>routing</c> line (docs/guest-contract.md).
    /// </summary>
    public sealed class RoutingConfiguration
    {
        public RoutingProtocol Protocol { get; set; } = RoutingProtocol.Ospf;
        /// <summary>The router's OSPF router id, dotted quad, unique inside its network (planned by the engine).</summary>
        public string RouterId { get; set; } = "";
        public int HelloIntervalSeconds { get; set; } = RoutingDefaults.HelloIntervalSeconds;
        public int DeadIntervalSeconds { get; set; } = RoutingDefaults.DeadIntervalSeconds;
        public bool Bfd { get; set; }
        public int BfdIntervalMilliseconds { get; set; } = RoutingDefaults.BfdIntervalMilliseconds;
        public int BfdMultiplier { get; set; } = RoutingDefaults.BfdMultiplier;
        /// <summary>
        /// The network's authentication key (64 hex digits, derived from its name): OSPF packets of another network fail
        /// authentication, so OSPF never peers across networks even when miswired.
        /// </summary>
        public string AuthenticationKey { get; set; } = "";

        public RoutingConfiguration Clone() => (RoutingConfiguration)MemberwiseClone();

        /// <summary>Canonical text (part of <see cref="RouterConfiguration.ToCanonicalString"/>).</summary>
        public string ToCanonicalString()
        {
            var sb = new StringBuilder();
            sb.Append("routing ").Append(Protocol.ToString().ToLowerInvariant())
              .Append(" router-id ").Append(RouterId)
              .Append(" hello ").Append(HelloIntervalSeconds.ToString(CultureInfo.InvariantCulture))
              .Append(" dead ").Append(DeadIntervalSeconds.ToString(CultureInfo.InvariantCulture));
            if (Bfd)
                sb.Append(" bfd ").Append(BfdIntervalMilliseconds.ToString(CultureInfo.InvariantCulture))
                  .Append(' ').Append(BfdMultiplier.ToString(CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(AuthenticationKey)) sb.Append(" key ").Append(AuthenticationKey.ToLowerInvariant());
            return sb.ToString();
        }
    }

    /// <summary>One route of a router's routing table as the guest reports it (Get-VirtualRoute). Same type for every backend.</summary>
    public sealed class VirtualRoute
    {
        public string RouterName { get; set; } = "";
        /// <summary>Destination prefix, CIDR ("0.0.0.0/0" for a default route).</summary>
        public string Prefix { get; set; } = "";
        /// <summary>Next-hop address; null for a directly connected prefix.</summary>
        public string? NextHop { get; set; }
        /// <summary>The link whose adapter the route leaves through; null when the guest names an adapter the module does not know.</summary>
        public string? LinkName { get; set; }
        /// <summary>Who installed the route: "connected" (kernel), "static" (the engine's static routes), "ospf" (BIRD), or the guest's word.</summary>
        public string Protocol { get; set; } = "";
        public int? Metric { get; set; }
        public NetworkAddressFamily AddressFamily { get; set; }
        public override string ToString() => Prefix + (NextHop == null ? "" : " via " + NextHop);
    }

    /// <summary>An OSPF neighbour as the guest reports it.</summary>
    public sealed class RoutingNeighbor
    {
        /// <summary>The link the neighbour is seen on; null when the guest names an unknown adapter.</summary>
        public string? LinkName { get; set; }
        public string RouterId { get; set; } = "";
        /// <summary>OSPF neighbour state, lower case: full, 2way, init, exstart, exchange, loading, down.</summary>
        public string State { get; set; } = "";
    }

    /// <summary>A BFD session as the guest reports it.</summary>
    public sealed class BfdSession
    {
        public string? LinkName { get; set; }
        public string PeerAddress { get; set; } = "";
        /// <summary>up, down, init, admindown.</summary>
        public string State { get; set; } = "";
    }

    /// <summary>The state of a router's routing protocol (neighbours, BFD sessions, event counters since the guest booted).</summary>
    public sealed class RoutingStatus
    {
        public string RouterName { get; set; } = "";
        public RoutingProtocol Protocol { get; set; }
        /// <summary>The routing daemon's protocol instances and their state, e.g. "ospf4 up".</summary>
        public List<string> Protocols { get; set; } = new List<string>();
        public List<RoutingNeighbor> Neighbors { get; set; } = new List<RoutingNeighbor>();
        public List<BfdSession> BfdSessions { get; set; } = new List<BfdSession>();
        /// <summary>OSPF neighbour state changes logged since the guest booted.</summary>
        public int NeighborStateChanges { get; set; }
        /// <summary>BFD sessions that went down since the guest booted.</summary>
        public int BfdSessionDowns { get; set; }
    }
}

namespace VirtualNetworks.Backends
{
    /// <summary>
    /// A backend that can take a link down and up without removing it (Disable-/Enable-VirtualLink): a pulled cable or a
    /// silent failure. The state is recorded before it is applied, re-applied whenever an end starts, is re-created or is
    /// migrated, and reported in <see cref="VirtualLink.State"/>.
    /// </summary>
    public interface ILinkStateControl
    {
        /// <summary>Sets <paramref name="linkName"/> to <paramref name="state"/>; idempotent.</summary>
        void SetLinkState(string linkName, LinkState state, CancellationToken cancellationToken);
    }

    /// <summary>A backend that can read a running router's routing table and routing protocol state from its guest.</summary>
    public interface IRoutingReader
    {
        /// <summary>The guest's routes (main table, both families). Throws RouterNotRunning when the router does not run.</summary>
        IReadOnlyList<VirtualRoute> GetRoutes(string routerName, CancellationToken cancellationToken);
        /// <summary>The guest's routing protocol state. Throws RouterNotRunning when the router does not run.</summary>
        RoutingStatus GetRoutingStatus(string routerName, CancellationToken cancellationToken);
    }
}
