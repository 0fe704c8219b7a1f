using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Addressing;
using VirtualNetworks.Backends;
using VirtualNetworks.Planning;
using VirtualNetworks.Routing;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Engine
{
    /// <summary>
    /// The engine's facade: everything a cmdlet does goes through here. Validates before it changes anything, keeps
    /// router configuration (addresses, routes) in step with the link graph, and knows nothing of PowerShell.
    /// </summary>
    public sealed partial class VirtualNetworkService : IDisposable
    {
        public VirtualNetworkService(IVirtualizationBackend backend)
        {
            Backend = backend ?? throw new ArgumentNullException(nameof(backend));
        }

        public IVirtualizationBackend Backend { get; }

        public void Dispose() => Backend.Dispose();

        // ------------------------------------------------------------------------------------------------ log

        /// <summary>
        /// Receives one line for each change the engine makes, as it makes it (each plan step as it is applied, each router
        /// created, started, stopped or moved with the image it boots, each link created, changed or removed), and the
        /// backend's migration progress; null = nobody listens. The cmdlets turn it into -Verbose output. Reports may come
        /// from other threads (a backend's migration progress): the receiver must cope.
        /// </summary>
        public IProgress<string>? Log { get; set; }

        private void Note(string message) => Log?.Report(message);

        /// <summary>
        /// Lines describing the backend for the log: its kind and what it reports about its set-up
        /// (<see cref="IBackendDiagnostics.DescribeSetup"/>, e.g. the Linux backend's state directory).
        /// </summary>
        public IReadOnlyList<string> DescribeBackend()
        {
            var lines = new List<string>();
            if (Backend is IBackendDiagnostics diagnostics)
                foreach (var line in diagnostics.DescribeSetup() ?? Array.Empty<string>())
                    if (!string.IsNullOrWhiteSpace(line)) lines.Add($"{Backend.Kind} backend: {line}");
            return lines;
        }

        /// <summary>Logs which file(s) <paramref name="image"/> resolves to for <paramref name="router"/> (backends with <see cref="IBackendDiagnostics"/>).</summary>
        private void NoteImage(string router, string? image, string? host)
        {
            if (Log == null || string.IsNullOrEmpty(image) || !(Backend is IBackendDiagnostics diagnostics)) return;
            string? where;
            try
            {
                where = diagnostics.DescribeImage(image!, HostNames.IsLocalHost(host) ? "" : host!);
            }
            catch (VirtualNetworksException ex)
            {
                where = null;
                Note($"Router '{router}': image '{image}' could not be resolved: {ex.Message}");
                return;
            }
            Note(where == null
                ? $"Router '{router}': image '{image}' could not be resolved on {DisplayHost(host)}"
                : $"Router '{router}': image '{image}' is {where}");
        }

        /// <summary>
        /// Passes plan events to the caller's observer and logs each step as it is applied (with the image of each router a
        /// step creates or starts).
        /// </summary>
        private sealed class LoggingObserver : IPlanObserver
        {
            private readonly VirtualNetworkService _service;
            private readonly IPlanObserver _inner;

            public LoggingObserver(VirtualNetworkService service, IPlanObserver inner)
            {
                _service = service;
                _inner = inner;
            }

            public bool ShouldRun(PlanStep step) => _inner.ShouldRun(step);

            public void OnStepStarting(PlanStep step, int index, int count)
            {
                _service.Note($"Step {index + 1} of {count}: {step.Description} on '{step.Target}'");
                if (step.Action == PlanAction.CreateRouter || step.Action == PlanAction.StartRouter)
                    _service.NoteImage(step.Target, step.Image, step.ComputerName);
                _inner.OnStepStarting(step, index, count);
            }
        }

        /// <summary>Reports to both receivers (the caller's progress and the log).</summary>
        private sealed class Tee : IProgress<string>
        {
            private readonly IProgress<string> _a;
            private readonly IProgress<string> _b;

            public Tee(IProgress<string> a, IProgress<string> b)
            {
                _a = a;
                _b = b;
            }

            public void Report(string value)
            {
                _a.Report(value);
                _b.Report(value);
            }
        }

        private IProgress<string>? WithLog(IProgress<string>? progress) =>
            Log == null ? progress : progress == null ? Log : new Tee(progress, Log);

        /// <summary>
        /// Exclusive access to the backend's state for the returned scope (<see cref="IExclusiveAccess"/>; nothing for a
        /// backend without it). Every state-changing method here holds it from its first observation to its last change, so
        /// two commands never plan against each other's half-applied changes; a command that plans and applies in several
        /// calls (Deploy-VirtualNetwork) holds it around all of them. Re-entrant.
        /// </summary>
        public IDisposable Exclusive(CancellationToken cancellationToken) =>
            Backend is IExclusiveAccess access ? access.AcquireExclusive(cancellationToken) : NoScope.Instance;

        private sealed class NoScope : IDisposable
        {
            public static readonly NoScope Instance = new NoScope();
            public void Dispose() { }
        }

        /// <summary>Reads the truth from the backend and groups it into virtual networks.</summary>
        public Snapshot Observe(CancellationToken cancellationToken) => new Snapshot(Backend.GetInventory(cancellationToken));

        // ------------------------------------------------------------------------------------------------ lookups

        public VirtualRouter RequireRouter(Snapshot snapshot, string name) =>
            snapshot.FindRouter(name) ?? throw new VirtualNetworksException(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, name,
                $"No virtual router named '{name}' was found.");

        public VirtualLink RequireLink(Snapshot snapshot, string name) =>
            snapshot.FindLink(name) ?? throw new VirtualNetworksException(ErrorIds.LinkNotFound, ErrorKind.ObjectNotFound, name,
                $"No virtual link named '{name}' was found.");

        public VirtualNetwork RequireNetwork(Snapshot snapshot, string name) =>
            snapshot.FindNetwork(name) ?? throw new VirtualNetworksException(ErrorIds.NetworkNotFound, ErrorKind.ObjectNotFound, name,
                $"No virtual network named '{name}' was found.");

        // ------------------------------------------------------------------------------------------------ backend defaults

        /// <summary>
        /// <paramref name="spec"/> with what it leaves to the backend filled in: a copy whose null
        /// <see cref="RouterSpec.MemoryMB"/> is the backend's <see cref="BackendCapabilities.DefaultMemoryMB"/>. Explicit values
        /// are kept. Every command resolves its specs with this before it validates them against the backend's limits and
        /// plans, so -WhatIf, validation, the plan and the backend all see the same number.
        /// </summary>
        public RouterSpec WithBackendDefaults(RouterSpec spec)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            var resolved = spec.Clone();
            resolved.MemoryMB = Backend.Capabilities.MemoryMBOf(spec);
            return resolved;
        }

        /// <summary>
        /// <paramref name="desired"/> with every router resolved by <see cref="WithBackendDefaults(RouterSpec)"/> (a new
        /// topology whose router list holds copies; hosts, links, physical links and pools are the same objects).
        /// </summary>
        public TopologySpec WithBackendDefaults(TopologySpec desired)
        {
            if (desired == null) throw new ArgumentNullException(nameof(desired));
            return new TopologySpec
            {
                Hosts = desired.Hosts,
                Routers = desired.Routers.Select(r => r == null ? null! : WithBackendDefaults(r)).ToList(),
                Links = desired.Links,
                PhysicalLinks = desired.PhysicalLinks,
                AddressPools = desired.AddressPools,
                Networks = desired.Networks,
                SourceName = desired.SourceName,
            };
        }

        // ------------------------------------------------------------------------------------------------ routers

        /// <summary>
        /// Checks a new router against names, limits, hosts, image and what exists. Throws on the first problem. Memory it
        /// leaves to the backend is checked as the backend's default.
        /// </summary>
        public void ValidateNewRouter(RouterSpec spec, Snapshot snapshot, IEnumerable<HostSpec>? declaredHosts = null)
        {
            spec = WithBackendDefaults(spec);
            NameRules.Ensure(spec.Name, "router");
            if (snapshot.FindRouter(spec.Name) != null)
                throw new VirtualNetworksException(ErrorIds.RouterAlreadyExists, ErrorKind.ResourceExists, spec.Name,
                    $"A virtual router named '{spec.Name}' already exists.");
            var merged = snapshot.ToTopology();
            if (declaredHosts != null) merged.Hosts.AddRange(declaredHosts);
            merged.Routers.Add(spec);
            ThrowIfInvalid(merged, snapshot, force: false, relevantTo: spec.Name);
        }

        /// <summary>Creates a router (and starts it when asked); returns it as observed afterwards.</summary>
        public VirtualRouter NewRouter(RouterSpec spec, bool start, CancellationToken cancellationToken) =>
            NewRouter(spec, start, force: false, cancellationToken);

        /// <summary>
        /// Creates a router (and starts it when asked); returns it as observed afterwards. Unless <paramref name="force"/>,
        /// the backend's admission check (<see cref="IAdmissionControl"/>) refuses it first when the host cannot take it.
        /// Memory the spec leaves to the backend is the backend's default (<see cref="WithBackendDefaults(RouterSpec)"/>).
        /// </summary>
        public VirtualRouter NewRouter(RouterSpec spec, bool start, bool force, CancellationToken cancellationToken)
        {
            spec = WithBackendDefaults(spec);
            using var exclusive = Exclusive(cancellationToken);
            var snapshot = Observe(cancellationToken);
            ValidateNewRouter(spec, snapshot);
            Preflight(new TopologySpec { Routers = { spec } }, cancellationToken);
            var admission = new AdmissionRequest { Creates = { spec.Clone() } };
            if (start) admission.Starts.Add(spec.Clone());
            Admit(admission, force, cancellationToken);
            Note($"Creating virtual router '{spec.Name}' on {DisplayHost(spec.Host)} ({spec.ProcessorCount} CPU, {spec.MemoryMB} MB, {spec.AddressFamily})");
            NoteImage(spec.Name, spec.Image, spec.Host);
            Backend.CreateRouter(spec, cancellationToken);
            var created = Observe(cancellationToken);
            Reconfigure(created, cancellationToken);
            if (start)
            {
                Note($"Starting virtual router '{spec.Name}'");
                Backend.StartRouter(spec.Name, cancellationToken);
            }
            return RequireRouter(Observe(cancellationToken), spec.Name);
        }

        /// <summary>Asks a backend with an admission check whether its hosts can take <paramref name="request"/>; nothing with <paramref name="force"/>.</summary>
        private void Admit(AdmissionRequest request, bool force, CancellationToken cancellationToken)
        {
            if (force || request.IsEmpty) return;
            (Backend as IAdmissionControl)?.Admit(request, cancellationToken);
        }

        /// <summary>
        /// Checks a migration before anything moves: the router exists, the backend can migrate in that mode, the
        /// destination is a known host other than the router's own, and (when the backend reports physical links) every
        /// peer of the router is reachable from the destination over them. Returns the destination as the backend
        /// names it.
        /// </summary>
        public VirtualHost ValidateMove(Snapshot snapshot, VirtualRouter router, string destinationHost, MigrationMode mode)
        {
            if (!HostNames.IsLocalHost(destinationHost)) NameRules.Ensure(destinationHost, "host");
            var caps = Backend.Capabilities;
            if ((mode == MigrationMode.Live && !caps.SupportsLiveMigration) || (mode == MigrationMode.Cold && !caps.SupportsColdMigration))
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, router.Name,
                    $"{mode} migration is not supported by the {Backend.Kind} backend yet.");
            var destination = snapshot.FindHost(destinationHost) ?? throw new VirtualNetworksException(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound,
                destinationHost, $"Cannot move router '{router.Name}': no host named '{destinationHost}' is known " +
                $"(known hosts: {string.Join(", ", snapshot.Hosts.Select(h => h.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase))}).");
            // A Failed router on the destination may be a move that was interrupted after the switch: the backend finishes
            // (or undoes) it first, so running the same Move-VirtualRouter again converges instead of being refused.
            if (SameHost(destination.Name, router.ComputerName) && router.State != RouterState.Failed)
                throw new VirtualNetworksException(ErrorIds.RouterAlreadyOnHost, ErrorKind.InvalidArgument, router.Name,
                    $"Router '{router.Name}' already runs on host '{destination.Name}'; choose another destination.");
            if (snapshot.PhysicalLinks.Count > 0)
            {
                var graph = UnderlayPaths.Graph(snapshot.PhysicalLinks.Select(p => (HostNames.Canonical(p.From), HostNames.Canonical(p.To))));
                foreach (var link in snapshot.LinksOf(router.Name))
                {
                    var peer = snapshot.FindRouter(string.Equals(link.From, router.Name, StringComparison.OrdinalIgnoreCase) ? link.To : link.From);
                    if (peer == null || SameHost(peer.ComputerName, destination.Name)) continue;
                    if (!UnderlayPaths.Reachable(graph, HostNames.Canonical(destination.Name), HostNames.Canonical(peer.ComputerName)))
                        throw new VirtualNetworksException(ErrorIds.NoUnderlayPath, ErrorKind.InvalidOperation, router.Name,
                            $"Cannot move router '{router.Name}' to host '{destination.Name}': its link '{link.Name}' to router '{peer.Name}' " +
                            $"on host '{peer.ComputerName}' would have no path over the physical links from '{destination.Name}'.");
                }
            }
            return destination;
        }

        /// <summary>The steps a migration takes, for -WhatIf and confirmation (backend-independent wording).</summary>
        public static IReadOnlyList<string> DescribeMove(VirtualRouter router, string destinationHost, MigrationMode mode)
        {
            var links = router.Links.OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            string prepare = links.Count == 0
                ? $"prepare the router on {destinationHost}"
                : $"prepare the network attachments on {destinationHost} for its {links.Count} link(s) ({string.Join(", ", links)})";
            var steps = new List<string>();
            if (mode == MigrationMode.Live)
            {
                steps.Add(prepare);
                steps.Add("migrate memory while it keeps running, then switch over");
            }
            else
            {
                steps.Add("stop it gracefully");
                steps.Add(prepare);
                steps.Add($"move its disk and state to {destinationHost}");
                steps.Add($"start it on {destinationHost} if it was running");
            }
            if (links.Count > 0) steps.Add($"repoint the peers' ends of its links to {destinationHost}");
            steps.Add($"remove leftovers on {DisplayHost(router.ComputerName)}");
            return steps;
        }

        /// <summary>"Live migration of r2 from h1 to h3: step, step, ..." (the ShouldProcess action of Move-VirtualRouter).</summary>
        public static string DescribeMoveText(VirtualRouter router, string destinationHost, MigrationMode mode) =>
            $"{mode} migration of {router.Name} from {DisplayHost(router.ComputerName)} to {destinationHost}: " +
            string.Join(", ", DescribeMove(router, destinationHost, mode));

        public VirtualRouter MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            using var exclusive = Exclusive(cancellationToken);
            var snapshot = Observe(cancellationToken);
            var router = RequireRouter(snapshot, name);
            var destination = ValidateMove(snapshot, router, destinationHost, mode);
            var reports = WithLog(progress);
            reports?.Report($"{mode} migration of {router.Name} from {DisplayHost(router.ComputerName)} to {destination.Name}");
            Backend.MoveRouter(router.Name, destination.Name, mode, reports, cancellationToken);
            var moved = RequireRouter(Observe(cancellationToken), router.Name);
            reports?.Report($"{router.Name} runs on {DisplayHost(moved.ComputerName)}");
            return moved;
        }

        private static bool SameHost(string? a, string? b) =>
            string.Equals(HostNames.Canonical(a), HostNames.Canonical(b), StringComparison.OrdinalIgnoreCase);

        private static string DisplayHost(string? host) => HostNames.Canonical(host);

        // ------------------------------------------------------------------------------------------------ hosts

        public VirtualHost RequireHost(Snapshot snapshot, string name) =>
            snapshot.FindHost(name) ?? throw new VirtualNetworksException(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, name,
                $"No host named '{name}' was found.");

        /// <summary>True when the backend can create and remove lab hosts and physical links.</summary>
        public bool ManagesLabHosts => Backend is ILabHostManager;

        private void RequireLabHostManager(string target)
        {
            if (!ManagesLabHosts)
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, target,
                    $"The {Backend.Kind} backend cannot create or remove lab hosts and physical links; its hosts are real machines.");
        }

        /// <summary>
        /// Plans a new lab host and its physical links to existing hosts. Throws when the backend has no lab hosts, the
        /// name is invalid or taken, or a host to connect to is unknown or the new host itself.
        /// </summary>
        public DeploymentPlan PlanNewLabHost(Snapshot snapshot, string name, IReadOnlyCollection<string>? connectedTo)
        {
            RequireLabHostManager(name);
            NameRules.Ensure(name, "host");
            var existing = HostNames.IsLocalHost(name) ? null : snapshot.FindHost(name);
            var plan = new DeploymentPlan();
            // Drift of the recorded underlay (a missing address, route or veth end) is repaired first, level-based.
            var repairs = Planner.PlanUnderlayRepairs(snapshot.Inventory);
            foreach (var step in repairs) plan.Add(step);
            if (existing == null && !HostNames.IsLocalHost(name))
                plan.Add(Planner.CreateLabHostStep(name, byDeployment: false, "Create lab host (a stand-in machine; kept until Remove-VirtualLabHost)"));
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var other in connectedTo ?? Array.Empty<string>())
            {
                if (string.Equals(other, name, StringComparison.OrdinalIgnoreCase))
                    throw new VirtualNetworksException(ErrorIds.PhysicalSelfLink, ErrorKind.InvalidArgument, name,
                        $"Lab host '{name}' cannot have a physical link to itself.");
                var host = RequireHost(snapshot, other);
                if (!seen.Add(HostNames.Canonical(host.Name))) continue;
                if (existing != null && snapshot.PhysicalLinks.Any(p => string.Equals(
                        PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To)),
                        PhysicalLink.NameOf(HostNames.Canonical(name), HostNames.Canonical(host.Name)), StringComparison.OrdinalIgnoreCase))) continue;
                plan.Add(Planner.CreatePhysicalLinkStep(new PhysicalLinkSpec { From = name, To = host.Name }));
            }
            // A lab host that exists is refused, unless this is the same New-VirtualLabHost interrupted before it finished:
            // the host is there but drifted or without a physical link asked for (then the missing part is planned).
            // (Its repairs: those of the host, of the hosts it is to be linked to, or of the physical links between them.)
            var involved = new HashSet<string>(seen, StringComparer.OrdinalIgnoreCase) { HostNames.Canonical(name) };
            bool Involves(PlanStep s) => involved.Any(h => s.Target.IndexOf(h, StringComparison.OrdinalIgnoreCase) >= 0 ||
                                                          (HostNames.IsLocalHost(h) && HostNames.IsLocalHost(s.Target)));
            bool unfinished = existing != null && existing.IsLabHost && (plan.Steps.Count > repairs.Count || repairs.Any(Involves));
            if (HostNames.IsLocalHost(name) || (existing != null && !unfinished))
                throw new VirtualNetworksException(ErrorIds.HostAlreadyExists, ErrorKind.ResourceExists, name,
                    $"A host named '{name}' already exists.");
            if (existing != null) plan.Warnings.Add($"Lab host '{existing.Name}' exists but was not finished (an interrupted New-VirtualLabHost?): only what is missing is planned.");
            return plan;
        }

        /// <summary>
        /// Plans removal of a lab host and its physical links. Refused for real machines (NotALabHost) and while routers
        /// run on it or a link's tunnel crosses it (HostInUse).
        /// </summary>
        public DeploymentPlan PlanRemoveLabHost(Snapshot snapshot, string name)
        {
            var host = RequireHost(snapshot, name);
            RequireLabHostManager(host.Name);
            if (!host.IsLabHost || HostNames.IsLocalHost(host.Name))
                throw new VirtualNetworksException(ErrorIds.NotALabHost, ErrorKind.InvalidOperation, host.Name,
                    $"Host '{host.Name}' is a real machine, not a lab host; only lab hosts can be removed.");
            var routers = snapshot.RoutersOn(host.Name).Select(r => r.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            if (routers.Count > 0)
                throw new VirtualNetworksException(ErrorIds.HostInUse, ErrorKind.ResourceUnavailable, host.Name,
                    $"Lab host '{host.Name}' still runs {routers.Count} virtual router(s) ({string.Join(", ", routers)}); " +
                    "move them (Move-VirtualRouter) or remove them first.")
                { RecommendedAction = "Move-VirtualRouter or Remove-VirtualRouter the routers on it, then remove the host." };
            var crossing = snapshot.Links.Where(l => l.UnderlayPath.Any(h => SameHost(h, host.Name)))
                .Select(l => l.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
            if (crossing.Count > 0)
                throw new VirtualNetworksException(ErrorIds.HostInUse, ErrorKind.ResourceUnavailable, host.Name,
                    $"Lab host '{host.Name}' carries the tunnels of virtual link(s) {string.Join(", ", crossing)}; remove or re-route them first.");
            var plan = new DeploymentPlan();
            foreach (var step in Planner.RemoveLabHostSteps(snapshot.Inventory, host.Name)) plan.Add(step);
            return plan;
        }

        /// <summary>Removes a router and the links attached to it, then updates the remaining routers' routes (<see cref="RemoveRouters"/> of one).</summary>
        public void RemoveRouter(string name, CancellationToken cancellationToken) =>
            Single(RemoveRouters(new[] { name }, cancellationToken));

        // ------------------------------------------------------------------------------------------------ links

        /// <summary>The default name of a link: "from-to", then "from-to-2", ... until it is free.</summary>
        public static string DeriveLinkName(string from, string to, Func<string, bool> taken)
        {
            var baseName = from + "-" + to;
            if (!taken(baseName)) return baseName;
            for (int i = 2; ; i++)
            {
                var candidate = baseName + "-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (!taken(candidate)) return candidate;
            }
        }

        /// <summary>Fills a missing link name and checks the link against everything observed. Throws on the first problem.</summary>
        public LinkSpec ValidateNewLink(LinkSpec spec, bool force, Snapshot snapshot)
        {
            NameRules.Ensure(spec.From, "router");
            NameRules.Ensure(spec.To, "router");
            var resolved = spec.Clone();
            if (string.IsNullOrEmpty(resolved.Name))
                resolved.Name = DeriveLinkName(RouterNameOrSelf(snapshot, spec.From), RouterNameOrSelf(snapshot, spec.To), n => snapshot.FindLink(n) != null);
            NameRules.Ensure(resolved.Name, "link");
            if (snapshot.FindLink(resolved.Name) != null)
                throw new VirtualNetworksException(ErrorIds.LinkAlreadyExists, ErrorKind.ResourceExists, resolved.Name,
                    $"A virtual link named '{resolved.Name}' already exists.");
            var merged = snapshot.ToTopology();
            merged.Links.Add(resolved);
            ThrowIfInvalid(merged, snapshot, force, relevantTo: resolved.Name);
            return resolved;
        }

        private static string RouterNameOrSelf(Snapshot s, string name) => s.FindRouter(name)?.Name ?? name;

        /// <summary>A link whose creation did not finish: an end without an address, or devices missing.</summary>
        private static bool IsUnfinished(VirtualLink link) =>
            string.IsNullOrEmpty(link.FromAddress) || string.IsNullOrEmpty(link.ToAddress) || !string.IsNullOrEmpty(link.Status);

        private static bool SameEnds(VirtualLink link, LinkSpec spec) =>
            (string.Equals(link.From, spec.From, StringComparison.OrdinalIgnoreCase) && string.Equals(link.To, spec.To, StringComparison.OrdinalIgnoreCase)) ||
            (string.Equals(link.From, spec.To, StringComparison.OrdinalIgnoreCase) && string.Equals(link.To, spec.From, StringComparison.OrdinalIgnoreCase));

        /// <summary>Creates a link, then updates addresses and routes of the network it joins.</summary>
        public VirtualLink NewLink(LinkSpec spec, bool force, CancellationToken cancellationToken)
        {
            using var exclusive = Exclusive(cancellationToken);
            var snapshot = Observe(cancellationToken);
            var unfinished = string.IsNullOrEmpty(spec.Name) ? null : snapshot.FindLink(spec.Name);
            if (unfinished != null && IsUnfinished(unfinished) && SameEnds(unfinished, spec) &&
                Planner.Normalize(unfinished.MaximumBandwidth) == Planner.Normalize(spec.MaximumBandwidth))
            {
                // The same New-VirtualLink, interrupted after its record was written (the process was killed): finish it.
                // Configuring its routers makes the backend reconcile their adapters (wiring, hot-plug) level-based.
                Reconfigure(snapshot, cancellationToken);
                return RequireLink(Observe(cancellationToken), unfinished.Name);
            }
            var resolved = ValidateNewLink(spec, force, snapshot);
            Preflight(new TopologySpec { Links = { resolved } }, cancellationToken);
            Note($"Creating virtual link '{resolved.Name}' between '{resolved.From}' and '{resolved.To}' (maximum bandwidth {Bandwidth.Format(resolved.MaximumBandwidth)})");
            Backend.CreateLink(resolved, cancellationToken);
            var after = Observe(cancellationToken);
            Reconfigure(after, cancellationToken);
            return RequireLink(Observe(cancellationToken), resolved.Name);
        }

        /// <summary>Checks a bandwidth value against the backend's limits (null or 0 = no limit).</summary>
        public void ValidateBandwidth(string linkName, long? bitsPerSecond)
        {
            if (!bitsPerSecond.HasValue || bitsPerSecond.Value == 0) return;
            var caps = Backend.Capabilities;
            if (bitsPerSecond.Value < 0)
                throw new VirtualNetworksException(ErrorIds.InvalidBandwidth, ErrorKind.InvalidArgument, linkName,
                    $"Bandwidth {bitsPerSecond.Value} for link '{linkName}' is negative.");
            if (bitsPerSecond.Value < caps.MinimumBandwidth || bitsPerSecond.Value > caps.MaximumBandwidth)
                throw new VirtualNetworksException(ErrorIds.BandwidthOutOfRange, ErrorKind.LimitsExceeded, linkName,
                    $"Bandwidth {Bandwidth.Format(bitsPerSecond)} for link '{linkName}' is outside what the {Backend.Kind} backend supports " +
                    $"({Bandwidth.Format(caps.MinimumBandwidth)} to {Bandwidth.Format(caps.MaximumBandwidth)}).");
        }

        /// <summary>Changes a live link's bandwidth in place (null or 0 removes the limit).</summary>
        public VirtualLink SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken)
        {
            using var exclusive = Exclusive(cancellationToken);
            var link = RequireLink(Observe(cancellationToken), name);
            ValidateBandwidth(link.Name, bitsPerSecond);
            Note($"Setting the maximum bandwidth of virtual link '{link.Name}' from {Bandwidth.Format(link.MaximumBandwidth)} to {Bandwidth.Format(Planner.Normalize(bitsPerSecond))}");
            Backend.SetLinkBandwidth(link.Name, Planner.Normalize(bitsPerSecond), cancellationToken);
            return RequireLink(Observe(cancellationToken), link.Name);
        }

        /// <summary>
        /// Changes the bandwidth of several live links (null or 0 removes the limit) under one exclusive scope: one
        /// observation before (every name is looked up and the value validated before anything changes), one backend call
        /// per link, one observation after. Returns the links as observed after, in the order of <paramref name="names"/>.
        /// Set-VirtualLink with many links (names or pipeline input) costs O(links) this way, not an observation of
        /// everything per link.
        /// </summary>
        /// <remarks>
        /// A link the backend fails to change does not stop the others: its error goes to <paramref name="failures"/> (when
        /// given; else the first one is thrown after the others ran) and it is left out of the result.
        /// </remarks>
        public List<VirtualLink> SetLinkBandwidth(IReadOnlyList<string> names, long? bitsPerSecond, CancellationToken cancellationToken,
            ICollection<VirtualNetworksException>? failures = null)
        {
            if (names == null) throw new ArgumentNullException(nameof(names));
            using var exclusive = Exclusive(cancellationToken);
            var before = Observe(cancellationToken);
            var links = names.Select(n => RequireLink(before, n)).ToList();
            var done = new List<string>();
            VirtualNetworksException? first = null;
            foreach (var link in links)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    ValidateBandwidth(link.Name, bitsPerSecond); // each link's own error, as one link at a time would give it
                }
                catch (VirtualNetworksException ex)
                {
                    if (failures == null) throw;
                    failures.Add(ex);
                    continue;
                }
                Note($"Setting the maximum bandwidth of virtual link '{link.Name}' from {Bandwidth.Format(link.MaximumBandwidth)} to {Bandwidth.Format(Planner.Normalize(bitsPerSecond))}");
                try
                {
                    Backend.SetLinkBandwidth(link.Name, Planner.Normalize(bitsPerSecond), cancellationToken);
                    done.Add(link.Name);
                }
                catch (VirtualNetworksException ex)
                {
                    if (failures == null) first ??= ex;
                    else failures.Add(ex);
                }
            }
            if (first != null) throw first;
            var after = Observe(cancellationToken);
            return done.Select(n => RequireLink(after, n)).ToList();
        }

        public void RemoveLink(string name, CancellationToken cancellationToken)
        {
            using var exclusive = Exclusive(cancellationToken);
            var snapshot = Observe(cancellationToken);
            var link = snapshot.FindLink(name);
            if (link == null)
            {
                // Gone, possibly by the same command killed after the link but before its routers were reconfigured:
                // bring their configuration in line (level-based; nothing when it already is), then report it missing.
                Reconfigure(snapshot, cancellationToken);
                link = RequireLink(snapshot, name);
            }
            Note($"Removing virtual link '{link.Name}' between '{link.From}' and '{link.To}'");
            Backend.RemoveLink(link.Name, cancellationToken);
            Reconfigure(Observe(cancellationToken), cancellationToken);
        }

        /// <summary>Measures a link's throughput through the guests (backends that implement <see cref="ILinkMeter"/>).</summary>
        public LinkMeasurement MeasureLink(string name, bool reverse, TimeSpan duration, CancellationToken cancellationToken)
        {
            var link = RequireLink(Observe(cancellationToken), name);
            if (!(Backend is ILinkMeter meter))
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, link.Name,
                    $"The {Backend.Kind} backend cannot measure links.");
            return meter.MeasureLink(link.Name, reverse, duration, cancellationToken);
        }

        // ------------------------------------------------------------------------------------------------ orphans

        private IOrphanCollector Collector => Backend as IOrphanCollector ?? throw new VirtualNetworksException(
            ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, Backend.Kind, $"The {Backend.Kind} backend has no orphan clean-up.");

        /// <summary>Leftovers the module owns that no router or link uses (every owned resource with <paramref name="all"/>).</summary>
        public IReadOnlyList<OrphanResource> FindOrphans(bool all, CancellationToken cancellationToken) =>
            Collector.FindOrphans(all, cancellationToken);

        public void RemoveOrphan(OrphanResource resource, CancellationToken cancellationToken)
        {
            Note($"Removing leftover {resource.Kind} '{resource.Name}' on {DisplayHost(resource.ComputerName)} ({resource.Reason})");
            Collector.RemoveOrphan(resource, cancellationToken);
        }

        // ------------------------------------------------------------------------------------------------ networks

        /// <summary>
        /// Validation that needs no backend: the file alone (names, values, references, isolation inside the file).
        /// Run it before resolving a backend so bad input never reaches one.
        /// </summary>
        public static List<TopologyError> ValidateStatic(TopologySpec desired, bool force) =>
            TopologyValidator.Validate(desired, new ValidationContext { Force = force });

        /// <summary>
        /// Validates <paramref name="desired"/> against the backend (limits, images, hosts, what is deployed) and
        /// plans the steps that reach it. Throws <see cref="TopologyValidationException"/> when invalid, and the backend's
        /// admission error (<see cref="IAdmissionControl"/>) when its hosts cannot take the routers the plan creates or starts;
        /// <paramref name="force"/> overrides both the isolation guard and the admission check. Routers that leave their
        /// memory to the backend get its default first (<see cref="WithBackendDefaults(TopologySpec)"/>), so the plan shows
        /// and compares the memory the backend will give them; <paramref name="desired"/> itself is not changed.
        /// </summary>
        public DeploymentPlan PlanDeployment(TopologySpec desired, bool force, CancellationToken cancellationToken)
        {
            desired = WithBackendDefaults(desired);
            var snapshot = Observe(cancellationToken);
            var merged = Merge(desired, snapshot);
            ThrowIfInvalid(merged, snapshot, force, relevantTo: null);
            Preflight(desired, cancellationToken);
            var addresses = AddressPlanner.Plan(merged.Routers, merged.Links, desired.AddressPools, ExistingAddresses(snapshot));
            RoutingPlanner.Apply(addresses, merged.Routers, merged.Links, desired.Networks, snapshot.Inventory);
            var plan = Planner.Plan(desired, snapshot.Inventory, addresses, Backend.Capabilities.BandwidthGranularity, ManagesLabHosts);
            var stateSteps = plan.Steps.Where(s => s.Action == PlanAction.SetLinkState).ToList();
            if (stateSteps.Count > 0 && !(Backend is ILinkStateControl))
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, stateSteps[0].Target,
                    $"The {Backend.Kind} backend cannot disable or enable links, but the topology sets the state of link(s) " +
                    string.Join(", ", stateSteps.Select(s => "'" + s.Target + "'")) + ".")
                { RecommendedAction = "Leave out the links' \"state\" (or declare \"up\") for this backend." };
            plan.Warnings.InsertRange(0, snapshot.Inventory.Warnings);
            // Admission: before anything is created, the hosts must be able to take what the plan creates and starts.
            Admit(AdmissionPlanner.For(plan, snapshot.Inventory), force, cancellationToken);
            Note($"Planned {plan.Steps.Count} step(s) to reach the topology" + (string.IsNullOrEmpty(desired.SourceName) ? "" : $" of {desired.SourceName}"));
            return plan;
        }

        /// <summary>Asks a backend that can check its prerequisites to do so before anything is created.</summary>
        private void Preflight(TopologySpec desired, CancellationToken cancellationToken) =>
            (Backend as IPreflightCheck)?.EnsureReady(desired, cancellationToken);

        /// <summary>Plans removal of the named networks (all when null).</summary>
        public DeploymentPlan PlanRemoval(Snapshot snapshot, IReadOnlyCollection<VirtualNetwork> networks) =>
            Planner.PlanRemoval(snapshot.Inventory, networks, ManagesLabHosts);

        /// <summary>
        /// Plans removal of <paramref name="networks"/> and of the deploy-created lab hosts of the network identities
        /// <paramref name="names"/> (labels whose routers may all be gone already).
        /// </summary>
        public DeploymentPlan PlanRemoval(Snapshot snapshot, IReadOnlyCollection<VirtualNetwork> networks, IReadOnlyCollection<string>? names) =>
            Planner.PlanRemoval(snapshot.Inventory, networks, ManagesLabHosts, names);

        /// <summary>
        /// What a removal by name takes: every network identity (base name) that <paramref name="matches"/> accepts, with all
        /// of its fragments (components named "x", "x#2", ... whose routers carry the label x), or only the fragments whose own
        /// name it accepts; and identities that have no router left but deploy-created lab hosts that still list them
        /// (<see cref="VirtualHost.DeployedFor"/>) and that a removal would take. Ordered by name.
        /// </summary>
        public static IReadOnlyList<RemovalTarget> SelectForRemoval(Snapshot snapshot, Func<string, bool> matches, bool manageLabHosts)
        {
            if (snapshot == null) throw new ArgumentNullException(nameof(snapshot));
            if (matches == null) throw new ArgumentNullException(nameof(matches));
            var targets = new Dictionary<string, RemovalTarget>(StringComparer.OrdinalIgnoreCase);
            foreach (var group in snapshot.Networks.GroupBy(n => string.IsNullOrEmpty(n.BaseName) ? Planner.BaseNameOf(n.Name) : n.BaseName, StringComparer.OrdinalIgnoreCase))
            {
                var all = group.OrderBy(n => n.Name, StringComparer.OrdinalIgnoreCase).ToList();
                var chosen = matches(group.Key) ? all : all.Where(n => matches(n.Name)).ToList();
                if (chosen.Count == 0) continue;
                targets[group.Key] = new RemovalTarget(group.Key, chosen, all.Count, Array.Empty<string>());
            }
            if (manageLabHosts)
            {
                var noRouters = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var h in snapshot.Hosts.Where(h => h.IsLabHost && h.CreatedByDeployment))
                    foreach (var n in h.DeployedFor)
                        if (!targets.ContainsKey(n) && matches(n)) noRouters.Add(n);
                foreach (var n in noRouters)
                {
                    var hosts = Planner.RemovableLabHosts(snapshot.Inventory, Array.Empty<string>(), new HashSet<string>(StringComparer.OrdinalIgnoreCase) { n });
                    if (hosts.Count > 0) targets[n] = new RemovalTarget(n, Array.Empty<VirtualNetwork>(), 0, hosts);
                }
            }
            return targets.Values.OrderBy(t => t.Name, StringComparer.OrdinalIgnoreCase).ToList();
        }

        /// <summary>Applies a plan; ShouldProcess and progress go through <paramref name="observer"/>.</summary>
        public ApplyResult Apply(DeploymentPlan plan, IPlanObserver observer, CancellationToken cancellationToken)
        {
            using var exclusive = Exclusive(cancellationToken);
            return PlanExecutor.Apply(plan, Backend, Log == null ? observer : new LoggingObserver(this, observer), cancellationToken);
        }

        /// <summary>Pushes addresses/routes to every router whose configuration no longer matches the link graph.</summary>
        public int Reconfigure(Snapshot snapshot, CancellationToken cancellationToken)
        {
            if (!Backend.Capabilities.SupportsRouterConfiguration) return 0;
            var topo = snapshot.ToTopology();
            var addresses = AddressPlanner.Plan(topo.Routers, topo.Links, new AddressPools(), ExistingAddresses(snapshot));
            // No networks section here: every network keeps the routing its routers run (derived from the applied configurations).
            RoutingPlanner.Apply(addresses, topo.Routers, topo.Links, null, snapshot.Inventory);
            var steps = Planner.PlanConfiguration(addresses, snapshot.Inventory, onlyRouters: null);
            foreach (var step in steps)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Note($"{step.Description} on '{step.Target}'");
                step.Run(Backend, cancellationToken);
            }
            return steps.Count;
        }

        private static Dictionary<string, (string From, string To)> ExistingAddresses(Snapshot snapshot)
        {
            var map = new Dictionary<string, (string From, string To)>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in snapshot.Links)
                if (!string.IsNullOrEmpty(l.FromAddress) && !string.IsNullOrEmpty(l.ToAddress))
                    map[l.Name] = (l.FromAddress!, l.ToAddress!);
            return map;
        }

        /// <summary>Desired objects replace observed ones of the same name; observed objects not mentioned stay.</summary>
        private static TopologySpec Merge(TopologySpec desired, Snapshot snapshot)
        {
            var merged = new TopologySpec { AddressPools = desired.AddressPools, SourceName = desired.SourceName };
            merged.Hosts.AddRange(desired.Hosts);
            var observed = snapshot.ToTopology();
            var hostNames = new HashSet<string>(desired.Hosts.Select(h => h.Name), StringComparer.OrdinalIgnoreCase);
            merged.Hosts.AddRange(observed.Hosts.Where(h => !hostNames.Contains(h.Name)));
            var routerNames = new HashSet<string>(desired.Routers.Select(r => r.Name), StringComparer.OrdinalIgnoreCase);
            merged.Routers.AddRange(desired.Routers);
            merged.Routers.AddRange(observed.Routers.Where(r => !routerNames.Contains(r.Name)));
            var linkNames = new HashSet<string>(desired.Links.Select(l => l.Name), StringComparer.OrdinalIgnoreCase);
            merged.Links.AddRange(observed.Links.Where(l => !linkNames.Contains(l.Name)));
            merged.Links.AddRange(desired.Links);
            merged.PhysicalLinks.AddRange(desired.PhysicalLinks);
            merged.Networks.AddRange(desired.Networks);
            var physical = new HashSet<string>(desired.PhysicalLinks.Select(p => PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To))),
                StringComparer.OrdinalIgnoreCase);
            merged.PhysicalLinks.AddRange(observed.PhysicalLinks.Where(p => !physical.Contains(PhysicalLink.NameOf(HostNames.Canonical(p.From), HostNames.Canonical(p.To)))));
            return merged;
        }

        private void ThrowIfInvalid(TopologySpec merged, Snapshot snapshot, bool force, string? relevantTo)
        {
            // A lab host the deployment will create does not exist yet: lab hosts share the local machine's disk, so
            // their images are checked there.
            var pending = ManagesLabHosts
                ? new HashSet<string>(merged.Hosts.Where(h => !HostNames.IsLocalHost(h.Name) && snapshot.FindHost(h.Name) == null).Select(h => h.Name),
                    StringComparer.OrdinalIgnoreCase)
                : new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var context = new ValidationContext
            {
                Capabilities = Backend.Capabilities,
                ImageExists = (image, host) => Backend.ImageExists(image, pending.Contains(host) ? "" : host),
                DescribeMissingImage = (image, host) => (Backend as IImageCatalog)?.DescribeMissingImage(image),
                Observed = snapshot.Inventory,
                Force = force,
            };
            foreach (var h in snapshot.Inventory.Hosts) context.KnownHosts.Add(h.Name);
            var errors = TopologyValidator.Validate(merged, context);
            if (relevantTo != null && errors.Count > 1)
            {
                // Single-object commands: put the errors about the new object first.
                errors = errors.OrderBy(e => string.Equals(e.Target, relevantTo, StringComparison.OrdinalIgnoreCase) ? 0 : 1).ToList();
            }
            if (errors.Count > 0) throw new TopologyValidationException(errors);
        }

        // ------------------------------------------------------------------------------------------------ export

        /// <summary>The observed state of the named networks (all when null) as a topology file model.</summary>
        /// <remarks>
        /// Disabled links carry their state, and the networks whose routers run dynamic routing get a <c>networks</c> entry
        /// with their settings, so deploying the exported file again plans no change.
        /// </remarks>
        public static TopologySpec ExportTopology(Snapshot snapshot, IReadOnlyCollection<string>? networkNames)
        {
            var spec = snapshot.ToTopology(networkNames);
            var wanted = snapshot.Networks.Where(n => networkNames == null || networkNames.Contains(n.Name, StringComparer.OrdinalIgnoreCase)).ToList();
            spec.Networks.AddRange(RoutingPlanner.Derive(wanted, snapshot.Inventory.Configurations));
            return spec;
        }
    }
}
