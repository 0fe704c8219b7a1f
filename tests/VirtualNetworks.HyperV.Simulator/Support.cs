using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>The four gateway primitives, for fault rules and counters.</summary>
    public enum GatewayOperation { Any, Query, GetAssociated, GetInstance, InvokeMethod }

    /// <summary>What a fault predicate sees about one gateway call.</summary>
    public sealed class SimulatedCall
    {
        internal SimulatedCall(GatewayOperation operation, string className, string? method, CimReference? target, IReadOnlyDictionary<string, object?> parameters, string? text)
        {
            Operation = operation; ClassName = className; Method = method; Target = target; Parameters = parameters; Text = text;
        }
        public GatewayOperation Operation { get; }
        /// <summary>Queried class, association class, instance class or method target class.</summary>
        public string ClassName { get; }
        public string? Method { get; }
        public CimReference? Target { get; }
        /// <summary>Input parameters by name (values as passed: string, string[], CimReference, CimReference[], numbers).</summary>
        public IReadOnlyDictionary<string, object?> Parameters { get; }
        /// <summary>The WQL text of a query.</summary>
        public string? Text { get; }
        public override string ToString() => $"{Operation} {ClassName} {Method}";
    }

    /// <summary>
    /// Fault injection. Every rule counts the calls it matches (from 1); <c>occurrence</c> null fires on every match,
    /// otherwise only on that one. A fault fires before the simulator changes anything, except FailJob with
    /// afterPartialWork, which applies the first half of the method's changes before the job fails.
    /// </summary>
    public sealed class SimulatorFaults
    {
        private readonly object _sync = new object();
        private readonly List<Rule> _rules = new List<Rule>();

        internal sealed class Rule
        {
            public GatewayOperation Operation;
            public string? Match;
            public int? Occurrence;
            public Func<SimulatedCall, bool>? When;
            public int Seen;
            // kinds
            public CimErrorCode? Throw;
            public string? Message;
            public uint? ReturnValue;
            public bool FailJob;
            public ushort ErrorCode;
            public string? Description;
            public bool AfterPartialWork;
            public bool AsCompleted;
            public uint? StatusCode;
            public bool WarnJob;
        }

        /// <summary>The method answers <paramref name="returnValue"/> without doing anything.</summary>
        public void FailMethod(string method, uint returnValue, int? occurrence = null, Func<SimulatedCall, bool>? when = null) =>
            Add(new Rule { Operation = GatewayOperation.InvokeMethod, Match = method, Occurrence = occurrence, When = when, ReturnValue = returnValue });

        /// <summary>
        /// The method answers 4096 and its job ends in JobState 10 (Exception) with <paramref name="errorCode"/>,
        /// <paramref name="description"/> and an Msvm_Error whose Message is <paramref name="message"/> (GetError/GetErrorEx).
        /// Without <paramref name="afterPartialWork"/> nothing changes; with it, the first half of the method's changes are applied.
        /// </summary>
        /// With <paramref name="asCompleted"/> the failed job ends in JobState 7 (Completed) with the non-zero ErrorCode,
        /// OperationalStatus {Error, Completed} and the Msvm_Error (the reading os-win guards against).
        public void FailJob(string method, ushort errorCode = 32768, string? description = null, string? message = null, int? occurrence = null,
            Func<SimulatedCall, bool>? when = null, bool afterPartialWork = false, bool asCompleted = false) =>
            Add(new Rule
            {
                Operation = GatewayOperation.InvokeMethod, Match = method, Occurrence = occurrence, When = when, FailJob = true,
                ErrorCode = errorCode, Description = description ?? $"{method} failed (injected).", Message = message ?? $"{method} failed (injected fault).",
                AfterPartialWork = afterPartialWork, AsCompleted = asCompleted,
            });

        /// <summary>
        /// The method's job succeeds (its changes are applied) but ends in JobState 7 with the non-zero
        /// <paramref name="errorCode"/>, OperationalStatus {OK, Completed} and no Msvm_Error (the reading of Microsoft's
        /// Go library, which treats every Completed job as a success).
        /// </summary>
        public void WarnJob(string method, ushort errorCode, int? occurrence = null, Func<SimulatedCall, bool>? when = null) =>
            Add(new Rule { Operation = GatewayOperation.InvokeMethod, Match = method, Occurrence = occurrence, When = when, WarnJob = true, ErrorCode = errorCode });

        /// <summary>
        /// The gateway operation throws <see cref="CimGatewayException"/> with <paramref name="code"/>. <paramref name="match"/>
        /// is compared with the class name (queries, GetInstance, associations) or the method name (InvokeMethod).
        /// </summary>
        public void Throw(CimErrorCode code, GatewayOperation operation = GatewayOperation.Any, string? match = null, int? occurrence = null,
            Func<SimulatedCall, bool>? when = null, string? message = null) =>
            Add(new Rule { Operation = operation, Match = match, Occurrence = occurrence, When = when, Throw = code, Message = message });

        public void Clear() { lock (_sync) _rules.Clear(); }

        private void Add(Rule r) { lock (_sync) _rules.Add(r); }

        internal Rule? Next(SimulatedCall call, Func<Rule, bool> kind)
        {
            lock (_sync)
            {
                foreach (var r in _rules)
                {
                    if (!kind(r)) continue;
                    if (r.Operation != GatewayOperation.Any && r.Operation != call.Operation) continue;
                    if (r.Match != null)
                    {
                        bool m = string.Equals(r.Match, call.Method, StringComparison.OrdinalIgnoreCase) ||
                                 string.Equals(r.Match, call.ClassName, StringComparison.OrdinalIgnoreCase);
                        if (!m) continue;
                    }
                    if (r.When != null && !r.When(call)) continue;
                    r.Seen++;
                    if (r.Occurrence == null || r.Occurrence == r.Seen) return r;
                }
                return null;
            }
        }
    }

    /// <summary>Call counters (thread-safe); the benchmarks compare them for 10, 100 and 1000 routers.</summary>
    public sealed class SimulatorCounters
    {
        private readonly object _sync = new object();
        private readonly Dictionary<string, int> _methods = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, int> _queries = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, int> _rowsOf = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        private int _query, _assoc, _get, _invoke, _polls, _rows;

        /// <summary>Query calls (enumerations).</summary>
        public int Queries => Volatile.Read(ref _query);
        public int GetAssociated => Volatile.Read(ref _assoc);
        /// <summary>GetInstance calls, job polls included.</summary>
        public int GetInstance => Volatile.Read(ref _get);
        public int InvokeMethod => Volatile.Read(ref _invoke);
        /// <summary>GetInstance calls on job references.</summary>
        public int JobPolls => Volatile.Read(ref _polls);
        /// <summary>Instances returned by Query and GetAssociated calls (GetInstance not included): the size of the reads.</summary>
        public int RowsReturned => Volatile.Read(ref _rows);
        /// <summary>Rows returned by queries whose FROM class is <paramref name="className"/>.</summary>
        public int RowsOf(string className) { lock (_sync) return _rowsOf.TryGetValue(className, out var n) ? n : 0; }
        /// <summary>All four primitives.</summary>
        public int Total => Queries + GetAssociated + GetInstance + InvokeMethod;

        /// <summary>InvokeMethod calls of one method name.</summary>
        public int Method(string name) { lock (_sync) return _methods.TryGetValue(name, out var n) ? n : 0; }
        /// <summary>Queries whose FROM class is <paramref name="className"/>.</summary>
        public int QueriesOf(string className) { lock (_sync) return _queries.TryGetValue(className, out var n) ? n : 0; }
        public IReadOnlyDictionary<string, int> Methods { get { lock (_sync) return new Dictionary<string, int>(_methods, StringComparer.OrdinalIgnoreCase); } }

        public void Reset()
        {
            lock (_sync)
            {
                _methods.Clear(); _queries.Clear(); _rowsOf.Clear();
                _query = _assoc = _get = _invoke = _polls = _rows = 0;
            }
        }

        internal void CountQuery(string className) { lock (_sync) { _query++; _queries[className] = (_queries.TryGetValue(className, out var n) ? n : 0) + 1; } }
        internal void CountAssociated() { lock (_sync) _assoc++; }
        internal void CountRows(string? queriedClass, int rows)
        {
            lock (_sync)
            {
                _rows += rows;
                if (queriedClass != null) _rowsOf[queriedClass] = (_rowsOf.TryGetValue(queriedClass, out var n) ? n : 0) + rows;
            }
        }
        internal void CountGet(bool job) { lock (_sync) { _get++; if (job) _polls++; } }
        internal void CountInvoke(string method) { lock (_sync) { _invoke++; _methods[method] = (_methods.TryGetValue(method, out var n) ? n : 0) + 1; } }

        public override string ToString() => $"Query={Queries} GetAssociated={GetAssociated} GetInstance={GetInstance} (job polls {JobPolls}) InvokeMethod={InvokeMethod} RowsReturned={RowsReturned}";
    }

    /// <summary>When a job-returning Add*Settings call fills ResultingResourceSettings / ResultingFeatureSettings (pitfall 11).</summary>
    public enum ResultingSettingsPolicy
    {
        Always,
        /// <summary>Never with a job: the backend must read Msvm_AffectedJobElement.</summary>
        Never,
        /// <summary>Every second job-returning Add*Settings call on a host omits it (2nd, 4th, ...).</summary>
        EveryOther,
    }

    /// <summary>One NIC of a VM as the simulated guest agent sees it.</summary>
    public sealed class SimulatedNic
    {
        internal SimulatedNic() { }
        public string ElementName { get; internal set; } = "";
        /// <summary>12 hex digits; "000000000000" for a dynamic MAC before the VM first started.</summary>
        public string MacAddress { get; internal set; } = "";
        public bool StaticMacAddress { get; internal set; }
        public string InstanceId { get; internal set; } = "";
        /// <summary>Switch friendly name, or null when not connected.</summary>
        public string? SwitchName { get; internal set; }
        public string? SwitchId { get; internal set; }
        /// <summary>Connection exists, is enabled (EnabledState 2) and names an existing switch.</summary>
        public bool Connected { get; internal set; }
        /// <summary>Access VLAN (OperationMode 1) or null.</summary>
        public ushort? AccessVlanId { get; internal set; }
        /// <summary>Bandwidth feature Limit, or null.</summary>
        public ulong? BandwidthLimit { get; internal set; }
        /// <summary>The port's ACLs (Msvm_EthernetSwitchPortAclSettingData).</summary>
        public List<SimulatedAcl> Acls { get; } = new List<SimulatedAcl>();
        /// <summary>Frames the port drops in <paramref name="direction"/> (1 Incoming, 2 Outgoing): a Deny MAC ACL matching every address.</summary>
        public bool DropsAll(byte direction) => Acls.Any(a => a.Direction == direction && a.Action == 2 && a.MatchesEveryFrame);
        /// <summary>The port forwards frames: connected (EnabledState 2) and no deny-all ACL in either direction.</summary>
        public bool Forwards => Connected && !DropsAll(1) && !DropsAll(2);
        public override string ToString() => $"{ElementName} {MacAddress} -> {SwitchName ?? "(none)"} vlan {AccessVlanId?.ToString() ?? "-"}";
    }

    /// <summary>One port ACL as stored (values of learn.microsoft.com msvm-ethernetswitchportaclsettingdata).</summary>
    public sealed class SimulatedAcl
    {
        internal SimulatedAcl() { }
        public string Name { get; internal set; } = "";
        public byte Direction { get; internal set; }
        public byte Applicability { get; internal set; }
        public byte AclType { get; internal set; }
        public byte Action { get; internal set; }
        public string RemoteAddress { get; internal set; } = "";
        public byte RemoteAddressPrefixLength { get; internal set; }
        public string LocalAddress { get; internal set; } = "";
        public byte LocalAddressPrefixLength { get; internal set; }
        /// <summary>
        /// A MAC ACL whose address side (Applicability) has prefix length 0 matches every frame, as 0.0.0.0/0 matches
        /// every IPv4 packet (behaviour chosen: the WMI encoding of the cmdlets' "ANY" is not documented).
        /// </summary>
        public bool MatchesEveryFrame => AclType == 1 && (Applicability == 2 ? RemoteAddressPrefixLength : LocalAddressPrefixLength) == 0;
    }

    /// <summary>What the simulated guest agent sees: the VM, its NICs and its KVP items (a snapshot).</summary>
    public sealed class SimulatedGuestContext
    {
        internal SimulatedGuestContext(HyperVSimulator host) { Host = host; }
        /// <summary>The simulated host (its read API is usable from the agent: it runs under the host's lock, which is re-entrant).</summary>
        public HyperVSimulator Host { get; }
        public string HostName => Host.ComputerName;
        /// <summary>VM GUID (Msvm_ComputerSystem.Name).</summary>
        public string VmId { get; internal set; } = "";
        public string VmName { get; internal set; } = "";
        public ushort EnabledState { get; internal set; }
        public bool GuestUp { get; internal set; }
        public IReadOnlyList<SimulatedNic> Nics { get; internal set; } = Array.Empty<SimulatedNic>();
        /// <summary>Host → guest items (Source 0), by name.</summary>
        public IReadOnlyDictionary<string, string> HostItems { get; internal set; } = new Dictionary<string, string>();
        /// <summary>Guest → host items (Source 1), by name.</summary>
        public IReadOnlyDictionary<string, string> GuestItems { get; internal set; } = new Dictionary<string, string>();
        public override string ToString() => $"{VmName} ({VmId}) state {EnabledState}";
    }
}
