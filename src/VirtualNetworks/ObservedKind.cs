using System;
using System.Collections.Generic;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// One kind of object a snapshot holds: where its list is, what its name is, and the engine lookup that turns a literal
    /// name that matches nothing into that kind's not-found error. The cmdlets select routers, links and networks alike
    /// through it (see <see cref="VirtualNetworkCommandBase"/>'s selection helpers).
    /// </summary>
    internal sealed class ObservedKind<T> where T : class
    {
        public ObservedKind(Func<Snapshot, IEnumerable<T>> all, Func<T, string> nameOf, Func<VirtualNetworkService, Snapshot, string, T> require)
        {
            All = all;
            NameOf = nameOf;
            Require = require;
        }

        /// <summary>Every object of the kind in a snapshot.</summary>
        public Func<Snapshot, IEnumerable<T>> All { get; }

        /// <summary>An object's name.</summary>
        public Func<T, string> NameOf { get; }

        /// <summary>The object of a literal name, or the engine's not-found exception.</summary>
        public Func<VirtualNetworkService, Snapshot, string, T> Require { get; }
    }

    /// <summary>The kinds the cmdlets select.</summary>
    internal static class ObservedKinds
    {
        public static readonly ObservedKind<VirtualRouter> Routers =
            new ObservedKind<VirtualRouter>(s => s.Routers, r => r.Name, (service, s, name) => service.RequireRouter(s, name));

        public static readonly ObservedKind<VirtualLink> Links =
            new ObservedKind<VirtualLink>(s => s.Links, l => l.Name, (service, s, name) => service.RequireLink(s, name));

        public static readonly ObservedKind<VirtualHost> Hosts =
            new ObservedKind<VirtualHost>(s => s.Hosts, h => h.Name, (service, s, name) => service.RequireHost(s, name));

        public static readonly ObservedKind<VirtualNetwork> Networks =
            new ObservedKind<VirtualNetwork>(s => s.Networks, n => n.Name, (service, s, name) => service.RequireNetwork(s, name));
    }
}
