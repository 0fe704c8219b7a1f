using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// A strict, thread-safe, in-memory test double of <see cref="IVirtualizationBackend"/>. It lives under tests/ only
    /// and is injected through <c>BackendRegistry.TestOverride</c> by the tests; users can never select it.
    /// </summary>
    /// <remarks>
    /// <para>Strict means: every call is checked the way a real host would check it, and a call the engine should never
    /// make (creating what exists, an illegal state transition, an adapter beyond the limit, a link to a missing router,
    /// removing a router that still has links, a bandwidth outside the capabilities, ...) throws a
    /// <see cref="VirtualNetworksException"/>, so engine or cmdlet mistakes surface as test failures instead of being
    /// absorbed. Removing something that is already gone is not an error (the backend contract says so).</para>
    /// <para><see cref="Probe"/> is a real forwarding walk over the stored router configurations, so reachability
    /// tests genuinely check the engine's addressing and static routes.</para>
    /// <para><see cref="IDisposable.Dispose"/> only counts: the tests hand the same instance to every command, and a
    /// command disposing its backend must not wipe the state the next command observes.</para>
    /// </remarks>
    public sealed class InMemoryBackend : IVirtualizationBackend, ILabHostManager, IRouterReadiness, IProbeStream, IBackendDiagnostics,
        ILinkStateControl, IRoutingReader
    {
        public const string KindName = "Test";
        public const string RouterImage = "router";
        public const int HopLimit = 32;

        private static readonly StringComparer Names = StringComparer.OrdinalIgnoreCase;

        private static readonly HashSet<string> MutatingMethods = new HashSet<string>(Names)
        {
            nameof(CreateRouter), nameof(RemoveRouter), nameof(StartRouter), nameof(StopRouter), nameof(SuspendRouter),
            nameof(ResumeRouter), nameof(ConfigureRouter), nameof(MoveRouter), nameof(CreateLink), nameof(RemoveLink),
            nameof(SetLinkBandwidth), nameof(CreateLabHost), nameof(RemoveLabHost), nameof(CreatePhysicalLink), nameof(RemovePhysicalLink),
            nameof(SetLinkState),
        };

        private readonly object _gate = new object();
        private readonly Dictionary<string, RouterRecord> _routers = new Dictionary<string, RouterRecord>(Names);
        private readonly Dictionary<string, LinkRecord> _links = new Dictionary<string, LinkRecord>(Names);
        private readonly Dictionary<string, RouterConfiguration> _configurations = new Dictionary<string, RouterConfiguration>(Names);
        private readonly List<string> _hosts = new List<string>();
        /// <summary>Lab hosts (a subset of <see cref="_hosts"/>), by name: created by a deployment or not, underlay address.</summary>
        private readonly Dictionary<string, LabHostRecord> _labHosts = new Dictionary<string, LabHostRecord>(Names);
        private readonly List<PhysicalRecord> _physical = new List<PhysicalRecord>();
        private int _nextUnderlay;
        private readonly List<string> _calls = new List<string>();
        private readonly Dictionary<string, int> _callCounts = new Dictionary<string, int>(Names);
        private readonly List<Fault> _faults = new List<Fault>();
        private int _mutatingCalls;
        private int _nextId;
        private int _disposeCount;

        public InMemoryBackend()
        {
            _hosts.Add(HostNames.LocalName);
            Capabilities = new BackendCapabilities
            {
                MaxAdaptersPerRouter = 4,
                MinimumBandwidth = 8_000,
                MaximumBandwidth = 10_000_000_000,
                MinMemoryMB = 32,
                MaxMemoryMB = 65_536,
                DefaultMemoryMB = 128,
                MaxProcessorCount = 64,
                SupportsVlanTagging = false,
                SupportsLiveMigration = true,
                SupportsColdMigration = true,
                SupportsRouterConfiguration = true,
                SupportsProbes = true,
            };
        }

        public string Kind => KindName;
        public BackendCapabilities Capabilities { get; }

        // ============================================================================================ test controls

        /// <summary>Delay applied inside every mutating call (honours the cancellation token). Zero = none.</summary>
        public TimeSpan MutatingCallDelay { get; set; }

        /// <summary>Raised (outside the lock, on the calling thread) after a mutating call has been logged, before it runs.</summary>
        public event Action<string>? MutatingCallStarted;

        /// <summary>Fails the <paramref name="nth"/> (1-based) call of <paramref name="method"/> with <paramref name="error"/>.</summary>
        public void FailOn(string method, int nth, VirtualNetworksException error)
        {
            if (nth < 1) throw new ArgumentOutOfRangeException(nameof(nth));
            lock (_gate) _faults.Add(new Fault(method, nth, error));
        }

        /// <summary>Adds a known host besides the local one (for host-related tests).</summary>
        public void AddHost(string name)
        {
            lock (_gate) if (!_hosts.Contains(name, Names)) _hosts.Add(name);
        }

        /// <summary>Every call in order, e.g. "CreateRouter r1", "StopRouter r1 turnOff=False", "GetInventory".</summary>
        public IReadOnlyList<string> Calls { get { lock (_gate) return _calls.ToArray(); } }

        /// <summary>Calls that change (or try to change) state, including ones that failed.</summary>
        public int MutatingCallCount { get { lock (_gate) return _mutatingCalls; } }

        /// <summary>The mutating calls only, in order.</summary>
        public IReadOnlyList<string> MutatingCalls
        {
            get { lock (_gate) return _calls.Where(c => MutatingMethods.Contains(c.Split(' ')[0])).ToArray(); }
        }

        public int CallCount(string method) { lock (_gate) return _callCounts.TryGetValue(method, out var n) ? n : 0; }

        public int DisposeCount { get { lock (_gate) return _disposeCount; } }

        public IReadOnlyList<string> HostList { get { lock (_gate) return _hosts.OrderBy(n => n, Names).ToArray(); } }

        /// <summary>The lab hosts, sorted.</summary>
        public IReadOnlyList<string> LabHostNames { get { lock (_gate) return _labHosts.Keys.OrderBy(n => n, Names).ToArray(); } }

        /// <summary>The physical links as canonical names ("a--b"), sorted.</summary>
        public IReadOnlyList<string> PhysicalLinkNames { get { lock (_gate) return _physical.Select(p => PhysicalLink.NameOf(p.From, p.To)).OrderBy(n => n, Names).ToArray(); } }

        /// <summary>The host a router runs on.</summary>
        public string? HostOf(string router) { lock (_gate) return _routers.TryGetValue(router, out var r) ? r.Host : null; }

        public IReadOnlyList<string> RouterNames { get { lock (_gate) return _routers.Values.Select(r => r.Name).OrderBy(n => n, Names).ToArray(); } }
        public IReadOnlyList<string> LinkNames { get { lock (_gate) return _links.Values.Select(l => l.Name).OrderBy(n => n, Names).ToArray(); } }

        public RouterState StateOf(string router)
        {
            lock (_gate) return _routers.TryGetValue(router, out var r) ? r.State : RouterState.Unknown;
        }

        /// <summary>Forces a router's state without logging a call (to simulate drift).</summary>
        public void SetStateForTest(string router, RouterState state)
        {
            lock (_gate) RequireRouter(router).State = state;
        }

        public RouterConfiguration? ConfigurationOf(string router)
        {
            lock (_gate) return _configurations.TryGetValue(router, out var c) ? Copy(c) : null;
        }

        public long? BandwidthOf(string link)
        {
            lock (_gate) return _links.TryGetValue(link, out var l) ? l.MaximumBandwidth : null;
        }

        // ============================================================================================ contract

        public BackendInventory GetInventory(CancellationToken cancellationToken)
        {
            Enter(nameof(GetInventory), "", cancellationToken);
            lock (_gate)
            {
                var inv = new BackendInventory();
                foreach (var h in _hosts)
                {
                    _labHosts.TryGetValue(h, out var lab);
                    inv.Hosts.Add(new VirtualHost
                    {
                        Name = h,
                        Kind = KindName,
                        IsLabHost = lab != null,
                        CreatedByDeployment = lab?.ByDeployment ?? false,
                        DeployedFor = lab?.DeployedFor.ToArray() ?? Array.Empty<string>(),
                        UnderlayAddress = lab?.UnderlayAddress,
                    });
                }
                foreach (var p in _physical)
                    inv.PhysicalLinks.Add(new PhysicalLink { From = p.From, To = p.To, FromAddress = p.FromAddress, ToAddress = p.ToAddress, Id = p.Id });
                foreach (var r in _routers.Values.OrderBy(r => r.Name, Names))
                {
                    inv.Routers.Add(new VirtualRouter
                    {
                        Name = r.Name,
                        ComputerName = r.Host,
                        State = r.State,
                        NetworkLabel = r.NetworkLabel,
                        AddressFamily = r.AddressFamily,
                        Image = r.Image,
                        ProcessorCount = r.ProcessorCount,
                        MemoryMB = r.MemoryMB,
                        Id = r.Id,
                        Backend = KindName,
                    });
                }
                foreach (var l in _links.Values.OrderBy(l => l.Name, Names))
                {
                    bool crossHost = !Names.Equals(_routers[l.From].Host, _routers[l.To].Host);
                    inv.Links.Add(new VirtualLink
                    {
                        Name = l.Name,
                        From = l.From,
                        To = l.To,
                        FromComputerName = _routers[l.From].Host,
                        ToComputerName = _routers[l.To].Host,
                        MaximumBandwidth = l.MaximumBandwidth,
                        VlanId = l.VlanId,
                        // Like the Linux backend: a tunnel (VNI) once the ends are on different hosts. UnderlayPath is
                        // left empty on purpose: the engine fills it from the physical links.
                        Transport = crossHost ? LinkTransport.Vxlan : LinkTransport.Bridge,
                        TunnelId = crossHost ? l.Vni : (int?)null,
                        State = l.State,
                        FromAddress = AddressOn(l.From, l.Name),
                        ToAddress = AddressOn(l.To, l.Name),
                        Id = l.Id,
                    });
                }
                foreach (var kv in _configurations) inv.Configurations[kv.Key] = Copy(kv.Value);
                return inv;
            }
        }

        public bool ImageExists(string image, string host)
        {
            Enter(nameof(ImageExists), image + " " + host, CancellationToken.None);
            lock (_gate)
                return string.Equals(image, RouterImage, StringComparison.Ordinal) && IsKnownHost(host);
        }

        /// <summary>Where the test double "keeps" its state, for the engine's log: the hosts it knows.</summary>
        public IReadOnlyList<string> DescribeSetup()
        {
            lock (_gate) return new[] { "state in memory, hosts " + string.Join(", ", _hosts) };
        }

        /// <summary>The one image the double has, as a memory: path, for the engine's log; null for any other image or an unknown host.</summary>
        public string? DescribeImage(string image, string host)
        {
            lock (_gate)
                return string.Equals(image, RouterImage, StringComparison.Ordinal) && IsKnownHost(host) ? ImageLocation + image : null;
        }

        /// <summary>The prefix of what <see cref="DescribeImage"/> answers.</summary>
        public const string ImageLocation = "memory:/images/";

        public void CreateRouter(RouterSpec spec, CancellationToken cancellationToken)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            Enter(nameof(CreateRouter), spec.Name, cancellationToken);
            lock (_gate)
            {
                if (string.IsNullOrWhiteSpace(spec.Name) || NameRules.Check(spec.Name, "router") != null)
                    throw Error(ErrorIds.InvalidName, ErrorKind.InvalidArgument, spec.Name, $"Invalid router name '{spec.Name}'.");
                if (_routers.ContainsKey(spec.Name))
                    throw Error(ErrorIds.RouterAlreadyExists, ErrorKind.ResourceExists, spec.Name, $"Router '{spec.Name}' already exists.");
                if (!IsKnownHost(spec.Host))
                    throw Error(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, spec.Host, $"Host '{spec.Host}' is not known to the test backend.");
                if (!string.Equals(spec.Image, RouterImage, StringComparison.Ordinal))
                    throw Error(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, spec.Name, $"Image '{spec.Image}' does not exist.");
                int memoryMB = Capabilities.MemoryMBOf(spec);
                if (memoryMB < Capabilities.MinMemoryMB || memoryMB > Capabilities.MaxMemoryMB)
                    throw Error(ErrorIds.InvalidMemory, ErrorKind.InvalidArgument, spec.Name, $"Memory {memoryMB} MB out of range.");
                if (spec.ProcessorCount < 1 || spec.ProcessorCount > Capabilities.MaxProcessorCount)
                    throw Error(ErrorIds.InvalidProcessorCount, ErrorKind.InvalidArgument, spec.Name, $"Processor count {spec.ProcessorCount} out of range.");
                _routers[spec.Name] = new RouterRecord
                {
                    Name = spec.Name,
                    Host = HostNames.Canonical(spec.Host),
                    Image = spec.Image,
                    ProcessorCount = spec.ProcessorCount,
                    MemoryMB = memoryMB,
                    NetworkLabel = string.IsNullOrEmpty(spec.NetworkLabel) ? null : spec.NetworkLabel,
                    AddressFamily = spec.AddressFamily,
                    State = RouterState.Off,
                    Id = NewId("vr"),
                };
            }
        }

        public void RemoveRouter(string name, CancellationToken cancellationToken)
        {
            Enter(nameof(RemoveRouter), name, cancellationToken);
            lock (_gate)
            {
                if (!_routers.TryGetValue(name, out var r)) return; // already gone: not an error at this level
                var attached = _links.Values.Where(l => Names.Equals(l.From, r.Name) || Names.Equals(l.To, r.Name)).Select(l => l.Name).ToList();
                if (attached.Count > 0)
                    throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, r.Name,
                        $"Router '{r.Name}' still has links attached ({string.Join(", ", attached)}); remove them first.");
                _routers.Remove(r.Name);
                _configurations.Remove(r.Name);
            }
        }

        public void StartRouter(string name, CancellationToken cancellationToken)
        {
            Enter(nameof(StartRouter), name, cancellationToken);
            lock (_gate)
            {
                Transition(name, "start", RouterState.Running, RouterState.Off, RouterState.Failed);
                RequireRouter(name).StartedUtc = DateTime.UtcNow; // the guest boots from now (BootTime)
            }
        }

        public void StopRouter(string name, bool turnOff, CancellationToken cancellationToken)
        {
            Enter(nameof(StopRouter), name + " turnOff=" + turnOff.ToString(CultureInfo.InvariantCulture), cancellationToken);
            lock (_gate) Transition(name, turnOff ? "turn off" : "stop", RouterState.Off, RouterState.Running);
        }

        public void SuspendRouter(string name, CancellationToken cancellationToken)
        {
            Enter(nameof(SuspendRouter), name, cancellationToken);
            lock (_gate) Transition(name, "suspend", RouterState.Paused, RouterState.Running);
        }

        public void ResumeRouter(string name, CancellationToken cancellationToken)
        {
            Enter(nameof(ResumeRouter), name, cancellationToken);
            lock (_gate) Transition(name, "resume", RouterState.Running, RouterState.Paused);
        }

        public void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken)
        {
            if (configuration == null) throw new ArgumentNullException(nameof(configuration));
            Enter(nameof(ConfigureRouter), configuration.RouterName, cancellationToken);
            lock (_gate)
            {
                var r = RequireRouter(configuration.RouterName);
                foreach (var i in configuration.Interfaces)
                {
                    if (!_links.TryGetValue(i.LinkName, out var l) || !(Names.Equals(l.From, r.Name) || Names.Equals(l.To, r.Name)))
                        throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r.Name,
                            $"Router '{r.Name}' has no adapter on link '{i.LinkName}'.");
                    if (!Cidr.TryParse(i.Address, out var cidr) || !Cidr.TryParseAddress(i.PeerAddress, out var peer) || !cidr.Contains(peer))
                        throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r.Name,
                            $"Router '{r.Name}': interface on '{i.LinkName}' has address '{i.Address}' and peer '{i.PeerAddress}', which is not a valid pair.");
                    if (cidr.Family != r.AddressFamily)
                        throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r.Name,
                            $"Router '{r.Name}' is {r.AddressFamily} but got address '{i.Address}'.");
                }
                foreach (var rt in configuration.Routes)
                {
                    if (!Cidr.TryParse(rt.Destination, out _) || !Cidr.TryParseAddress(rt.NextHop, out _))
                        throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r.Name,
                            $"Router '{r.Name}': route '{rt.Destination} via {rt.NextHop}' is not valid.");
                    if (!configuration.Interfaces.Any(i => Names.Equals(i.LinkName, rt.LinkName)))
                        throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r.Name,
                            $"Router '{r.Name}': route '{rt.Destination}' leaves via '{rt.LinkName}', which is not one of its interfaces.");
                }
                if (configuration.Routing is RoutingConfiguration routing)
                {
                    // What the guest's "routing" line accepts (docs/guest-contract.md).
                    bool ok = routing.Protocol == RoutingProtocol.Ospf && Cidr.TryParseAddress(routing.RouterId, out var id) &&
                              id.AddressFamily == AddressFamily.InterNetwork &&
                              routing.HelloIntervalSeconds >= 1 && routing.HelloIntervalSeconds <= 65535 &&
                              routing.DeadIntervalSeconds >= 2 && routing.DeadIntervalSeconds <= 65535 &&
                              (!routing.Bfd || (routing.BfdIntervalMilliseconds >= 10 && routing.BfdIntervalMilliseconds <= 10000 &&
                                                routing.BfdMultiplier >= 2 && routing.BfdMultiplier <= 255)) &&
                              (routing.AuthenticationKey.Length == 0 ||
                               (routing.AuthenticationKey.Length == 64 && routing.AuthenticationKey.All(Uri.IsHexDigit)));
                    if (!ok)
                        throw Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r.Name,
                            $"Router '{r.Name}': the guest rejects '{routing.ToCanonicalString()}'.");
                }
                var copy = Copy(configuration);
                copy.RouterName = r.Name;
                bool wasOspf = _configurations.TryGetValue(r.Name, out var before) && before.Routing != null;
                _configurations[r.Name] = copy;
                if (copy.Routing != null && !wasOspf) ConfiguredOspfCount++;
            }
        }

        /// <summary>
        /// Live: the router must be Running (or Paused) and stays so; cold: a running router is stopped, moved and started
        /// again, a stopped one just moved. Progress is reported for each phase. The destination must be a known host other
        /// than the router's own, and every peer must be reachable from it over the physical links when there are any.
        /// </summary>
        public void MoveRouter(string name, string destinationHost, MigrationMode mode, IProgress<string>? progress, CancellationToken cancellationToken)
        {
            Enter(nameof(MoveRouter), name + " " + destinationHost + " " + mode, cancellationToken);
            RouterRecord r;
            lock (_gate)
            {
                r = RequireRouter(name);
                if (!IsKnownHost(destinationHost))
                    throw Error(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, destinationHost, $"Host '{destinationHost}' is not known to the test backend.");
                if (Names.Equals(HostNames.Canonical(destinationHost), r.Host))
                    throw Error(ErrorIds.RouterAlreadyOnHost, ErrorKind.InvalidArgument, name, $"Router '{name}' already runs on '{r.Host}'.");
                if (mode == MigrationMode.Live && r.State != RouterState.Running && r.State != RouterState.Paused)
                    throw Error(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, name, $"Cannot live-migrate router '{name}': it is {r.State}.");
            }
            string destination = HostNames.Canonical(destinationHost);
            progress?.Report($"Preparing taps, bridges and tunnels for {name} on {destination}");
            cancellationToken.ThrowIfCancellationRequested();
            lock (_gate)
            {
                if (mode == MigrationMode.Cold)
                {
                    var wasRunning = r.State == RouterState.Running;
                    r.State = RouterState.Off;
                    progress?.Report($"Moving the disk and state of {name} to {destination}");
                    r.Host = _hosts.First(h => Names.Equals(h, destination));
                    if (wasRunning)
                    {
                        r.State = RouterState.Running;
                        r.StartedUtc = DateTime.UtcNow; // a cold move boots the guest again
                    }
                }
                else
                {
                    progress?.Report($"Migrating the memory of {name}: 100%");
                    r.Host = _hosts.First(h => Names.Equals(h, destination));
                }
            }
            progress?.Report($"Repointing the peers' tunnels of {name} to {destination}");
            progress?.Report("Removing the leftovers on the source");
        }

        // ============================================================================================ lab hosts

        public void CreateLabHost(string name, bool byDeployment, CancellationToken cancellationToken) =>
            CreateLabHost(name, byDeployment, Array.Empty<string>(), cancellationToken);

        public void CreateLabHost(string name, bool byDeployment, IReadOnlyCollection<string> deployedFor, CancellationToken cancellationToken)
        {
            Enter(nameof(CreateLabHost), name + " byDeployment=" + byDeployment.ToString(CultureInfo.InvariantCulture), cancellationToken);
            lock (_gate)
            {
                if (NameRules.Check(name, "host") != null)
                    throw Error(ErrorIds.InvalidName, ErrorKind.InvalidArgument, name, $"Invalid host name '{name}'.");
                if (_labHosts.TryGetValue(name, out var existing))
                {
                    // Idempotent (the contract): an existing lab host is kept, the networks are added.
                    foreach (var n in deployedFor)
                        if (!existing.DeployedFor.Contains(n, Names)) existing.DeployedFor.Add(n);
                    return;
                }
                if (IsKnownHost(name))
                    throw Error(ErrorIds.HostAlreadyExists, ErrorKind.ResourceExists, name, $"Host '{name}' already exists.");
                _hosts.Add(name);
                _labHosts[name] = new LabHostRecord
                {
                    ByDeployment = byDeployment,
                    UnderlayAddress = "198.18.0." + (++_nextUnderlay).ToString(CultureInfo.InvariantCulture),
                    DeployedFor = deployedFor.Distinct(Names).ToList(),
                };
            }
        }

        public void RemoveLabHost(string name, CancellationToken cancellationToken)
        {
            Enter(nameof(RemoveLabHost), name, cancellationToken);
            lock (_gate)
            {
                if (!_hosts.Contains(name, Names)) return; // already gone
                if (!_labHosts.ContainsKey(name))
                    throw Error(ErrorIds.NotALabHost, ErrorKind.InvalidOperation, name, $"Host '{name}' is not a lab host.");
                var on = _routers.Values.Where(r => Names.Equals(r.Host, name)).Select(r => r.Name).ToList();
                if (on.Count > 0)
                    throw Error(ErrorIds.HostInUse, ErrorKind.ResourceUnavailable, name, $"Lab host '{name}' still runs {string.Join(", ", on)}.");
                _physical.RemoveAll(p => Names.Equals(p.From, name) || Names.Equals(p.To, name)); // they go with it (contract)
                _labHosts.Remove(name);
                _hosts.RemoveAll(h => Names.Equals(h, name));
            }
        }

        public void CreatePhysicalLink(PhysicalLinkSpec spec, CancellationToken cancellationToken)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            Enter(nameof(CreatePhysicalLink), spec.From + " " + spec.To, cancellationToken);
            lock (_gate)
            {
                foreach (var end in new[] { spec.From, spec.To })
                    if (!_hosts.Contains(end, Names))
                        throw Error(ErrorIds.HostNotFound, ErrorKind.ObjectNotFound, end, $"Host '{end}' does not exist.");
                if (Names.Equals(spec.From, spec.To))
                    throw Error(ErrorIds.PhysicalSelfLink, ErrorKind.InvalidArgument, spec.From, $"Physical link from '{spec.From}' to itself.");
                if (FindPhysical(spec.From, spec.To) != null)
                    throw Error(ErrorIds.DuplicatePhysicalLink, ErrorKind.ResourceExists, PhysicalLink.NameOf(spec.From, spec.To),
                        $"Physical link {PhysicalLink.NameOf(spec.From, spec.To)} already exists.");
                int n = _physical.Count == 0 ? 0 : _physical.Max(p => p.Index) + 1;
                _physical.Add(new PhysicalRecord
                {
                    From = _hosts.First(h => Names.Equals(h, spec.From)),
                    To = _hosts.First(h => Names.Equals(h, spec.To)),
                    Index = n,
                    FromAddress = "172.31." + n.ToString(CultureInfo.InvariantCulture) + ".0/31",
                    ToAddress = "172.31." + n.ToString(CultureInfo.InvariantCulture) + ".1/31",
                    Id = NewId("pl"),
                });
            }
        }

        public void RemovePhysicalLink(string from, string to, CancellationToken cancellationToken)
        {
            Enter(nameof(RemovePhysicalLink), from + " " + to, cancellationToken);
            lock (_gate)
            {
                var p = FindPhysical(from, to);
                if (p != null) _physical.Remove(p); // already gone: not an error
            }
        }

        private PhysicalRecord? FindPhysical(string a, string b) =>
            _physical.FirstOrDefault(p => (Names.Equals(p.From, a) && Names.Equals(p.To, b)) || (Names.Equals(p.From, b) && Names.Equals(p.To, a)));

        public void CreateLink(LinkSpec spec, CancellationToken cancellationToken)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            Enter(nameof(CreateLink), spec.Name, cancellationToken);
            lock (_gate)
            {
                if (string.IsNullOrWhiteSpace(spec.Name) || NameRules.Check(spec.Name, "link") != null)
                    throw Error(ErrorIds.InvalidName, ErrorKind.InvalidArgument, spec.Name, $"Invalid link name '{spec.Name}'.");
                if (_links.ContainsKey(spec.Name))
                    throw Error(ErrorIds.LinkAlreadyExists, ErrorKind.ResourceExists, spec.Name, $"Link '{spec.Name}' already exists.");
                if (!_routers.TryGetValue(spec.From, out var from))
                    throw Error(ErrorIds.LinkEndpointNotFound, ErrorKind.ObjectNotFound, spec.Name, $"Link '{spec.Name}': router '{spec.From}' does not exist.");
                if (!_routers.TryGetValue(spec.To, out var to))
                    throw Error(ErrorIds.LinkEndpointNotFound, ErrorKind.ObjectNotFound, spec.Name, $"Link '{spec.Name}': router '{spec.To}' does not exist.");
                if (Names.Equals(from.Name, to.Name))
                    throw Error(ErrorIds.SelfLink, ErrorKind.InvalidArgument, spec.Name, $"Link '{spec.Name}' connects '{from.Name}' to itself.");
                foreach (var end in new[] { from, to })
                {
                    int adapters = _links.Values.Count(l => Names.Equals(l.From, end.Name) || Names.Equals(l.To, end.Name));
                    if (adapters + 1 > Capabilities.MaxAdaptersPerRouter)
                        throw Error(ErrorIds.AdapterLimitExceeded, ErrorKind.LimitsExceeded, end.Name,
                            $"Router '{end.Name}' already has {adapters} adapters (limit {Capabilities.MaxAdaptersPerRouter}).");
                }
                if (spec.VlanId.HasValue && (spec.VlanId.Value < 1 || spec.VlanId.Value > 4094))
                    throw Error(ErrorIds.InvalidVlanId, ErrorKind.InvalidArgument, spec.Name, $"VLAN {spec.VlanId} out of range.");
                CheckBandwidth(spec.Name, spec.MaximumBandwidth, allowZero: true);
                _links[spec.Name] = new LinkRecord
                {
                    Name = spec.Name,
                    From = from.Name,
                    To = to.Name,
                    MaximumBandwidth = spec.MaximumBandwidth.HasValue && spec.MaximumBandwidth.Value > 0 ? spec.MaximumBandwidth : null,
                    VlanId = spec.VlanId,
                    Id = NewId("vl"),
                    Vni = 10_000 + _nextId,
                };
            }
        }

        public void RemoveLink(string name, CancellationToken cancellationToken)
        {
            Enter(nameof(RemoveLink), name, cancellationToken);
            lock (_gate) _links.Remove(name); // already gone: not an error at this level
        }

        public void SetLinkBandwidth(string name, long? bitsPerSecond, CancellationToken cancellationToken)
        {
            Enter(nameof(SetLinkBandwidth), name + " " + (bitsPerSecond?.ToString(CultureInfo.InvariantCulture) ?? "unlimited"), cancellationToken);
            lock (_gate)
            {
                if (!_links.TryGetValue(name, out var l))
                    throw Error(ErrorIds.LinkNotFound, ErrorKind.ObjectNotFound, name, $"Link '{name}' does not exist.");
                // The engine normalises "no limit" to null before it reaches a backend; 0 here is an engine bug.
                CheckBandwidth(name, bitsPerSecond, allowZero: false);
                l.MaximumBandwidth = bitsPerSecond;
            }
        }

        public ProbeResult Probe(string fromRouter, string address, CancellationToken cancellationToken)
        {
            Enter(nameof(Probe), fromRouter + " " + address, cancellationToken);
            lock (_gate)
            {
                RequireRouter(fromRouter);
                return Walk(fromRouter, address);
            }
        }

        public void Dispose()
        {
            lock (_gate) _disposeCount++;
        }

        // ============================================================================================ guests

        /// <summary>How long a started router's guest takes to become ready (boot and configuration); zero = at once.</summary>
        public TimeSpan BootTime { get; set; }

        /// <summary>Per router: a boot time that overrides <see cref="BootTime"/>.</summary>
        public void SetBootTime(string router, TimeSpan bootTime)
        {
            lock (_gate) _bootTimes[router] = bootTime;
        }

        /// <summary>Makes the router's guest report that its configuration failed (readiness then fails at once).</summary>
        public void FailGuestConfiguration(string router)
        {
            lock (_gate) _configFailures.Add(router);
        }

        /// <summary>Raised (on the calling thread) right before a probe stream sends its first probe.</summary>
        public event Action<string>? ProbeStreamStarting;

        /// <summary>The most readiness waits that ran at the same time.</summary>
        public int MaxConcurrentReadyWaits { get { lock (_gate) return _maxReadyWaits; } }

        private readonly Dictionary<string, TimeSpan> _bootTimes = new Dictionary<string, TimeSpan>(Names);
        private readonly HashSet<string> _configFailures = new HashSet<string>(Names);
        private int _readyWaits;
        private int _maxReadyWaits;

        /// <summary>
        /// Polls (every 10 ms) until the router has run for its boot time. Not running is RouterNotRunning at once (as the Linux
        /// backend), a failed configuration RouterNotReady; the time up is not Ready with what was seen.
        /// </summary>
        public GuestReadiness WaitUntilReady(string name, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Enter(nameof(WaitUntilReady), name, cancellationToken);
            lock (_gate)
            {
                _readyWaits++;
                _maxReadyWaits = Math.Max(_maxReadyWaits, _readyWaits);
            }
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (true)
                {
                    TimeSpan up, boot;
                    lock (_gate)
                    {
                        var r = RequireRouter(name);
                        if (r.State != RouterState.Running)
                            throw Error(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, r.Name, $"Router '{r.Name}' is {r.State}.");
                        if (_configFailures.Contains(r.Name))
                            throw Error(ErrorIds.RouterNotReady, ErrorKind.InvalidResult, r.Name, $"Router '{r.Name}': its guest reports config error.");
                        up = DateTime.UtcNow - (r.StartedUtc ?? DateTime.UtcNow);
                        boot = _bootTimes.TryGetValue(r.Name, out var b) ? b : BootTime;
                    }
                    if (up >= boot) return new GuestReadiness { Ready = true, Uptime = up };
                    if (clock.Elapsed >= timeout)
                        return new GuestReadiness { Ready = false, LastSeen = $"[Test backend] still booting: up {up.TotalSeconds:0.0} s of {boot.TotalSeconds:0.0} s" };
                    if (cancellationToken.WaitHandle.WaitOne(10)) cancellationToken.ThrowIfCancellationRequested();
                }
            }
            finally
            {
                lock (_gate) _readyWaits--;
            }
        }

        public IReadOnlyList<string> AddressesOf(string router)
        {
            Enter(nameof(AddressesOf), router, CancellationToken.None);
            lock (_gate)
            {
                var r = RequireRouter(router);
                return _configurations.TryGetValue(r.Name, out var c) ? c.Interfaces.Select(i => i.Address).ToArray() : Array.Empty<string>();
            }
        }

        /// <summary>
        /// Sends the probes in real time, one every <paramref name="interval"/>, each a <see cref="Walk"/> of the state at that
        /// moment (a router paused meanwhile loses the probes through it), with the walk's round trip.
        /// </summary>
        public ProbeStreamAnswer ProbeStream(string fromRouter, string address, int count, TimeSpan interval, CancellationToken cancellationToken)
        {
            Enter(nameof(ProbeStream), fromRouter + " " + address + " " + count.ToString(CultureInfo.InvariantCulture) + " " +
                                       ((int)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), cancellationToken);
            if (count < ProbeStreamLimits.MinimumCount || count > ProbeStreamLimits.MaximumCount || interval.TotalMilliseconds < ProbeStreamLimits.MinimumIntervalMilliseconds)
                throw Error(ErrorIds.InvalidProbe, ErrorKind.InvalidArgument, fromRouter, "The engine passed an out-of-range probe stream.");
            if (!Cidr.TryParseAddress(address, out _) || address.Contains("/"))
                throw Error(ErrorIds.InvalidAddress, ErrorKind.InvalidArgument, address, $"'{address}' is not an IP address.");
            lock (_gate)
            {
                var r = RequireRouter(fromRouter);
                if (r.State != RouterState.Running)
                    throw Error(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, r.Name, $"Router '{r.Name}' is {r.State}.");
            }
            var answer = new ProbeStreamAnswer { Sent = 0 };
            ProbeStreamStarting?.Invoke(fromRouter);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int seq = 0; seq < count; seq++)
            {
                var due = TimeSpan.FromTicks(interval.Ticks * seq) - clock.Elapsed;
                if (due > TimeSpan.Zero && cancellationToken.WaitHandle.WaitOne(due)) cancellationToken.ThrowIfCancellationRequested();
                ProbeResult one;
                lock (_gate) one = _routers.TryGetValue(fromRouter, out var source) ? Walk(source.Name, address) : Unreachable("the source was removed");
                answer.Sent++;
                if (one.Reachable) answer.RoundTrips[seq] = one.RoundTripMilliseconds ?? 0;
                answer.Detail = one.Detail;
            }
            return answer;
        }

        // ============================================================================================ forwarding walk

        /// <summary>
        /// Forwards a probe hop by hop: a router that is not Running forwards (and answers) nothing; at each router the
        /// destination is either one of its own interface addresses (reachable), on a directly connected /31 or /127
        /// (next hop = the destination itself), or covered by a static route (longest prefix wins). The packet then
        /// moves over the named link to the router owning the next-hop address there, which must be the link's other
        /// end, exist, and have that address configured.
        /// </summary>
        private ProbeResult Walk(string fromRouter, string address)
        {
            string text = address.Contains("/") ? address.Substring(0, address.IndexOf('/')) : address;
            if (!Cidr.TryParseAddress(text, out var target))
                return Unreachable($"'{address}' is not an IP address.");

            string current = _routers[fromRouter].Name;
            var path = new List<string> { current };
            for (int hop = 0; hop <= HopLimit; hop++)
            {
                var router = _routers[current];
                if (router.State != RouterState.Running)
                    return Unreachable($"router '{current}' is {router.State} and forwards nothing (path {string.Join(" > ", path)}).");
                if (!_configurations.TryGetValue(current, out var cfg))
                    return Unreachable($"router '{current}' has no configuration (path {string.Join(" > ", path)}).");

                string? viaLink = null;
                IPAddress? nextHop = null;
                foreach (var i in cfg.Interfaces)
                {
                    if (!Cidr.TryParse(i.Address, out var own)) continue;
                    if (own.Address.Equals(target))
                        return new ProbeResult
                        {
                            Reachable = true,
                            RoundTripMilliseconds = 0.1 * (path.Count),
                            Detail = "path " + string.Join(" > ", path),
                        };
                    if (viaLink == null && own.Contains(target))
                    {
                        viaLink = i.LinkName;
                        nextHop = target;
                    }
                }
                if (viaLink == null && cfg.Routing != null)
                {
                    // OSPF: the shortest path over the adjacencies as the routing last saw them (ConvergenceDelay).
                    var ospfHop = OspfNextHop(current, target);
                    if (ospfHop != null)
                    {
                        viaLink = ospfHop.Value.Link;
                        nextHop = ospfHop.Value.NextHop;
                    }
                }
                if (viaLink == null)
                {
                    RouteConfiguration? best = null;
                    int bestLength = -1;
                    foreach (var rt in cfg.Routes)
                    {
                        if (Cidr.TryParse(rt.Destination, out var dest) && dest.Contains(target) && dest.PrefixLength > bestLength)
                        {
                            best = rt;
                            bestLength = dest.PrefixLength;
                        }
                    }
                    if (best == null)
                        return Unreachable($"router '{current}' has no route to {text} (path {string.Join(" > ", path)}).");
                    viaLink = best.LinkName;
                    Cidr.TryParseAddress(best.NextHop, out var nh);
                    nextHop = nh;
                    var outIf = cfg.Interfaces.FirstOrDefault(i => Names.Equals(i.LinkName, viaLink));
                    if (outIf == null || !Cidr.TryParse(outIf.Address, out var outNet) || nextHop == null || !outNet.Contains(nextHop))
                        return Unreachable($"router '{current}': next hop {best.NextHop} is not on link '{viaLink}' (path {string.Join(" > ", path)}).");
                }

                if (!_links.TryGetValue(viaLink, out var link))
                    return Unreachable($"router '{current}' forwards over link '{viaLink}', which does not exist (path {string.Join(" > ", path)}).");
                string? peer = Names.Equals(link.From, current) ? link.To : Names.Equals(link.To, current) ? link.From : null;
                if (peer == null)
                    return Unreachable($"link '{viaLink}' is not attached to router '{current}' (path {string.Join(" > ", path)}).");
                if (link.State != LinkState.Up)
                    return Unreachable($"router '{current}' forwards over link '{link.Name}', which is disabled ({link.State}) (path {string.Join(" > ", path)}).");
                var peerAddress = AddressOn(peer, link.Name);
                if (peerAddress == null || !Cidr.TryParse(peerAddress, out var peerNet) || !peerNet.Address.Equals(nextHop))
                    return Unreachable($"no router owns next hop {nextHop} on link '{link.Name}' (path {string.Join(" > ", path)}).");

                current = _routers[peer].Name;
                path.Add(current);
            }
            return Unreachable($"hop limit {HopLimit} exceeded (path {string.Join(" > ", path)}).");
        }

        private static ProbeResult Unreachable(string detail) => new ProbeResult { Reachable = false, Detail = detail };

        // ============================================================================================ link state and routing

        /// <summary>
        /// How long the simulated OSPF takes to notice a link state change (like a dead interval or BFD detection time):
        /// until then it routes over the adjacencies as they were. Zero (the default) converges at once.
        /// </summary>
        public TimeSpan ConvergenceDelay { get; set; }

        /// <summary>How many times a router was configured with OSPF when it had none (for tests).</summary>
        public int ConfiguredOspfCount { get; private set; }

        /// <summary>The link states the simulated OSPF sees; null = the current ones.</summary>
        private Dictionary<string, LinkState>? _ospfView;
        private DateTime _ospfViewUntil;
        private readonly Dictionary<string, (int Neighbor, int BfdDown)> _routingEvents = new Dictionary<string, (int, int)>(Names);

        public LinkState LinkStateOf(string link)
        {
            lock (_gate) return _links.TryGetValue(link, out var l) ? l.State : throw new KeyNotFoundException(link);
        }

        public void SetLinkState(string linkName, LinkState state, CancellationToken cancellationToken)
        {
            Enter(nameof(SetLinkState), linkName + " " + state, cancellationToken);
            lock (_gate)
            {
                if (!_links.TryGetValue(linkName, out var l))
                    throw Error(ErrorIds.LinkNotFound, ErrorKind.ObjectNotFound, linkName, $"Link '{linkName}' does not exist.");
                if (!Enum.IsDefined(typeof(LinkState), state))
                    throw Error(ErrorIds.InvalidLinkState, ErrorKind.InvalidArgument, linkName, $"'{state}' is not a link state.");
                if (l.State == state) return; // idempotent
                bool upChanges = (l.State == LinkState.Up) != (state == LinkState.Up);
                if (upChanges && ConvergenceDelay > TimeSpan.Zero)
                {
                    // OSPF keeps routing over what it saw until it notices (after the delay from the last change).
                    _ospfView ??= _links.Values.ToDictionary(x => x.Name, x => x.State, Names);
                    _ospfViewUntil = DateTime.UtcNow + ConvergenceDelay;
                }
                l.State = state;
                if (upChanges)
                    foreach (var end in new[] { l.From, l.To })
                        if (_configurations.TryGetValue(end, out var cfg) && cfg.Routing != null)
                        {
                            _routingEvents.TryGetValue(end, out var ev);
                            _routingEvents[end] = (ev.Neighbor + 1, ev.BfdDown + (cfg.Routing.Bfd && state != LinkState.Up ? 1 : 0));
                        }
            }
        }

        private LinkState OspfStateOf(LinkRecord l)
        {
            if (_ospfView != null && DateTime.UtcNow >= _ospfViewUntil) _ospfView = null;
            return _ospfView != null && _ospfView.TryGetValue(l.Name, out var seen) ? seen : l.State;
        }

        /// <summary>True when OSPF of <paramref name="a"/> and <paramref name="b"/> would be neighbours over <paramref name="l"/> (as OSPF sees it).</summary>
        private bool Adjacent(LinkRecord l, string a, string b)
        {
            if (OspfStateOf(l) != LinkState.Up) return false;
            if (!_configurations.TryGetValue(a, out var ca) || !_configurations.TryGetValue(b, out var cb)) return false;
            if (ca.Routing == null || cb.Routing == null) return false;
            if (!string.Equals(ca.Routing.AuthenticationKey, cb.Routing.AuthenticationKey, StringComparison.OrdinalIgnoreCase)) return false;
            if (_routers[a].State != RouterState.Running || _routers[b].State != RouterState.Running) return false;
            return ca.Interfaces.Any(i => Names.Equals(i.LinkName, l.Name)) && cb.Interfaces.Any(i => Names.Equals(i.LinkName, l.Name));
        }

        /// <summary>OSPF distances (hops) from <paramref name="from"/> and the first hop (link, neighbour) towards each router.</summary>
        private Dictionary<string, (int Distance, LinkRecord? Link, string? Neighbor)> OspfTree(string from)
        {
            var tree = new Dictionary<string, (int, LinkRecord?, string?)>(Names) { [from] = (0, null, null) };
            var queue = new Queue<string>();
            queue.Enqueue(from);
            while (queue.Count > 0)
            {
                var v = queue.Dequeue();
                var (d, firstLink, firstNbr) = tree[v];
                foreach (var l in _links.Values.Where(x => Names.Equals(x.From, v) || Names.Equals(x.To, v)).OrderBy(x => x.Name, Names))
                {
                    var u = Names.Equals(l.From, v) ? l.To : l.From;
                    if (tree.ContainsKey(u) || !Adjacent(l, v, u)) continue;
                    tree[u] = (d + 1, firstLink ?? l, firstNbr ?? u);
                    queue.Enqueue(u);
                }
            }
            return tree;
        }

        /// <summary>The OSPF route of <paramref name="router"/> to the link prefix holding <paramref name="target"/>: (out link, next hop).</summary>
        private (string Link, IPAddress NextHop)? OspfNextHop(string router, IPAddress target)
        {
            foreach (var (link, prefix, metric, nh) in OspfRoutes(router))
            {
                if (!Cidr.TryParse(prefix, out var net) || !net.Contains(target)) continue;
                if (Cidr.TryParseAddress(nh, out var address)) return (link, address);
            }
            return null;
        }

        /// <summary>Every link prefix OSPF gives <paramref name="router"/> a route to (not its own links): (out link, prefix, metric, next hop).</summary>
        private List<(string Link, string Prefix, int Metric, string NextHop)> OspfRoutes(string router)
        {
            var result = new List<(string, string, int, string)>();
            var tree = OspfTree(router);
            foreach (var l in _links.Values.OrderBy(x => x.Name, Names))
            {
                if (Names.Equals(l.From, router) || Names.Equals(l.To, router)) continue;
                var address = AddressOn(l.From, l.Name) ?? AddressOn(l.To, l.Name);
                if (address == null || !Cidr.TryParse(address, out var net)) continue;
                // Announced by an end that OSPF reaches (a stub network of that end).
                var ends = new[] { l.From, l.To }.Where(tree.ContainsKey).OrderBy(e => tree[e].Item1).ToList();
                if (ends.Count == 0) continue;
                var (distance, first, neighbor) = tree[ends[0]];
                if (first == null || neighbor == null) continue;
                var peerAddress = AddressOn(neighbor, first.Name);
                if (peerAddress == null || !Cidr.TryParse(peerAddress, out var peer)) continue;
                result.Add((first.Name, net.NetworkText, 10 * (distance + 1), peer.Address.ToString()));
            }
            return result;
        }

        public IReadOnlyList<VirtualRoute> GetRoutes(string routerName, CancellationToken cancellationToken)
        {
            Enter(nameof(GetRoutes), routerName, cancellationToken);
            lock (_gate)
            {
                var r = RequireRouter(routerName);
                if (r.State != RouterState.Running)
                    throw Error(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, r.Name, $"Router '{r.Name}' is {r.State}.");
                var routes = new List<VirtualRoute>();
                if (!_configurations.TryGetValue(r.Name, out var cfg)) return routes;
                foreach (var i in cfg.Interfaces)
                    if (Cidr.TryParse(i.Address, out var net))
                        routes.Add(new VirtualRoute { RouterName = r.Name, Prefix = net.NetworkText, LinkName = i.LinkName, Protocol = "connected", AddressFamily = cfg.AddressFamily });
                foreach (var rt in cfg.Routes)
                    routes.Add(new VirtualRoute { RouterName = r.Name, Prefix = rt.Destination, NextHop = rt.NextHop, LinkName = rt.LinkName, Protocol = "static", AddressFamily = cfg.AddressFamily });
                if (cfg.Routing != null)
                    foreach (var (link, prefix, metric, nh) in OspfRoutes(r.Name))
                        routes.Add(new VirtualRoute { RouterName = r.Name, Prefix = prefix, NextHop = nh, LinkName = link, Protocol = "ospf", Metric = metric, AddressFamily = cfg.AddressFamily });
                return routes;
            }
        }

        public RoutingStatus GetRoutingStatus(string routerName, CancellationToken cancellationToken)
        {
            Enter(nameof(GetRoutingStatus), routerName, cancellationToken);
            lock (_gate)
            {
                var r = RequireRouter(routerName);
                if (r.State != RouterState.Running)
                    throw Error(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, r.Name, $"Router '{r.Name}' is {r.State}.");
                var status = new RoutingStatus { RouterName = r.Name, Protocol = RoutingProtocol.Static };
                if (!_configurations.TryGetValue(r.Name, out var cfg) || cfg.Routing == null) return status;
                status.Protocol = cfg.Routing.Protocol;
                status.Protocols.Add((cfg.AddressFamily == NetworkAddressFamily.IPv4 ? "ospf2" : "ospf3") + " up");
                if (cfg.Routing.Bfd) status.Protocols.Add("bfd up");
                foreach (var l in _links.Values.Where(x => Names.Equals(x.From, r.Name) || Names.Equals(x.To, r.Name)).OrderBy(x => x.Name, Names))
                {
                    var peer = Names.Equals(l.From, r.Name) ? l.To : l.From;
                    if (!Adjacent(l, r.Name, peer)) continue;
                    status.Neighbors.Add(new RoutingNeighbor { LinkName = l.Name, RouterId = _configurations[peer].Routing!.RouterId, State = "full" });
                    if (cfg.Routing.Bfd && Cidr.TryParse(AddressOn(peer, l.Name), out var pa))
                        status.BfdSessions.Add(new BfdSession { LinkName = l.Name, PeerAddress = pa.Address.ToString(), State = "up" });
                }
                _routingEvents.TryGetValue(r.Name, out var ev);
                status.NeighborStateChanges = ev.Neighbor;
                status.BfdSessionDowns = ev.BfdDown;
                return status;
            }
        }

        // ============================================================================================ helpers

        private void Enter(string method, string args, CancellationToken cancellationToken)
        {
            bool mutating = MutatingMethods.Contains(method);
            VirtualNetworksException? fault = null;
            lock (_gate)
            {
                _calls.Add(string.IsNullOrEmpty(args) ? method : method + " " + args);
                int n = _callCounts.TryGetValue(method, out var c) ? c + 1 : 1;
                _callCounts[method] = n;
                if (mutating) _mutatingCalls++;
                var f = _faults.FirstOrDefault(x => Names.Equals(x.Method, method) && x.Nth == n);
                if (f != null)
                {
                    _faults.Remove(f);
                    fault = f.Error;
                }
            }
            if (mutating)
            {
                MutatingCallStarted?.Invoke(method + " " + args);
                var delay = MutatingCallDelay;
                if (delay > TimeSpan.Zero) cancellationToken.WaitHandle.WaitOne(delay);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (fault != null) throw fault;
        }

        private void Transition(string name, string verb, RouterState to, params RouterState[] allowedFrom)
        {
            var r = RequireRouter(name);
            if (!allowedFrom.Contains(r.State))
                throw Error(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, r.Name,
                    $"Cannot {verb} router '{r.Name}': it is {r.State} (allowed from {string.Join("/", allowedFrom)}).");
            r.State = to;
        }

        private RouterRecord RequireRouter(string name) =>
            _routers.TryGetValue(name ?? "", out var r)
                ? r
                : throw Error(ErrorIds.RouterNotFound, ErrorKind.ObjectNotFound, name, $"Router '{name}' does not exist.");

        private bool IsKnownHost(string? host) => HostNames.IsLocalHost(host) || _hosts.Contains(host!, Names);

        private void CheckBandwidth(string link, long? bps, bool allowZero)
        {
            if (!bps.HasValue) return;
            if (bps.Value == 0 && allowZero) return;
            if (bps.Value <= 0)
                throw Error(ErrorIds.InvalidBandwidth, ErrorKind.InvalidArgument, link, $"Bandwidth {bps} for link '{link}' is not positive.");
            if (bps.Value < Capabilities.MinimumBandwidth || bps.Value > Capabilities.MaximumBandwidth)
                throw Error(ErrorIds.BandwidthOutOfRange, ErrorKind.LimitsExceeded, link, $"Bandwidth {bps} for link '{link}' is out of range.");
        }

        /// <summary>The CIDR address the router's last configuration gives it on a link, if any.</summary>
        private string? AddressOn(string router, string link)
        {
            if (!_configurations.TryGetValue(router, out var cfg)) return null;
            var i = cfg.Interfaces.FirstOrDefault(x => Names.Equals(x.LinkName, link));
            return i == null || string.IsNullOrEmpty(i.Address) ? null : i.Address;
        }

        private string NewId(string prefix) => prefix + "-" + (++_nextId).ToString("D4", CultureInfo.InvariantCulture);

        private static VirtualNetworksException Error(string id, ErrorKind kind, string? target, string message) =>
            new VirtualNetworksException(id, kind, target, "[Test backend] " + message);

        private static RouterConfiguration Copy(RouterConfiguration c) => new RouterConfiguration
        {
            RouterName = c.RouterName,
            AddressFamily = c.AddressFamily,
            Interfaces = c.Interfaces.Select(i => new InterfaceConfiguration
            {
                LinkName = i.LinkName, Address = i.Address, PeerAddress = i.PeerAddress, PeerRouter = i.PeerRouter,
            }).ToList(),
            Routes = c.Routes.Select(r => new RouteConfiguration { Destination = r.Destination, NextHop = r.NextHop, LinkName = r.LinkName }).ToList(),
            Routing = c.Routing?.Clone(),
        };

        private sealed class RouterRecord
        {
            public string Name = "";
            public string Host = "";
            public string Image = "";
            public int ProcessorCount;
            public int MemoryMB;
            public string? NetworkLabel;
            public NetworkAddressFamily AddressFamily;
            public RouterState State;
            public string Id = "";
            /// <summary>When the router was last started (its guest's boot); null while it never ran.</summary>
            public DateTime? StartedUtc;
        }

        private sealed class LabHostRecord
        {
            public bool ByDeployment;
            public string UnderlayAddress = "";
            public List<string> DeployedFor = new List<string>();
        }

        private sealed class PhysicalRecord
        {
            public string From = "";
            public string To = "";
            public int Index;
            public string FromAddress = "";
            public string ToAddress = "";
            public string Id = "";
        }

        private sealed class LinkRecord
        {
            public int Vni;
            public string Name = "";
            public string From = "";
            public string To = "";
            public long? MaximumBandwidth;
            public int? VlanId;
            public string Id = "";
            public LinkState State;
        }

        private sealed class Fault
        {
            public Fault(string method, int nth, VirtualNetworksException error) { Method = method; Nth = nth; Error = error; }
            public string Method { get; }
            public int Nth { get; }
            public VirtualNetworksException Error { get; }
        }
    }

    /// <summary>An address with a prefix length; enough IP arithmetic for the forwarding walk.</summary>
    internal readonly struct Cidr
    {
        private Cidr(IPAddress address, int prefixLength)
        {
            Address = address;
            PrefixLength = prefixLength;
        }

        public IPAddress Address { get; }
        public int PrefixLength { get; }
        public NetworkAddressFamily Family => Address.AddressFamily == AddressFamily.InterNetwork ? NetworkAddressFamily.IPv4 : NetworkAddressFamily.IPv6;

        public static bool TryParse(string? text, out Cidr cidr)
        {
            cidr = default;
            if (string.IsNullOrEmpty(text)) return false;
            int slash = text!.IndexOf('/');
            if (slash < 0) return false;
            if (!TryParseAddress(text.Substring(0, slash), out var address)) return false;
            if (!int.TryParse(text.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length)) return false;
            int bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (length < 0 || length > bits) return false;
            cidr = new Cidr(address, length);
            return true;
        }

        public static bool TryParseAddress(string? text, out IPAddress address)
        {
            address = IPAddress.None;
            if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var parsed)) return false;
            if (parsed.AddressFamily != AddressFamily.InterNetwork && parsed.AddressFamily != AddressFamily.InterNetworkV6) return false;
            address = parsed;
            return true;
        }

        /// <summary>The prefix with the host bits cleared, CIDR ("10.200.0.2/31").</summary>
        public string NetworkText
        {
            get
            {
                var a = Address.GetAddressBytes();
                for (int bit = PrefixLength; bit < a.Length * 8; bit++) a[bit / 8] &= (byte)~(0x80 >> (bit % 8));
                return new IPAddress(a).ToString() + "/" + PrefixLength.ToString(CultureInfo.InvariantCulture);
            }
        }

        /// <summary>True when <paramref name="other"/> lies in this prefix (same family, same leading bits).</summary>
        public bool Contains(IPAddress other)
        {
            if (other.AddressFamily != Address.AddressFamily) return false;
            var a = Address.GetAddressBytes();
            var b = other.GetAddressBytes();
            int full = PrefixLength / 8, rest = PrefixLength % 8;
            for (int i = 0; i < full; i++) if (a[i] != b[i]) return false;
            if (rest == 0) return true;
            int mask = 0xFF << (8 - rest) & 0xFF;
            return (a[full] & mask) == (b[full] & mask);
        }
    }
}
