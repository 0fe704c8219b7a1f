using System;
using System.Collections.Generic;
using System.Threading;

namespace VirtualNetworks.Backends
{
    /// <summary>
    /// A backend that can check, before anything is created, that everything a topology needs is present (binaries,
    /// kernel features, images). Throws one <see cref="VirtualNetworksException"/> naming what is missing and how to
    /// install it.
    /// </summary>
    public interface IPreflightCheck
    {
        void EnsureReady(TopologySpec desired, CancellationToken cancellationToken);
    }

    /// <summary>
    /// A backend that starts several routers in one call so that their start-up overlaps (the Linux backend prepares every
    /// router's links first, then launches the QEMU processes together and waits for them together). The engine hands it
    /// a run of StartRouter steps after each of them has passed ShouldProcess; a backend without it gets one
    /// <see cref="IVirtualizationBackend.StartRouter"/> call per step.
    /// </summary>
    public interface IRouterBatchStarter
    {
        /// <summary>
        /// Starts <paramref name="names"/>. Every router succeeds or fails on its own: the result has one entry per name,
        /// in the same order, null when that router was started (or already ran), else the exception that stopped it
        /// (an <see cref="OperationCanceledException"/> for a router not started because of cancellation). One router's
        /// failure does not stop the others. Throws only when no router was started at all (e.g. the state is locked).
        /// </summary>
        IReadOnlyList<Exception?> StartRouters(IReadOnlyList<string> names, CancellationToken cancellationToken);
    }

    /// <summary>
    /// A backend whose state can be held exclusively across several calls (the Linux backend: its state directory's lock),
    /// so that a command observes, plans and applies against one consistent view: a concurrent command waits (bounded)
    /// rather than planning against state that is about to change (two deployments handing out the same addresses).
    /// Re-entrant on one backend instance: the backend's own calls inside the held region do not wait for themselves.
    /// </summary>
    public interface IExclusiveAccess
    {
        /// <summary>Takes exclusive access, waiting (bounded) while another command holds it; dispose to release.</summary>
        IDisposable AcquireExclusive(CancellationToken cancellationToken);
    }

    /// <summary>
    /// A backend that stops several routers in one call so that their shutdowns overlap (the Linux backend presses every
    /// router's power button, then waits for all of them together: N graceful stops take about as long as one). The
    /// engine hands it the routers of a Stop-VirtualRouter pipeline after each of them has passed ShouldProcess; a backend
    /// without it gets one <see cref="IVirtualizationBackend.StopRouter"/> call per router.
    /// </summary>
    public interface IRouterBatchStopper
    {
        /// <summary>
        /// Stops <paramref name="names"/> as <see cref="IVirtualizationBackend.StopRouter"/> does each (graceful, or hard
        /// power-off with <paramref name="turnOff"/>). The result has one entry per name, in the same order: null when that
        /// router is off now, else the exception that stopped it (naming the router). One router's failure does not stop
        /// the others.
        /// </summary>
        IReadOnlyList<Exception?> StopRouters(IReadOnlyList<string> names, bool turnOff, CancellationToken cancellationToken);
    }

    /// <summary>
    /// A backend that removes several routers in one call so that their removal overlaps (the Linux backend turns off and
    /// deletes them on a bounded number of threads under one state lock). The engine hands it a run of RemoveRouter steps
    /// after each of them has passed ShouldProcess; a backend without it gets one <see cref="IVirtualizationBackend.RemoveRouter"/>
    /// call per step.
    /// </summary>
    public interface IRouterBatchRemover
    {
        /// <summary>
        /// Removes <paramref name="names"/> as <see cref="IVirtualizationBackend.RemoveRouter"/> does each. Every router succeeds
        /// or fails on its own: the result has one entry per name, in the same order, null when that router was removed,
        /// else the exception that stopped it (an <see cref="OperationCanceledException"/> for a router not touched because
        /// of cancellation). Throws only when no router was touched at all (e.g. the state is locked).
        /// </summary>
        IReadOnlyList<Exception?> RemoveRouters(IReadOnlyList<string> names, CancellationToken cancellationToken);
    }

    /// <summary>
    /// A backend that removes several links in one call so that their removal overlaps (the Linux backend removes links
    /// that share no router on a bounded number of threads under one state lock: unplugging an adapter from a running
    /// guest waits for the guest). The engine hands it a run of RemoveLink steps after each of them has passed
    /// ShouldProcess (in a removal plan, also the RemoveRouter steps that follow); a backend without it gets one
    /// <see cref="IVirtualizationBackend.RemoveLink"/> call per step.
    /// </summary>
    public interface ILinkBatchRemover
    {
        /// <summary>
        /// Removes <paramref name="names"/> as <see cref="IVirtualizationBackend.RemoveLink"/> does each; the result has one
        /// entry per name, in the same order, as <see cref="IRouterBatchRemover.RemoveRouters"/>.
        /// <paramref name="routersRemovedNext"/> are routers whose removal the same plan runs right after these links (each
        /// already approved): the backend need not detach the links from them gracefully (the Linux backend turns them off
        /// first, so no adapter is unplugged from a guest that is about to go).
        /// </summary>
        IReadOnlyList<Exception?> RemoveLinks(IReadOnlyList<string> names, IReadOnlyCollection<string> routersRemovedNext, CancellationToken cancellationToken);
    }

    /// <summary>
    /// What a change asks of the hosts' resources, for <see cref="IAdmissionControl"/>: the routers it creates and the
    /// routers it starts (their QEMU or VM does not run now: new ones, and existing ones that are off or failed). Routers
    /// that already run are not in <see cref="Starts"/>: what they use is already taken from the host.
    /// </summary>
    public sealed class AdmissionRequest
    {
        /// <summary>Routers the change creates (name, host, memory, processors).</summary>
        public List<RouterSpec> Creates { get; } = new List<RouterSpec>();
        /// <summary>Routers the change starts, with the memory and host they will start with.</summary>
        public List<RouterSpec> Starts { get; } = new List<RouterSpec>();
        public bool IsEmpty => Creates.Count == 0 && Starts.Count == 0;
    }

    /// <summary>
    /// A backend that refuses, before anything is created or started, a change its hosts cannot take (memory, number of
    /// routers). The engine asks it for Deploy-VirtualNetwork's plan, New-VirtualRouter and Start-VirtualRouter, and skips
    /// it when the user gave -Force.
    /// </summary>
    public interface IAdmissionControl
    {
        /// <summary>
        /// Throws one <see cref="VirtualNetworksException"/> (naming the host, what the change needs and what the host has)
        /// when <paramref name="request"/> does not fit; returns when it does.
        /// </summary>
        void Admit(AdmissionRequest request, CancellationToken cancellationToken);
    }

    /// <summary>
    /// A backend that finds router images by name on a search path (the Linux backend): it lists the images it can find
    /// (tab completion of -Image) and explains a miss, naming every folder searched and how to build or install an image.
    /// Images of a lab host are those of the machine it runs on.
    /// </summary>
    public interface IImageCatalog
    {
        /// <summary>The folders searched for images, in order.</summary>
        IReadOnlyList<string> ImageSearchPath { get; }

        /// <summary>The images found (name, and the folder or file it is in), sorted by name; never throws for what is on disk.</summary>
        IReadOnlyList<KeyValuePair<string, string>> ListImages();

        /// <summary>Where <paramref name="image"/> was looked for and how to get it, for an ImageNotFound error.</summary>
        ImageSearchReport DescribeMissingImage(string image);
    }

    /// <summary>Why an image was not found: the folders searched (a sentence fragment) and how to build or install one.</summary>
    public sealed class ImageSearchReport
    {
        public ImageSearchReport(string searched, string recommendedAction)
        {
            Searched = searched;
            RecommendedAction = recommendedAction;
        }

        /// <summary>E.g. "searched, in order: /var/lib/virtualnetworks/images (per machine), ...".</summary>
        public string Searched { get; }
        public string RecommendedAction { get; }
    }

    /// <summary>A backend that can measure a link's throughput through the guests.</summary>
    public interface ILinkMeter
    {
        /// <summary>Sends traffic from one end to the other for about <paramref name="duration"/> and measures goodput.</summary>
        LinkMeasurement MeasureLink(string linkName, bool reverse, TimeSpan duration, CancellationToken cancellationToken);
    }

    /// <summary>What a readiness wait saw of one router's guest (<see cref="IRouterReadiness"/>).</summary>
    public sealed class GuestReadiness
    {
        /// <summary>True when the guest has booted and applied its configuration (or booted without one to apply).</summary>
        public bool Ready { get; set; }
        /// <summary>The guest's uptime when it was seen ready; null when the backend cannot tell.</summary>
        public TimeSpan? Uptime { get; set; }
        /// <summary>When not ready: what was seen last (the guest's last answer or the reason there was none, the end of its console).</summary>
        public string? LastSeen { get; set; }
    }

    /// <summary>
    /// A backend that can tell when a running router's guest is ready: booted and its configuration (addresses, routes)
    /// applied (the Linux backend: the guest's command channel answers "ready" with configuration state ok). The engine
    /// checks that the router runs before it asks, and waits for several routers at once on a bounded number of threads,
    /// so the method must be safe to call concurrently for different routers.
    /// </summary>
    public interface IRouterReadiness
    {
        /// <summary>
        /// Waits until the guest of <paramref name="name"/> is ready, at most <paramref name="timeout"/>. Returns Ready with the
        /// guest's uptime, or, once the time is up, not Ready with what was seen last. Throws
        /// <see cref="ErrorIds.RouterNotRunning"/> when the router does not run (or stops while waited for) and
        /// <see cref="ErrorIds.RouterNotReady"/> when the guest reports that its configuration failed (waiting longer would not help).
        /// </summary>
        GuestReadiness WaitUntilReady(string name, TimeSpan timeout, CancellationToken cancellationToken);
    }

    /// <summary>What a stream of probes from inside a router saw (<see cref="IProbeStream"/>): raw, summarised by the engine.</summary>
    public sealed class ProbeStreamAnswer
    {
        /// <summary>Probes sent.</summary>
        public int Sent { get; set; }
        /// <summary>The round trip (ms) of every answered probe, by its sequence number (0 = first probe sent).</summary>
        public IDictionary<int, double> RoundTrips { get; set; } = new Dictionary<int, double>();
        /// <summary>The last line of the probe's output or the reason it could not run; for messages.</summary>
        public string? Detail { get; set; }
    }

    /// <summary>
    /// A backend that can send a stream of probes (ping) from inside a running router, one every interval, and tell which
    /// were answered: for measuring forwarding gaps (during a live migration, say). It must not hold the backend's state
    /// lock while the probes run, so that it runs alongside changes (Move-VirtualRouter) from other threads or processes.
    /// </summary>
    public interface IProbeStream
    {
        /// <summary>
        /// Sends <paramref name="count"/> probes from inside <paramref name="fromRouter"/> to <paramref name="address"/>, one
        /// every <paramref name="interval"/>, and returns which were answered. The engine validates the arguments (the
        /// address is an IP address; count and interval within <see cref="ProbeStreamLimits"/>) before it calls. Throws
        /// <see cref="ErrorIds.RouterNotRunning"/> when the router does not run.
        /// </summary>
        ProbeStreamAnswer ProbeStream(string fromRouter, string address, int count, TimeSpan interval, CancellationToken cancellationToken);

        /// <summary>
        /// The addresses (CIDR) the router's configuration gives its interfaces, as the backend recorded them, without
        /// contacting any VM (so that it answers at once while the router or a neighbour is being changed). Throws
        /// <see cref="ErrorIds.RouterNotFound"/> for a router that does not exist.
        /// </summary>
        IReadOnlyList<string> AddressesOf(string router);
    }

    /// <summary>
    /// A backend that sends many reachability probes from one router in one call (the Linux backend: the guest's
    /// <c>probe</c> command pings up to 64 addresses concurrently in one channel round trip). Test-VirtualNetwork hands it
    /// all the addresses one source router probes, and calls it for several source routers at once on a bounded number of
    /// threads, so it must be safe to call concurrently for different routers and must not hold the backend's state lock
    /// while the probes run. A backend without it gets one <see cref="IVirtualizationBackend.Probe"/> call per address.
    /// </summary>
    public interface IBatchProbe
    {
        /// <summary>
        /// Probes every address of <paramref name="addresses"/> (IP addresses without prefix length) from inside
        /// <paramref name="fromRouter"/>, each as <see cref="IVirtualizationBackend.Probe"/> would. The result has one entry
        /// per address, in the same order (the same address asked twice is answered twice). A router that does not run
        /// gives every address an unreachable result with the reason in its Detail, as Probe does; an address the guest
        /// could not be asked about (a failed round trip) is unreachable with the failure in its Detail. Throws
        /// <see cref="VirtualNetworksException"/> only when nothing could be probed at all (e.g. the router does not exist, its
        /// guest did not answer). It waits for the source router's guest to be ready but not for the routers that own the
        /// addresses: Test-VirtualNetwork waits for every running router first (<see cref="IRouterReadiness"/>, when the
        /// backend has it), where a single Probe waits for the owner of its address each time.
        /// </summary>
        IReadOnlyList<ProbeResult> ProbeMany(string fromRouter, IReadOnlyList<string> addresses, CancellationToken cancellationToken);
    }

    /// <summary>The bounds of a probe stream, checked by the engine before anything reaches a guest.</summary>
    public static class ProbeStreamLimits
    {
        public const int MinimumCount = 1;
        public const int MaximumCount = 1000;
        public const int MinimumIntervalMilliseconds = 10;
        public const int MaximumIntervalMilliseconds = 10_000;
        /// <summary>The longest stream (count × interval) in seconds: the guest bounds a ping at 600 s including its wait for the last answer.</summary>
        public const int MaximumDurationSeconds = 590;
    }

    /// <summary>
    /// A backend that can create lab hosts (on Linux: network namespaces standing in for machines) and the physical
    /// links between them (veth pairs with addresses; hosts route for each other). Every method is idempotent with
    /// respect to its end state.
    /// </summary>
    public interface ILabHostManager
    {
        /// <summary>Creates a lab host; <paramref name="byDeployment"/> marks it for removal by Remove-VirtualNetwork once unused.</summary>
        void CreateLabHost(string name, bool byDeployment, CancellationToken cancellationToken);
        /// <summary>
        /// Creates a lab host, or checks and repairs an existing one (namespace, underlay address and settings, its
        /// physical links, underlay routes), and adds <paramref name="deployedFor"/> (network labels) to the networks
        /// recorded as deployed on it (<see cref="VirtualHost.DeployedFor"/>); an existing host keeps its
        /// <see cref="VirtualHost.CreatedByDeployment"/>. The names are recorded before the host is created or changed.
        /// </summary>
        void CreateLabHost(string name, bool byDeployment, IReadOnlyCollection<string> deployedFor, CancellationToken cancellationToken);
        /// <summary>Removes a lab host that runs no router (its physical links go with it).</summary>
        void RemoveLabHost(string name, CancellationToken cancellationToken);
        /// <summary>Creates the physical link between two hosts (addresses and underlay routes included); an existing one is checked and repaired.</summary>
        void CreatePhysicalLink(PhysicalLinkSpec spec, CancellationToken cancellationToken);
        /// <summary>Removes the physical link between two hosts.</summary>
        void RemovePhysicalLink(string from, string to, CancellationToken cancellationToken);
    }

    /// <summary>A backend that can find and remove its own leftovers after a crash.</summary>
    public interface IOrphanCollector
    {
        /// <summary>
        /// Tagged resources that no consistent router or link owns; with <paramref name="includeOwned"/> every
        /// resource the module owns on the host (a full reset).
        /// </summary>
        IReadOnlyList<OrphanResource> FindOrphans(bool includeOwned, CancellationToken cancellationToken);

        /// <summary>Removes one resource found by <see cref="FindOrphans"/>, re-checking its tag first.</summary>
        void RemoveOrphan(OrphanResource resource, CancellationToken cancellationToken);
    }
}

namespace VirtualNetworks
{
    /// <summary>Kinds of resources an orphan scan can find.</summary>
    public enum OrphanKind
    {
        Process,
        Interface,
        Socket,
        RunFile,
        StateFile,
        Disk,
        /// <summary>A virtual machine (Hyper-V).</summary>
        VirtualMachine,
        /// <summary>A virtual switch (Hyper-V fabric switch).</summary>
        VirtualSwitch,
        /// <summary>A VM network adapter (Hyper-V synthetic NIC).</summary>
        NetworkAdapter,
    }

    /// <summary>One leftover the module owns (by its tag) that clean-up can remove.</summary>
    public sealed class OrphanResource
    {
        public OrphanKind Kind { get; set; }
        /// <summary>Interface name, pid, or file path.</summary>
        public string Name { get; set; } = "";
        /// <summary>The router or link the resource belonged to, when known.</summary>
        public string? Owner { get; set; }
        /// <summary>Why it is considered an orphan.</summary>
        public string Reason { get; set; } = "";
        public string ComputerName { get; set; } = "";
        public override string ToString() => Kind + " " + Name;
    }
}
