using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Engine
{
    /// <summary>Link state (Disable-/Enable-VirtualLink) and the guests' routing (Get-VirtualRoute, Get-VirtualRoutingStatus).</summary>
    public sealed partial class VirtualNetworkService
    {
        /// <summary>True when the backend can disable and enable links (<see cref="ILinkStateControl"/>).</summary>
        public bool SupportsLinkState => Backend is ILinkStateControl;

        /// <summary>True when the backend can read the guests' routing (<see cref="IRoutingReader"/>).</summary>
        public bool SupportsRoutingReader => Backend is IRoutingReader;

        /// <summary>
        /// Disables a link as <paramref name="failure"/> (a pulled cable or a silent failure) without removing it; returns it
        /// as observed afterwards. Idempotent. The routers' configuration is left as it is: static routes over the link
        /// lose their traffic, dynamic routing reroutes around it. OperationNotSupported on a backend without
        /// <see cref="ILinkStateControl"/>; InvalidArgument for <see cref="LinkState.Up"/> (that is <see cref="EnableLink"/>).
        /// </summary>
        public VirtualLink DisableLink(string name, LinkState failure, CancellationToken cancellationToken)
        {
            if (failure == LinkState.Up)
                throw new VirtualNetworksException(ErrorIds.InvalidLinkState, ErrorKind.InvalidArgument, name,
                    "A link is disabled as CablePulled or Silent; Up is Enable-VirtualLink.");
            return SetLinkState(name, failure, cancellationToken);
        }

        /// <summary>Brings a disabled link back up; returns it as observed afterwards. Idempotent.</summary>
        public VirtualLink EnableLink(string name, CancellationToken cancellationToken) =>
            SetLinkState(name, LinkState.Up, cancellationToken);

        private VirtualLink SetLinkState(string name, LinkState state, CancellationToken cancellationToken)
        {
            using var exclusive = Exclusive(cancellationToken);
            var link = RequireLink(Observe(cancellationToken), name);
            var control = Planner.LinkStateControl(Backend, link.Name);
            Note(state == LinkState.Up
                ? $"Enabling virtual link '{link.Name}' between '{link.From}' and '{link.To}' (state {Planner.Describe(link.State)})"
                : $"Disabling virtual link '{link.Name}' between '{link.From}' and '{link.To}' as {Planner.Describe(state)} (state {Planner.Describe(link.State)})");
            control.SetLinkState(link.Name, state, cancellationToken);
            return RequireLink(Observe(cancellationToken), link.Name);
        }

        private IRoutingReader RoutingReader(string target) =>
            Backend as IRoutingReader ?? throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, target,
                $"The {Backend.Kind} backend cannot read the routing of its routers' guests.");

        /// <summary>
        /// The routes of a running router's guest, both families, optionally only one family and/or one protocol
        /// ("connected", "static", "ospf", ...; case-insensitive), ordered by family, prefix, next hop. RouterNotRunning when
        /// it does not run; OperationNotSupported on a backend without <see cref="IRoutingReader"/>.
        /// </summary>
        public IReadOnlyList<VirtualRoute> GetRoutes(string routerName, NetworkAddressFamily? addressFamily, string? protocol, CancellationToken cancellationToken)
        {
            var router = RequireRouter(Observe(cancellationToken), routerName);
            var reader = RoutingReader(router.Name);
            RequireRunning(router);
            var routes = reader.GetRoutes(router.Name, cancellationToken) ?? Array.Empty<VirtualRoute>();
            return routes
                .Where(r => r != null)
                .Where(r => addressFamily == null || r.AddressFamily == addressFamily.Value)
                .Where(r => string.IsNullOrEmpty(protocol) || string.Equals(r.Protocol, protocol, StringComparison.OrdinalIgnoreCase))
                .Select(r => { if (string.IsNullOrEmpty(r.RouterName)) r.RouterName = router.Name; return r; })
                .OrderBy(r => r.AddressFamily).ThenBy(r => r.Prefix, StringComparer.Ordinal).ThenBy(r => r.NextHop ?? "", StringComparer.Ordinal)
                .ToList();
        }

        /// <summary>The routing protocol state of a running router's guest (neighbours, BFD sessions, event counters).</summary>
        public RoutingStatus GetRoutingStatus(string routerName, CancellationToken cancellationToken)
        {
            var router = RequireRouter(Observe(cancellationToken), routerName);
            var reader = RoutingReader(router.Name);
            RequireRunning(router);
            var status = reader.GetRoutingStatus(router.Name, cancellationToken) ??
                         throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, router.Name,
                             $"The {Backend.Kind} backend returned no routing status for router '{router.Name}'.");
            if (string.IsNullOrEmpty(status.RouterName)) status.RouterName = router.Name;
            return status;
        }

        private static void RequireRunning(VirtualRouter router)
        {
            if (router.State != RouterState.Running)
                throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, router.Name,
                    $"Router '{router.Name}' is {router.State}; its routing can be read only while it runs.")
                { RecommendedAction = "Start-VirtualRouter " + router.Name };
        }
    }
}
