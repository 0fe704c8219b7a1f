using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Topology
{
    /// <summary>What validation checks a topology against.</summary>
    public sealed class ValidationContext
    {
        public BackendCapabilities Capabilities { get; set; } = new BackendCapabilities();
        /// <summary>Hosts that exist (observed) in addition to those the topology declares. Empty host = local.</summary>
        public ICollection<string> KnownHosts { get; set; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        /// <summary>(image, host) -> exists. Null skips the image check.</summary>
        public Func<string, string, bool>? ImageExists { get; set; }
        /// <summary>
        /// (image, host) -> where a missing image was looked for and how to get it, put into the ImageNotFound error; null
        /// (or a null answer) gives the short message.
        /// </summary>
        public Func<string, string, ImageSearchReport?>? DescribeMissingImage { get; set; }
        /// <summary>What is already deployed; routers/links in the topology with the same name are the same objects.</summary>
        public BackendInventory? Observed { get; set; }
        /// <summary>Allow links that join differently labelled virtual networks (the isolation guard).</summary>
        public bool Force { get; set; }
    }

    /// <summary>Stage 3 of the topology pipeline: every check that must pass before anything changes.</summary>
    /// <remarks>
    /// Names are compared case-insensitively throughout. A link end may name a router of the topology or, when
    /// <see cref="ValidationContext.Observed"/> is given, an already deployed router. Adapter counts cover the links of
    /// the spec only: a caller that adds links to deployed routers merges the deployed links into the spec first.
    /// </remarks>
    public static class TopologyValidator
    {
        /// <summary>Returns all problems found (empty = valid). Never throws for bad content.</summary>
        public static List<TopologyError> Validate(TopologySpec spec, ValidationContext context)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            return new Checker(spec, context ?? new ValidationContext()).Run();
        }

        /// <summary>One validation run; holds the indexes the checks share.</summary>
        private sealed class Checker
        {
            private static readonly StringComparer Names = StringComparer.OrdinalIgnoreCase;

            private readonly TopologySpec _spec;
            private readonly ValidationContext _context;
            private readonly BackendCapabilities _caps;
            private readonly List<TopologyError> _errors = new List<TopologyError>();
            private readonly List<RouterSpec> _routers;
            private readonly List<LinkSpec> _links;
            /// <summary>First router of each name in the spec.</summary>
            private readonly Dictionary<string, RouterSpec> _routerByName = new Dictionary<string, RouterSpec>(Names);
            /// <summary>Deployed routers, by name.</summary>
            private readonly Dictionary<string, VirtualRouter> _observedRouters = new Dictionary<string, VirtualRouter>(Names);
            private readonly HashSet<string> _observedLinks = new HashSet<string>(Names);
            /// <summary>Links whose two ends name existing, distinct routers: the edges of the graph.</summary>
            private readonly List<LinkSpec> _edges = new List<LinkSpec>();

            public Checker(TopologySpec spec, ValidationContext context)
            {
                _spec = spec;
                _context = context;
                _caps = context.Capabilities ?? new BackendCapabilities();
                _routers = (spec.Routers ?? new List<RouterSpec>()).Where(r => r != null).ToList();
                _links = (spec.Links ?? new List<LinkSpec>()).Where(l => l != null).ToList();
                foreach (var r in _routers)
                    if (!_routerByName.ContainsKey(r.Name ?? "")) _routerByName[r.Name ?? ""] = r;
                if (context.Observed != null)
                {
                    foreach (var r in context.Observed.Routers ?? new List<VirtualRouter>())
                        if (r != null && !_observedRouters.ContainsKey(r.Name ?? "")) _observedRouters[r.Name ?? ""] = r;
                    foreach (var l in context.Observed.Links ?? new List<VirtualLink>())
                        if (l != null) _observedLinks.Add(l.Name ?? "");
                }
            }

            public List<TopologyError> Run()
            {
                CheckHosts();
                CheckRouters();
                CheckLinks();
                CheckAdapterCounts();
                CheckNetworks();
                CheckRoutingEntries();
                CheckPools();
                CheckPhysicalLinks();
                CheckUnderlay();
                return _errors;
            }

            // ---- hosts ---------------------------------------------------------------------------------------------

            private void CheckHosts()
            {
                var seen = new Dictionary<string, int>(Names);
                var hosts = _spec.Hosts ?? new List<HostSpec>();
                for (int i = 0; i < hosts.Count; i++)
                {
                    var h = hosts[i];
                    if (h == null) continue;
                    string path = "hosts[" + i.ToString(CultureInfo.InvariantCulture) + "]";
                    var nameError = NameRules.Check(h.Name, "host", path);
                    if (nameError != null)
                    {
                        _errors.Add(nameError);
                        continue;
                    }
                    if (seen.TryGetValue(h.Name, out int first))
                        Add(ErrorIds.DuplicateName, ErrorKind.InvalidData, h.Name, path,
                            path + ": the host name " + Q(h.Name) + " is already used by hosts[" + first.ToString(CultureInfo.InvariantCulture) +
                            "] (" + Q(hosts[first].Name) + "); host names are compared case-insensitively.");
                    else
                        seen[h.Name] = i;
                }
            }

            // ---- routers -------------------------------------------------------------------------------------------

            private void CheckRouters()
            {
                var seen = new Dictionary<string, RouterSpec>(Names);
                var badLabels = new HashSet<string>(StringComparer.Ordinal);
                var imageChecks = new Dictionary<string, bool>(StringComparer.Ordinal);

                foreach (var r in _routers)
                {
                    string name = r.Name ?? "";
                    string label = Title("router", name, r.SourcePath);

                    CheckUniqueName(seen, r, name, "router", label, r.SourcePath, first => (first.Name, first.SourcePath));

                    // Null (not given) is valid: it becomes the backend's default before the backend's checks run.
                    if (r.MemoryMB is int memory && (memory < _caps.MinMemoryMB || memory > _caps.MaxMemoryMB))
                        Add(ErrorIds.InvalidMemory, ErrorKind.InvalidArgument, name, Sub(r.SourcePath, "memoryMB"),
                            label + ": memoryMB " + N(memory) + " is outside the supported range " + N(_caps.MinMemoryMB) + " to " +
                            N(_caps.MaxMemoryMB) + " MB.");

                    if (r.ProcessorCount < 1 || r.ProcessorCount > _caps.MaxProcessorCount)
                        Add(ErrorIds.InvalidProcessorCount, ErrorKind.InvalidArgument, name, Sub(r.SourcePath, "processorCount"),
                            label + ": processorCount " + N(r.ProcessorCount) + " is outside the supported range 1 to " + N(_caps.MaxProcessorCount) + ".");

                    // A bad label is reported once, not once per router carrying it.
                    if (!string.IsNullOrEmpty(r.NetworkLabel) && !badLabels.Contains(r.NetworkLabel!))
                    {
                        var labelError = NameRules.Check(r.NetworkLabel, "network");
                        if (labelError != null)
                        {
                            badLabels.Add(r.NetworkLabel!);
                            Retarget(labelError, name, label + ": ", Sub(r.SourcePath, "network"));
                        }
                    }

                    bool hostUsable = CheckRouterHost(r, name, label);

                    if (string.IsNullOrWhiteSpace(r.Image))
                    {
                        Add(ErrorIds.InvalidImage, ErrorKind.InvalidArgument, name, Sub(r.SourcePath, "image"), label + ": the image name is empty.");
                    }
                    else if (_context.ImageExists != null && hostUsable && !_observedRouters.ContainsKey(name))
                    {
                        // Deployed routers already have their disk; the check may be remote, so ask once per (image, host).
                        string host = HostNames.IsLocalHost(r.Host) ? "" : r.Host;
                        string key = r.Image + "\0" + host.ToLowerInvariant();
                        if (!imageChecks.TryGetValue(key, out bool exists))
                            imageChecks[key] = exists = _context.ImageExists(r.Image, host);
                        if (!exists)
                        {
                            ImageSearchReport? report = _context.DescribeMissingImage?.Invoke(r.Image, host);
                            _errors.Add(new TopologyError(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, name,
                                label + ": the router image " + Q(r.Image) + " was not found on " + HostText(host) +
                                (report == null ? "." : "; " + report.Searched + "."), Sub(r.SourcePath, "image"))
                            {
                                RecommendedAction = report?.RecommendedAction,
                            });
                        }
                    }
                }
            }

            /// <summary>True when the router's host is usable (local, declared or known).</summary>
            private bool CheckRouterHost(RouterSpec r, string name, string label)
            {
                if (HostNames.IsLocalHost(r.Host)) return true;
                string? path = Sub(r.SourcePath, "host");
                var hostError = NameRules.Check(r.Host, "host");
                if (hostError != null)
                {
                    Retarget(hostError, name, label + ": ", path);
                    return false;
                }

                var declared = (_spec.Hosts ?? new List<HostSpec>()).Where(h => h != null).Select(h => h.Name ?? "");
                var known = (IEnumerable<string>?)_context.KnownHosts ?? Array.Empty<string>();
                if (declared.Concat(known).Any(h => Names.Equals(h, r.Host))) return true;

                Add(ErrorIds.UnknownHost, ErrorKind.ObjectNotFound, name, path,
                    label + ": the host " + Q(r.Host) + " is neither declared in the topology's \"hosts\" nor a known host." +
                    Suggestions.Hint(r.Host, declared.Concat(known).ToList()));
                return false;
            }

            // ---- links ---------------------------------------------------------------------------------------------

            private void CheckLinks()
            {
                var seen = new Dictionary<string, LinkSpec>(Names);
                var vlans = new Dictionary<int, LinkSpec>();

                foreach (var l in _links)
                {
                    string name = l.Name ?? "";
                    string label = Title("link", name, l.SourcePath);

                    CheckUniqueName(seen, l, name, "link", label, l.SourcePath, first => (first.Name, first.SourcePath));

                    bool fromOk = CheckEnd(l, name, label, l.From, "from");
                    bool toOk = CheckEnd(l, name, label, l.To, "to");
                    if (fromOk && toOk)
                    {
                        if (Names.Equals(l.From, l.To))
                            Add(ErrorIds.SelfLink, ErrorKind.InvalidArgument, name, l.SourcePath,
                                label + ": both ends are router " + Q(l.From) + "; a link must join two different routers.");
                        else
                            _edges.Add(l);
                    }

                    if (l.VlanId.HasValue)
                    {
                        int vlan = l.VlanId.Value;
                        if (vlan < 1 || vlan > 4094)
                            Add(ErrorIds.InvalidVlanId, ErrorKind.InvalidArgument, name, Sub(l.SourcePath, "vlanId"),
                                label + ": VLAN id " + N(vlan) + " is not valid; use 1 to 4094.");
                        else if (vlans.TryGetValue(vlan, out var other))
                            Add(ErrorIds.DuplicateVlanId, ErrorKind.InvalidData, name, Sub(l.SourcePath, "vlanId"),
                                label + ": VLAN id " + N(vlan) + " is already used by " + Describe("link", other.Name, other.SourcePath) + ".");
                        else
                            vlans[vlan] = l;
                    }

                    if (l.State.HasValue && !Enum.IsDefined(typeof(LinkState), l.State.Value))
                        Add(ErrorIds.InvalidLinkState, ErrorKind.InvalidArgument, name, Sub(l.SourcePath, "state"),
                            label + ": the state " + N((int)l.State.Value) + " is not a link state; use \"up\", \"cablePulled\" or \"silent\".");

                    if (l.MaximumBandwidth.HasValue)
                    {
                        long bw = l.MaximumBandwidth.Value;
                        if (bw < 0)
                            Add(ErrorIds.InvalidBandwidth, ErrorKind.InvalidArgument, name, Sub(l.SourcePath, "maximumBandwidth"),
                                label + ": the maximum bandwidth " + N(bw) + " bit/s is negative; leave it out (or use 0) for no limit.");
                        else if (bw > 0 && (bw < _caps.MinimumBandwidth || bw > _caps.MaximumBandwidth))
                            Add(ErrorIds.BandwidthOutOfRange, ErrorKind.LimitsExceeded, name, Sub(l.SourcePath, "maximumBandwidth"),
                                label + ": the maximum bandwidth " + Bandwidth.Format(bw) + " is outside what the backend can apply (" +
                                Bandwidth.Format(_caps.MinimumBandwidth) + " to " + Bandwidth.Format(_caps.MaximumBandwidth) + ").");
                    }
                }
            }

            /// <summary>True when the end names a router of the spec or a deployed one.</summary>
            private bool CheckEnd(LinkSpec l, string linkName, string label, string? end, string which)
            {
                if (!string.IsNullOrEmpty(end) && (_routerByName.ContainsKey(end!) || _observedRouters.ContainsKey(end!))) return true;
                string? path = Sub(l.SourcePath, which);
                var nameError = NameRules.Check(end, "router");
                if (nameError != null)
                {
                    Retarget(nameError, linkName, label + ", \"" + which + "\" end: ", path);
                    return false;
                }
                var candidates = _routerByName.Keys.Concat(_observedRouters.Keys).ToList();
                Add(ErrorIds.LinkEndpointNotFound, ErrorKind.ObjectNotFound, linkName, path,
                    label + ": the \"" + which + "\" end names router " + Q(end) + ", which is not in the topology" +
                    (_context.Observed != null ? " nor deployed" : "") + "." + Suggestions.Hint(end, candidates));
                return false;
            }

            private void CheckAdapterCounts()
            {
                var counts = new Dictionary<string, int>(Names);
                foreach (var l in _links)
                {
                    foreach (var end in new[] { l.From ?? "", l.To ?? "" })
                        counts[end] = counts.TryGetValue(end, out int n) ? n + 1 : 1;
                }
                foreach (var r in _routerByName.Values)
                {
                    if (counts.TryGetValue(r.Name ?? "", out int n) && n > _caps.MaxAdaptersPerRouter)
                        Add(ErrorIds.AdapterLimitExceeded, ErrorKind.LimitsExceeded, r.Name ?? "", r.SourcePath,
                            Title("router", r.Name, r.SourcePath) + ": " + N(n) + " links end at it, but the backend supports at most " +
                            N(_caps.MaxAdaptersPerRouter) + " network adapters per router.");
                }
            }

            // ---- virtual networks ----------------------------------------------------------------------------------

            /// <summary>
            /// Isolation and address families. Components of the router/link graph are built with union-find, links in spec
            /// order. Each component keeps the set of network labels of its routers. A new link (not deployed yet) that
            /// would join two components with different, non-empty label sets is an isolation violation unless forced;
            /// it is then left out, so later links are judged against the networks as they would really be. Deployed
            /// links are joined unconditionally. Afterwards, a component holding both IPv4 and IPv6 routers is a conflict.
            /// </summary>
            private void CheckNetworks()
            {
                var index = new Dictionary<string, int>(Names);
                var names = new List<string>();
                var families = new List<NetworkAddressFamily>();
                var labels = new List<HashSet<string>>();

                int NodeOf(string routerName)
                {
                    if (index.TryGetValue(routerName, out int i)) return i;
                    i = names.Count;
                    index[routerName] = i;
                    string? label;
                    if (_routerByName.TryGetValue(routerName, out var spec))
                    {
                        names.Add(spec.Name);
                        families.Add(spec.AddressFamily);
                        label = spec.NetworkLabel;
                    }
                    else
                    {
                        var observed = _observedRouters[routerName];
                        names.Add(observed.Name);
                        families.Add(observed.AddressFamily);
                        label = observed.NetworkLabel;
                    }
                    var set = new HashSet<string>(Names);
                    if (!string.IsNullOrEmpty(label)) set.Add(label!);
                    labels.Add(set);
                    return i;
                }

                foreach (var r in _routerByName.Values) NodeOf(r.Name ?? "");
                foreach (var l in _edges) { NodeOf(l.From); NodeOf(l.To); }

                var sets = new DisjointSets(names.Count);
                foreach (var l in _edges)
                {
                    int a = sets.Find(index[l.From]);
                    int b = sets.Find(index[l.To]);
                    if (a == b) continue;

                    bool deployed = _observedLinks.Contains(l.Name ?? "");
                    if (!deployed && !_context.Force && labels[a].Count > 0 && labels[b].Count > 0 && !labels[a].SetEquals(labels[b]))
                    {
                        Add(ErrorIds.NetworkIsolationViolation, ErrorKind.InvalidOperation, l.Name ?? "", l.SourcePath,
                            Title("link", l.Name, l.SourcePath) + ": it would join router " + Q(l.From) + " of network " + LabelText(labels[a]) +
                            " with router " + Q(l.To) + " of network " + LabelText(labels[b]) +
                            ". Differently labelled virtual networks stay isolated; use -Force to join them anyway.");
                        continue;
                    }
                    int root = sets.Union(a, b);
                    int other = root == a ? b : a;
                    labels[root].UnionWith(labels[other]);
                }

                // Address families per component, reported once per mixed component, in router order.
                var byComponent = new Dictionary<int, List<int>>();
                var order = new List<int>();
                for (int i = 0; i < names.Count; i++)
                {
                    int root = sets.Find(i);
                    if (!byComponent.TryGetValue(root, out var members))
                    {
                        byComponent[root] = members = new List<int>();
                        order.Add(root);
                    }
                    members.Add(i);
                }
                foreach (int root in order)
                {
                    var members = byComponent[root];
                    var family = families[members[0]];
                    int odd = members.FindIndex(m => families[m] != family);
                    if (odd < 0) continue;

                    var v4 = members.Where(m => families[m] == NetworkAddressFamily.IPv4).Select(m => names[m]).ToList();
                    var v6 = members.Where(m => families[m] == NetworkAddressFamily.IPv6).Select(m => names[m]).ToList();
                    var memberSet = new HashSet<string>(members.Select(m => names[m]), Names);
                    var joining = _edges.FirstOrDefault(l => memberSet.Contains(l.From) &&
                                                             families[index[l.From]] != families[index[l.To]]);
                    string target = names[members[odd]];
                    _routerByName.TryGetValue(target, out var targetSpec);
                    Add(ErrorIds.AddressFamilyConflict, ErrorKind.InvalidData, target, targetSpec?.SourcePath,
                        Title("router", target, targetSpec?.SourcePath) + ": its virtual network mixes address families: IPv4 routers " +
                        List(v4) + " and IPv6 routers " + List(v6) +
                        (joining != null ? " (link " + Q(joining.Name) + " joins " + Q(joining.From) + " and " + Q(joining.To) + ")" : "") +
                        ". All routers of a virtual network must use the same address family.");
                }
            }

            // ---- routing (the "networks" section) -------------------------------------------------------------------

            /// <summary>
            /// Each <c>networks</c> entry: a usable name, given once; a known routing protocol; timers inside
            /// <see cref="RoutingDefaults"/>' bounds with the dead interval above the hello interval; BFD only with OSPF and BFD
            /// timers only with BFD. With the deployed state known (<see cref="ValidationContext.Observed"/>), an entry must name a
            /// network label or a computed network of the merged topology (NetworkEntryNotFound; the file alone may name
            /// deployed networks, so that check waits for the backend). One computed network whose entries ask for different
            /// routing (labels joined by a forced merge) is NetworkRoutingConflict.
            /// </summary>
            private void CheckRoutingEntries()
            {
                var entries = _spec.Networks ?? new List<NetworkSpec>();
                if (entries.Count == 0) return;

                var routers = _routers.Concat(_observedRouters.Values.Where(o => !_routerByName.ContainsKey(o.Name ?? "")).Select(Engine.Snapshot.ToSpec)).ToList();
                var grouping = Routing.RoutingPlanner.Group(routers, _edges);
                var known = new HashSet<string>(Names);
                foreach (var n in grouping.Networks)
                {
                    known.Add(n.Name);
                    if (!string.IsNullOrEmpty(n.BaseName)) known.Add(n.BaseName);
                    foreach (var l in n.Labels) known.Add(l);
                }
                foreach (var r in routers)
                    if (!string.IsNullOrEmpty(r.NetworkLabel)) known.Add(r.NetworkLabel!);

                var seen = new Dictionary<string, NetworkSpec>(Names);
                var usable = new List<NetworkSpec>();
                for (int i = 0; i < entries.Count; i++)
                {
                    var e = entries[i];
                    if (e == null) continue;
                    string path = e.SourcePath ?? "networks[" + N(i) + "]";
                    string name = e.Name ?? "";
                    string label = "Network entry " + Q(name) + " (" + path + ")";

                    // A computed name ("a+b", "vn-r1", "a#2") is accepted as it is; anything else must be a valid label.
                    if (!known.Contains(name))
                    {
                        var nameError = NameRules.Check(name, "network", Sub(path, "name"));
                        if (nameError != null)
                        {
                            _errors.Add(new TopologyError(nameError.ErrorId, nameError.Kind, name, label + ": " + nameError.Message, Sub(path, "name")));
                            continue;
                        }
                    }
                    if (seen.TryGetValue(name, out var first))
                    {
                        Add(ErrorIds.DuplicateName, ErrorKind.InvalidData, name, path,
                            label + ": the network is already described by " + (first.SourcePath ?? "an earlier entry") +
                            "; give each network one entry (names are compared case-insensitively).");
                        continue;
                    }
                    seen[name] = e;

                    bool ok = true;
                    if (!Enum.IsDefined(typeof(RoutingProtocol), e.Routing))
                    {
                        Add(ErrorIds.InvalidRoutingProtocol, ErrorKind.InvalidArgument, name, Sub(path, "routing"),
                            label + ": routing " + N((int)e.Routing) + " is not a routing protocol; use \"static\" or \"ospf\".");
                        ok = false;
                    }
                    else if (e.Routing != RoutingProtocol.Ospf)
                    {
                        if (e.Bfd || e.BfdIntervalMilliseconds.HasValue || e.BfdMultiplier.HasValue)
                        {
                            Add(ErrorIds.BfdWithoutOspf, ErrorKind.InvalidArgument, name, Sub(path, e.Bfd ? "bfd" : e.BfdIntervalMilliseconds.HasValue ? "bfdIntervalMs" : "bfdMultiplier"),
                                label + ": BFD needs \"routing\": \"ospf\" (static routes have no neighbours to watch).");
                            ok = false;
                        }
                        if (e.HelloIntervalSeconds.HasValue || e.DeadIntervalSeconds.HasValue)
                        {
                            Add(ErrorIds.InvalidRoutingTimer, ErrorKind.InvalidArgument, name, Sub(path, e.HelloIntervalSeconds.HasValue ? "helloIntervalSec" : "deadIntervalSec"),
                                label + ": helloIntervalSec and deadIntervalSec apply only to \"routing\": \"ospf\".");
                            ok = false;
                        }
                    }
                    else
                    {
                        ok &= Range(e.HelloIntervalSeconds, RoutingDefaults.MinHelloIntervalSeconds, RoutingDefaults.MaxHelloIntervalSeconds, "helloIntervalSec", "s", name, path, label);
                        ok &= Range(e.DeadIntervalSeconds, RoutingDefaults.MinDeadIntervalSeconds, RoutingDefaults.MaxDeadIntervalSeconds, "deadIntervalSec", "s", name, path, label);
                        ok &= Range(e.BfdIntervalMilliseconds, RoutingDefaults.MinBfdIntervalMilliseconds, RoutingDefaults.MaxBfdIntervalMilliseconds, "bfdIntervalMs", "ms", name, path, label);
                        ok &= Range(e.BfdMultiplier, RoutingDefaults.MinBfdMultiplier, RoutingDefaults.MaxBfdMultiplier, "bfdMultiplier", "", name, path, label);
                        int hello = e.HelloIntervalSeconds ?? RoutingDefaults.HelloIntervalSeconds;
                        int dead = e.DeadIntervalSeconds ?? RoutingDefaults.DeadIntervalSeconds;
                        if (ok && dead <= hello)
                        {
                            Add(ErrorIds.InvalidRoutingTimer, ErrorKind.InvalidArgument, name, Sub(path, e.DeadIntervalSeconds.HasValue ? "deadIntervalSec" : "helloIntervalSec"),
                                label + ": the dead interval (" + N(dead) + " s) must be longer than the hello interval (" + N(hello) +
                                " s); several hellos must be able to go missing before a neighbour is declared down (4 x hello is usual).");
                            ok = false;
                        }
                        if (!e.Bfd && (e.BfdIntervalMilliseconds.HasValue || e.BfdMultiplier.HasValue))
                        {
                            Add(ErrorIds.InvalidRoutingTimer, ErrorKind.InvalidArgument, name, Sub(path, e.BfdIntervalMilliseconds.HasValue ? "bfdIntervalMs" : "bfdMultiplier"),
                                label + ": bfdIntervalMs and bfdMultiplier apply only with \"bfd\": true.");
                            ok = false;
                        }
                    }

                    if (_context.Observed != null && !known.Contains(name))
                    {
                        Add(ErrorIds.NetworkEntryNotFound, ErrorKind.ObjectNotFound, name, Sub(path, "name"),
                            label + ": no router carries the network label " + Q(name) + " and no computed network has that name." +
                            Suggestions.Hint(name, known.ToList()) + " An entry names a routers' \"network\" label or a computed network (such as vn-r1).");
                        ok = false;
                    }
                    if (ok) usable.Add(e);
                }

                foreach (var (network, conflicting) in Routing.RoutingPlanner.ConflictsOf(grouping, usable))
                {
                    var firstEntry = conflicting[0];
                    Add(ErrorIds.NetworkRoutingConflict, ErrorKind.InvalidData, network.Name, firstEntry.SourcePath,
                        "Virtual network " + Q(network.Name) + " joins labels whose network entries ask for different routing: " +
                        string.Join("; ", conflicting.Select(c => Q(c.Name) + " " + Routing.RoutingPlanner.Describe(c) +
                                                                   (string.IsNullOrEmpty(c.SourcePath) ? "" : " (" + c.SourcePath + ")"))) +
                        ". One network runs one routing: give its entries the same settings, or one entry for " + Q(network.Name) + ".");
                }
            }

            private bool Range(int? value, int min, int max, string field, string unit, string target, string path, string label)
            {
                if (!value.HasValue || (value.Value >= min && value.Value <= max)) return true;
                Add(ErrorIds.InvalidRoutingTimer, ErrorKind.InvalidArgument, target, Sub(path, field),
                    label + ": " + field + " " + N(value.Value) + " is outside " + N(min) + " to " + N(max) + (unit.Length == 0 ? "" : " " + unit) + ".");
                return false;
            }

            private void CheckPools()
            {
                var pools = _spec.AddressPools;
                if (pools == null) return;
                var e4 = AddressPoolRules.Check(pools.IPv4, NetworkAddressFamily.IPv4, "defaults.ipv4AddressPool");
                if (e4 != null) _errors.Add(e4);
                var e6 = AddressPoolRules.Check(pools.IPv6, NetworkAddressFamily.IPv6, "defaults.ipv6AddressPool");
                if (e6 != null) _errors.Add(e6);
            }

            // ---- physical network (underlay) -----------------------------------------------------------------------

            /// <summary>Host names (canonical: every local alias is the machine's name) joined by valid physical links.</summary>
            private readonly List<(string From, string To)> _underlay = new List<(string From, string To)>();

            /// <summary>True when <paramref name="host"/> is the local machine, declared in "hosts" or a known host.</summary>
            private bool IsUsableHost(string? host)
            {
                if (HostNames.IsLocalHost(host)) return true;
                if ((_spec.Hosts ?? new List<HostSpec>()).Any(h => h != null && Names.Equals(h.Name, host))) return true;
                return _context.KnownHosts != null && _context.KnownHosts.Any(h => Names.Equals(h, host));
            }

            /// <summary>
            /// Each physical link: both ends name a usable host (declared, known, or the local machine), the ends differ,
            /// and no two links join the same two hosts (in either direction).
            /// </summary>
            private void CheckPhysicalLinks()
            {
                var links = _spec.PhysicalLinks ?? new List<PhysicalLinkSpec>();
                var seen = new Dictionary<string, PhysicalLinkSpec>(Names);
                for (int i = 0; i < links.Count; i++)
                {
                    var p = links[i];
                    if (p == null) continue;
                    string path = p.SourcePath ?? "physicalLinks[" + N(i) + "]";
                    string target = (p.From ?? "") + "--" + (p.To ?? "");
                    string label = "Physical link " + Q(target) + " (" + path + ")";
                    bool ok = true;
                    foreach (var (end, which) in new[] { (p.From, "from"), (p.To, "to") })
                    {
                        if (HostNames.IsLocalHost(end) && !string.IsNullOrEmpty(end)) continue;
                        var nameError = NameRules.Check(end, "host");
                        if (nameError != null)
                        {
                            Retarget(nameError, target, label + ", \"" + which + "\" end: ", path + "." + which);
                            ok = false;
                            continue;
                        }
                        if (!IsUsableHost(end))
                        {
                            var candidates = (_spec.Hosts ?? new List<HostSpec>()).Where(h => h != null).Select(h => h.Name ?? "")
                                .Concat((IEnumerable<string>?)_context.KnownHosts ?? Array.Empty<string>()).ToList();
                            Add(ErrorIds.PhysicalLinkHostNotFound, ErrorKind.ObjectNotFound, target, path + "." + which,
                                label + ": the \"" + which + "\" end names host " + Q(end) + ", which is neither declared in the topology's " +
                                "\"hosts\" nor the local machine" + (_context.KnownHosts != null && _context.KnownHosts.Count > 0 ? " nor a known host" : "") +
                                "." + Suggestions.Hint(end, candidates));
                            ok = false;
                        }
                    }
                    if (!ok) continue;

                    string a = HostNames.Canonical(p.From), b = HostNames.Canonical(p.To);
                    if (Names.Equals(a, b))
                    {
                        Add(ErrorIds.PhysicalSelfLink, ErrorKind.InvalidArgument, target, path,
                            label + ": both ends are host " + Q(a) + "; a physical link must join two different hosts.");
                        continue;
                    }
                    string key = PhysicalLink.NameOf(a, b);
                    if (seen.TryGetValue(key, out var first))
                    {
                        Add(ErrorIds.DuplicatePhysicalLink, ErrorKind.InvalidData, target, path,
                            label + ": hosts " + Q(a) + " and " + Q(b) + " are already joined by " +
                            (string.IsNullOrEmpty(first.SourcePath) ? "physical link " + Q(first.From + "--" + first.To) : first.SourcePath) +
                            "; declare each pair of hosts once (the direction does not matter).");
                        continue;
                    }
                    seen[key] = p;
                    _underlay.Add((a, b));
                }
            }

            /// <summary>
            /// When the topology describes its physical network (at least one physical link), every virtual link whose
            /// routers are on different hosts needs a path between those hosts over the physical links (it is tunnelled
            /// along it). Links with an unusable end or host are reported elsewhere and skipped here.
            /// </summary>
            private void CheckUnderlay()
            {
                if ((_spec.PhysicalLinks ?? new List<PhysicalLinkSpec>()).Count == 0) return;
                var graph = UnderlayPaths.Graph(_underlay);

                string? HostOf(string router)
                {
                    string? host = _routerByName.TryGetValue(router, out var spec) ? spec.Host
                        : _observedRouters.TryGetValue(router, out var observed) ? observed.ComputerName : null;
                    if (host == null || !IsUsableHost(host) || (!HostNames.IsLocalHost(host) && NameRules.Check(host, "host") != null)) return null;
                    return HostNames.Canonical(host);
                }

                foreach (var l in _edges)
                {
                    var from = HostOf(l.From);
                    var to = HostOf(l.To);
                    if (from == null || to == null || Names.Equals(from, to)) continue;
                    if (UnderlayPaths.Reachable(graph, from, to)) continue;
                    var reach = UnderlayPaths.Component(graph, from).Where(h => !Names.Equals(h, from)).OrderBy(h => h, Names).ToList();
                    Add(ErrorIds.NoUnderlayPath, ErrorKind.InvalidData, l.Name ?? "", l.SourcePath,
                        Title("link", l.Name, l.SourcePath) + ": it joins router " + Q(l.From) + " on host " + Q(from) + " and router " +
                        Q(l.To) + " on host " + Q(to) + ", but no chain of physicalLinks connects those hosts (" + Q(from) +
                        (reach.Count == 0 ? " has no physical link" : " reaches only " + List(reach)) +
                        "). Add a physical link, or place both routers on connected hosts.");
                }
            }

            // ---- helpers -------------------------------------------------------------------------------------------

            /// <summary>Checks a router's or link's name (NameRules) and that no earlier one has it (case-insensitive).</summary>
            private void CheckUniqueName<T>(Dictionary<string, T> seen, T item, string name, string what, string label, string? path,
                Func<T, (string? Name, string? Path)> describe)
            {
                var nameError = NameRules.Check(name, what, path);
                if (nameError != null) _errors.Add(nameError);
                else if (seen.TryGetValue(name, out var first))
                {
                    var (firstName, firstPath) = describe(first);
                    Add(ErrorIds.DuplicateName, ErrorKind.InvalidData, name, path,
                        label + ": the name is already used by " + Describe(what, firstName, firstPath) +
                        "; " + what + " names are compared case-insensitively.");
                }
                else
                    seen[name] = item;
            }

            private void Add(string id, ErrorKind kind, string target, string? path, string message) =>
                _errors.Add(new TopologyError(id, kind, target, message, path));

            /// <summary>Adds a NameRules error about a field of an item, with the item as target.</summary>
            private void Retarget(TopologyError e, string target, string prefix, string? path) =>
                _errors.Add(new TopologyError(e.ErrorId, e.Kind, target, prefix + e.Message, path));

            /// <summary>"router 'r1' (routers[2])", or without the path when the item did not come from a file.</summary>
            private static string Describe(string what, string? name, string? path) =>
                what + " " + Q(name ?? "") + (string.IsNullOrEmpty(path) ? "" : " (" + path + ")");

            /// <summary><see cref="Describe"/> starting with a capital, to open a message.</summary>
            private static string Title(string what, string? name, string? path)
            {
                string text = Describe(what, name, path);
                return char.ToUpperInvariant(text[0]) + text.Substring(1);
            }

            private static string? Sub(string? path, string field) => string.IsNullOrEmpty(path) ? null : path + "." + field;

            private static string Q(string? text) => DisplayText.Quote(text);

            private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

            private static string HostText(string host) => host.Length == 0 ? "the local machine" : "host " + Q(host);

            private static string LabelText(HashSet<string> labels) =>
                string.Join(" + ", labels.OrderBy(s => s, StringComparer.OrdinalIgnoreCase).Select(Q));

            private static string List(List<string> items)
            {
                const int shown = 5;
                string text = string.Join(", ", items.Take(shown).Select(Q));
                return items.Count > shown ? text + " and " + N(items.Count - shown) + " more" : text;
            }
        }

        /// <summary>Union-find with path halving and union by size.</summary>
        private sealed class DisjointSets
        {
            private readonly int[] _parent;
            private readonly int[] _size;

            public DisjointSets(int count)
            {
                _parent = new int[count];
                _size = new int[count];
                for (int i = 0; i < count; i++) { _parent[i] = i; _size[i] = 1; }
            }

            public int Find(int x)
            {
                while (_parent[x] != x)
                {
                    _parent[x] = _parent[_parent[x]];
                    x = _parent[x];
                }
                return x;
            }

            /// <summary>Joins the sets of two roots; returns the surviving root.</summary>
            public int Union(int a, int b)
            {
                a = Find(a);
                b = Find(b);
                if (a == b) return a;
                if (_size[a] < _size[b]) { int t = a; a = b; b = t; }
                _parent[b] = a;
                _size[a] += _size[b];
                return a;
            }
        }
    }
}
