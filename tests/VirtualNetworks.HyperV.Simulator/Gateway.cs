using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>An <see cref="ICimGateway"/> onto one <see cref="HyperVSimulator"/>.</summary>
    internal sealed class SimulatedGateway : ICimGateway
    {
        private readonly HyperVSimulator _host;
        private readonly string? _alias;
        public SimulatedGateway(HyperVSimulator host, string? connectedAs) { _host = host; _alias = connectedAs; }
        public string ComputerName => _alias ?? _host.ComputerName;
        public IReadOnlyList<CimObject> Query(string @namespace, string wql, CancellationToken cancellationToken) => _host.DoQuery(@namespace, wql, cancellationToken);
        public IReadOnlyList<CimObject> GetAssociated(CimReference source, string associationClass, string? resultClass, string? sourceRole, string? resultRole,
            CancellationToken cancellationToken) => _host.DoGetAssociated(Own(source), associationClass, resultClass, sourceRole, resultRole, cancellationToken);
        public CimObject? GetInstance(CimReference reference, CancellationToken cancellationToken) => _host.DoGetInstance(Own(reference), cancellationToken);
        public CimMethodResult InvokeMethod(CimReference target, string method, IReadOnlyList<CimMethodParameter> parameters, CancellationToken cancellationToken) =>
            _host.DoInvoke(Own(target), method, parameters?.Select(Own).ToList(), cancellationToken);

        // MI sends a reference as keys over the session: the host part of a reference passed to the gateway is the
        // session's host, whatever name the session was opened with. Paths inside settings are text and stay as written.
        private CimReference Own(CimReference r) =>
            r != null && _alias != null && string.Equals(r.Host, _alias, StringComparison.OrdinalIgnoreCase) ? r.WithHost(_host.ComputerName) : r;

        private CimMethodParameter Own(CimMethodParameter p) => p.Value switch
        {
            CimReference one when _alias != null => new CimMethodParameter(p.Name, p.Type, p.IsArray, Own(one)),
            CimReference[] many when _alias != null => new CimMethodParameter(p.Name, p.Type, p.IsArray, many.Select(Own).ToArray()),
            _ => p,
        };
        public void Dispose() { }
    }

    /// <summary>A datacenter gateway: every call first checks that the host is reachable (SimulatedDatacenter.SetReachable).</summary>
    internal sealed class ReachabilityGateway : ICimGateway
    {
        private readonly SimulatedDatacenter _dc;
        private readonly ICimGateway _inner;
        private readonly UnreachableGateway _down;
        public ReachabilityGateway(SimulatedDatacenter dc, string name, ICimGateway inner) { _dc = dc; _inner = inner; _down = new UnreachableGateway(name); }
        private ICimGateway Target => _dc.IsReachable(_inner.ComputerName) ? _inner : _down;
        public string ComputerName => _inner.ComputerName;
        public IReadOnlyList<CimObject> Query(string @namespace, string wql, CancellationToken cancellationToken) => Target.Query(@namespace, wql, cancellationToken);
        public IReadOnlyList<CimObject> GetAssociated(CimReference source, string associationClass, string? resultClass, string? sourceRole, string? resultRole,
            CancellationToken cancellationToken) => Target.GetAssociated(source, associationClass, resultClass, sourceRole, resultRole, cancellationToken);
        public CimObject? GetInstance(CimReference reference, CancellationToken cancellationToken) => Target.GetInstance(reference, cancellationToken);
        public CimMethodResult InvokeMethod(CimReference target, string method, IReadOnlyList<CimMethodParameter> parameters, CancellationToken cancellationToken) =>
            Target.InvokeMethod(target, method, parameters, cancellationToken);
        public void Dispose() => _inner.Dispose();
    }

    /// <summary>A gateway to a host that does not exist: every call throws ConnectionFailed.</summary>
    internal sealed class UnreachableGateway : ICimGateway
    {
        public UnreachableGateway(string name) { ComputerName = name; }
        public string ComputerName { get; }
        private Exception Fail(string op) => new CimGatewayException(CimErrorCode.ConnectionFailed, ComputerName, op,
            $"The WinRM client cannot connect to '{ComputerName}' (simulated: no such host in the datacenter, or it was made unreachable).");
        public IReadOnlyList<CimObject> Query(string @namespace, string wql, CancellationToken cancellationToken) => throw Fail("Query");
        public IReadOnlyList<CimObject> GetAssociated(CimReference source, string associationClass, string? resultClass, string? sourceRole, string? resultRole,
            CancellationToken cancellationToken) => throw Fail("GetAssociated");
        public CimObject? GetInstance(CimReference reference, CancellationToken cancellationToken) => throw Fail("GetInstance");
        public CimMethodResult InvokeMethod(CimReference target, string method, IReadOnlyList<CimMethodParameter> parameters, CancellationToken cancellationToken) =>
            throw Fail("Invoke " + method);
        public void Dispose() { }
    }

    public sealed partial class HyperVSimulator
    {
        private static readonly IReadOnlyDictionary<string, object?> NoParameters = new Dictionary<string, object?>();

        private CimGatewayException Error(CimErrorCode code, string operation, string message) =>
            new CimGatewayException(code, ComputerName, operation, $"{message} (simulated host '{ComputerName}')");

        private void InjectThrow(SimulatedCall call, string operation)
        {
            var rule = Faults.Next(call, r => r.Throw != null);
            if (rule != null) throw Error(rule.Throw!.Value, operation, rule.Message ?? $"Injected fault {rule.Throw} on {operation}.");
        }

        private void CheckNamespace(string ns, string operation)
        {
            if (!string.Equals(ns, CimReference.VirtualizationNamespace, StringComparison.OrdinalIgnoreCase) &&
                !string.Equals(ns, CimReference.Cimv2Namespace, StringComparison.OrdinalIgnoreCase))
                throw Error(CimErrorCode.InvalidNamespace, operation, $"Invalid namespace '{ns}'.");
        }

        private SimClassDef ClassOrThrow(string name, string ns, string operation)
        {
            var cls = HyperVSchema.Find(name);
            if (cls == null || !string.Equals(cls.Namespace, ns, StringComparison.OrdinalIgnoreCase))
                throw Error(CimErrorCode.InvalidClass, operation, $"Invalid class '{name}' in namespace '{ns}'.");
            return cls;
        }

        private void CheckHost(CimReference r, string operation)
        {
            if (!string.IsNullOrEmpty(r.Host) && r.Host != "." && !string.Equals(r.Host, ComputerName, StringComparison.OrdinalIgnoreCase))
                throw Error(CimErrorCode.InvalidParameter, operation, $"The reference {r} names host '{r.Host}', but this session is connected to '{ComputerName}'.");
        }

        // =============================================================== Query

        internal IReadOnlyList<CimObject> DoQuery(string ns, string wql, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            string op = "Query " + wql;
            WqlQuery? q = null;
            WqlException? syntax = null;
            try { q = WqlParser.Parse(wql); } catch (WqlException ex) { syntax = ex; }
            Counters.CountQuery(q?.ClassName ?? "?");
            lock (Sync)
            {
                InjectThrow(new SimulatedCall(GatewayOperation.Query, q?.ClassName ?? "", null, null, NoParameters, wql), op);
                CheckNamespace(ns, op);
                if (q == null) throw Error(CimErrorCode.InvalidQuery, op, "Invalid query: " + syntax!.Message);
                var cls = ClassOrThrow(q.ClassName, ns, op);
                foreach (var p in q.ReferencedProperties())
                    if (cls.Property(p) == null) throw Error(CimErrorCode.InvalidQuery, op, $"Invalid query: {cls.Name} has no property '{p}'.");
                if (q.Where != null)
                    foreach (var p in q.Where.Properties())
                        if (cls.Property(p)!.IsArray) throw Error(CimErrorCode.InvalidQuery, op, $"Invalid query: array property '{p}' cannot be used in WHERE.");
                Advance();
                var result = new List<CimObject>();
                foreach (var o in Source(cls))
                {
                    if (q.Where != null && !q.Where.Evaluate(o)) continue;
                    result.Add(Project(o, q.Properties));
                }
                Counters.CountRows(q.ClassName, result.Count);
                return result;
            }
        }

        private IEnumerable<CimObject> Source(SimClassDef cls)
        {
            if (cls.IsA("CIM_LogicalFile")) return _files.Values.Where(f => !IsUncPath(f.Path)).Select(DataFile).ToList();
            if (cls.IsAssociation) return AssociationInstances(cls).ToList();
            if (cls.EmbeddedOnly) return Array.Empty<CimObject>();
            return Enumerate(cls);
        }

        private static CimObject Project(CimObject o, IReadOnlyList<string>? props)
        {
            if (props == null) return Declared(o.Clone());
            var cls = HyperVSchema.Class(o.ClassName);
            var c = new CimObject(o.ClassName, o.Namespace, o.Host);
            foreach (var p in o.Properties)
                if (p.IsKey || props.Any(n => string.Equals(n, p.Name, StringComparison.OrdinalIgnoreCase)))
                    c.Set(p.Name, p.Type, p.IsArray, p.Value, p.IsKey);
            return c;
        }

        private IEnumerable<CimObject> AssociationInstances(SimClassDef cls)
        {
            var seen = new HashSet<SimLink>();
            foreach (var list in _links.Values)
                foreach (var l in list)
                {
                    if (!seen.Add(l) || !string.Equals(l.Assoc, cls.Name, StringComparison.OrdinalIgnoreCase)) continue;
                    if (!_all.ContainsKey(l.KeyA) || !_all.ContainsKey(l.KeyB)) continue;
                    var o = New(cls.Name);
                    o.Set(l.RoleA, l.RefA);
                    o.Set(l.RoleB, l.RefB);
                    if (cls.Property("ElementEffects") != null) o.Set("ElementEffects", new ushort[] { 5 });
                    if (l.Props != null) foreach (var kv in l.Props) o.Set(kv.Key, kv.Value);
                    yield return o;
                }
        }

        internal CimObject DataFile(SimFile f)
        {
            var o = New("CIM_DataFile");
            string name = f.Path.ToLowerInvariant();
            int colon = name.IndexOf(':');
            int slash = name.LastIndexOf('\\');
            string file = slash >= 0 ? name.Substring(slash + 1) : name;
            int dot = file.LastIndexOf('.');
            o.Set("Name", name);
            o.Set("Caption", name);
            o.Set("Drive", colon >= 0 ? name.Substring(0, colon + 1) : "");
            o.Set("Path", slash >= 0 ? name.Substring(colon + 1, slash - colon) : "\\");
            o.Set("FileName", dot >= 0 ? file.Substring(0, dot) : file);
            o.Set("Extension", dot >= 0 ? file.Substring(dot + 1) : "");
            o.Set("FileSize", f.Size);
            o.Set("FileType", f.Format == 3 ? "Hard Disk Image File" : f.Format == 2 ? "Virtual Hard Disk" : "File");
            o.Set("CreationClassName", "CIM_LogicalFile");
            o.Set("CSName", ComputerName);
            o.Set("FSName", "NTFS");
            o.Set("CSCreationClassName", "Win32_ComputerSystem");
            o.Set("FSCreationClassName", "Win32_FileSystem");
            o.Set("Readable", true);
            o.Set("Writeable", true);
            o.Set("InUseCount", (ulong)(FileInUse(f.Path) ? 1 : 0));
            return o;
        }

        // =============================================================== GetInstance

        internal CimObject? DoGetInstance(CimReference reference, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            if (reference == null) throw new ArgumentNullException(nameof(reference));
            var clsDef = HyperVSchema.Find(reference.ClassName);
            Counters.CountGet(clsDef != null && clsDef.IsA("CIM_ConcreteJob"));
            string op = "GetInstance " + reference.ClassName;
            lock (Sync)
            {
                InjectThrow(new SimulatedCall(GatewayOperation.GetInstance, reference.ClassName, null, reference, NoParameters, null), op);
                CheckNamespace(reference.Namespace, op);
                var cls = ClassOrThrow(reference.ClassName, reference.Namespace, op);
                CheckHost(reference, op);
                Advance();
                foreach (var k in reference.Keys.Keys)
                    if (cls.Property(k) is not SimPropertyDef pd || !pd.IsKey)
                        throw Error(CimErrorCode.InvalidParameter, op, $"'{k}' is not a key of {cls.Name}.");
                if (cls.IsA("CIM_LogicalFile"))
                {
                    string? name = reference.Key("Name");
                    return name != null && !IsUncPath(NormalizePath(name)) && _files.TryGetValue(NormalizePath(name), out var f) ? DataFile(f) : null;
                }
                var found = Get(reference);
                return found == null ? null : Declared(found.Clone());
            }
        }

        // =============================================================== GetAssociated

        internal IReadOnlyList<CimObject> DoGetAssociated(CimReference source, string associationClass, string? resultClass, string? sourceRole, string? resultRole,
            CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            Counters.CountAssociated();
            string op = $"GetAssociated {source?.ClassName} via {associationClass}";
            lock (Sync)
            {
                InjectThrow(new SimulatedCall(GatewayOperation.GetAssociated, associationClass ?? "", null, source, NoParameters, null), op);
                if (source == null) throw Error(CimErrorCode.InvalidParameter, op, "No source instance.");
                CheckNamespace(source.Namespace, op);
                ClassOrThrow(source.ClassName, source.Namespace, op);
                CheckHost(source, op);
                if (string.IsNullOrEmpty(associationClass)) throw Error(CimErrorCode.InvalidParameter, op, "Name the association class (unnamed traversals are slow).");
                var assoc = ClassOrThrow(associationClass!, CimReference.VirtualizationNamespace, op);
                if (!assoc.IsAssociation) throw Error(CimErrorCode.InvalidParameter, op, $"{assoc.Name} is not an association.");
                SimClassDef? result = resultClass == null ? null : ClassOrThrow(resultClass, CimReference.VirtualizationNamespace, op);
                foreach (var role in new[] { sourceRole, resultRole })
                    if (role != null && (assoc.Property(role) is not SimPropertyDef rp || rp.Type != CimDataType.Reference))
                        throw Error(CimErrorCode.InvalidParameter, op, $"'{role}' is not a role of {assoc.Name}.");
                Advance();
                string key = KeyOf(source);
                if (!_all.ContainsKey(key)) throw Error(CimErrorCode.NotFound, op, $"Not found: {source}.");
                var list = new List<CimObject>();
                if (_links.TryGetValue(key, out var links))
                {
                    foreach (var l in links)
                    {
                        if (!string.Equals(l.Assoc, assoc.Name, StringComparison.OrdinalIgnoreCase)) continue;
                        bool fromA = l.KeyA == key;
                        string srcRole = fromA ? l.RoleA : l.RoleB, dstRole = fromA ? l.RoleB : l.RoleA;
                        if (sourceRole != null && !string.Equals(sourceRole, srcRole, StringComparison.OrdinalIgnoreCase)) continue;
                        if (resultRole != null && !string.Equals(resultRole, dstRole, StringComparison.OrdinalIgnoreCase)) continue;
                        if (!_all.TryGetValue(fromA ? l.KeyB : l.KeyA, out var other)) continue;
                        if (result != null && !HyperVSchema.Class(other.ClassName).IsA(result.Name)) continue;
                        list.Add(Declared(other.Clone()));
                    }
                }
                Counters.CountRows(null, list.Count);
                return list;
            }
        }

        // =============================================================== InvokeMethod

        internal sealed class Plan
        {
            public readonly Dictionary<string, object?> Out = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            public readonly List<Action> Now = new List<Action>();
            public readonly List<Action> AtEnd = new List<Action>();
            /// <summary>Run when the job ends whatever the outcome (also for an injected job failure).</summary>
            public readonly List<Action> Always = new List<Action>();
            public readonly List<CimReference> Affected = new List<CimReference>();
            /// <summary>Fills job-class properties (Msvm_MigrationJob) when the job instance is created.</summary>
            public Action<CimObject>? JobInit;
            /// <summary>How long this job runs (null: JobDuration).</summary>
            public TimeSpan? Duration;
            /// <summary>The job fails at its end with this description and <see cref="JobErrors"/> as its Msvm_Errors (checks).</summary>
            public string? FailJobWith;
            public List<string>? JobErrors;
            public bool Job;
            public bool Hidden;
            /// <summary>What a hidden job's call answers: 0, or 4096 without a Job output (InitiateShutdown, ShutdownAnswersJobStarted).</summary>
            public uint HiddenReturnValue;
            /// <summary>ErrorCode and Msvm_StorageJob.JobCompletionStatusCode (HRESULT) of a <see cref="FailJobWith"/> failure.</summary>
            public ushort FailJobCode = 32768;
            public uint? FailJobStatusCode;
            public ushort JobType;
            public string JobClass = "Msvm_ConcreteJob";
            /// <summary>Out parameter that may be omitted when a job is returned (pitfall 11).</summary>
            public string? OmittableOnJob;
        }

        internal sealed class Call
        {
            public CimReference Target = null!;
            public CimObject Instance = null!;
            public SimMethodDef Method = null!;
            public Dictionary<string, object?> Args = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            public string? Str(string name) => Args.TryGetValue(name, out var v) ? v as string : null;
            public string[] Strs(string name) => Args.TryGetValue(name, out var v) && v is string[] a ? a : Array.Empty<string>();
            public CimReference? Ref(string name) => Args.TryGetValue(name, out var v) ? v as CimReference : null;
            public CimReference[]? Refs(string name) => Args.TryGetValue(name, out var v) ? v as CimReference[] : null;
        }

        /// <summary>
        /// The simulator's own guard: every out parameter it answers must be an OUT parameter of the method in the real
        /// schema (<see cref="HyperVSchema.Version"/>), e.g. no Job from InitiateShutdown. "Simulator.Reason" is its one
        /// documented diagnostic extra. A violation is a simulator bug and throws.
        /// </summary>
        private static CimMethodResult Checked(SimMethodDef def, CimMethodResult result)
        {
            foreach (var name in result.OutParameters.Keys)
            {
                if (name == "Simulator.Reason") continue;
                if (def.Parameter(name) is not SimParameterDef pd || !pd.IsOut)
                    throw new InvalidOperationException($"Simulator bug: {def.Name} answers out parameter '{name}', which the real {HyperVSchema.Version} schema does not declare.");
            }
            return result;
        }

        /// <summary>Every property of an instance the simulator hands out must be declared by its class in the real schema.</summary>
        internal static CimObject Declared(CimObject o)
        {
            var cls = HyperVSchema.Class(o.ClassName);
            foreach (var p in o.Properties)
                if (cls.Property(p.Name) == null)
                    throw new InvalidOperationException($"Simulator bug: an instance of {cls.Name} carries '{p.Name}', which the real {HyperVSchema.Version} schema does not declare.");
            return o;
        }

        internal CimMethodResult DoInvoke(CimReference target, string method, IReadOnlyList<CimMethodParameter> parameters, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            if (target == null) throw new ArgumentNullException(nameof(target));
            method ??= "";
            Counters.CountInvoke(method);
            string op = "Invoke " + method;
            var args = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in parameters ?? Array.Empty<CimMethodParameter>())
            {
                if (args.ContainsKey(p.Name)) throw Error(CimErrorCode.InvalidParameter, op, $"Parameter '{p.Name}' passed twice.");
                args[p.Name] = p.Value;
            }
            lock (Sync)
            {
                var callInfo = new SimulatedCall(GatewayOperation.InvokeMethod, target.ClassName, method, target, args, null);
                InjectThrow(callInfo, op);
                CheckNamespace(target.Namespace, op);
                var cls = ClassOrThrow(target.ClassName, target.Namespace, op);
                CheckHost(target, op);
                var def = cls.Method(method) ?? throw Error(CimErrorCode.MethodNotFound, op, $"{cls.Name} has no method '{method}'.");
                if (!def.Simulated)
                    throw new NotSupportedException($"The simulator does not simulate {cls.Name}.{def.Name} (a real {HyperVSchema.Version} method): " +
                                                    "add its Method(...) refinement in Schema.cs and a handler in Methods.cs.");
                foreach (var p in parameters ?? Array.Empty<CimMethodParameter>())
                {
                    var pd = def.Parameter(p.Name);
                    if (pd == null || !pd.IsIn) throw Error(CimErrorCode.InvalidParameter, op, $"{method} has no input parameter '{p.Name}'.");
                    bool typeOk = p.Type == pd.Type || (pd.Type == CimDataType.DateTime && p.Type == CimDataType.String);
                    if (!typeOk || p.IsArray != pd.IsArray)
                        throw Error(CimErrorCode.InvalidParameter, op,
                            $"{method}.{pd.Name} is {CimTypes.XmlName(pd.Type)}{(pd.IsArray ? "[]" : "")}, not {CimTypes.XmlName(p.Type)}{(p.IsArray ? "[]" : "")}" +
                            (p.Type == CimDataType.Instance ? " (embedded instances are passed as CIM-XML strings)" : "") + ".");
                }
                foreach (var pd in def.Parameters.Where(x => x.Required))
                    if (!args.TryGetValue(pd.Name, out var v) || v == null)
                        throw Error(CimErrorCode.InvalidParameter, op, $"{method} needs parameter '{pd.Name}'.");
                Advance();
                string? instanceKey = null;
                CimObject? instance;
                if (cls.IsA("CIM_LogicalFile"))
                {
                    string? name = target.Key("Name");
                    instance = name != null && !IsUncPath(NormalizePath(name)) && _files.TryGetValue(NormalizePath(name), out var f) ? DataFile(f) : null;
                }
                else
                {
                    instanceKey = KeyOf(target);
                    instance = Get(target);
                }
                if (instance == null) throw Error(CimErrorCode.NotFound, op, $"Not found: {target}.");

                var failRule = Faults.Next(callInfo, r => r.ReturnValue != null);
                if (failRule != null) return Checked(def, new CimMethodResult(failRule.ReturnValue!.Value));

                var call = new Call { Target = target, Instance = instance, Method = def, Args = args };
                Plan plan;
                try { plan = Handle(call); }
                catch (SimFailure f) { return Checked(def, new CimMethodResult(f.CodeFor(def), new Dictionary<string, object?> { ["Simulator.Reason"] = f.Message })); }
                catch (CimGatewayException) { throw; }

                var jobRule = Faults.Next(callInfo, r => r.FailJob);
                if (jobRule != null)
                {
                    var failing = StartJob(method, plan.JobClass, plan.JobType, hidden: false);
                    failing.FailCode = jobRule.ErrorCode;
                    failing.FailDescription = jobRule.Description;
                    failing.FailMessage = jobRule.Message;
                    failing.AfterPartialWork = jobRule.AfterPartialWork;
                    if (jobRule.AfterPartialWork) { failing.AtEnd.AddRange(plan.Now); failing.AtEnd.AddRange(plan.AtEnd); }
                    failing.Always.AddRange(plan.Always);
                    if (plan.JobInit != null) plan.JobInit(failing.Instance!);
                    failing.FailAsCompleted = jobRule.AsCompleted;
                    failing.FailStatusCode = jobRule.StatusCode;
                    var outs = new Dictionary<string, object?>(plan.Out, StringComparer.OrdinalIgnoreCase);
                    // A method without a Job output (InitiateShutdown, InitiateReboot) cannot hand one out: 4096 alone.
                    if (def.Parameter("Job") is SimParameterDef jp && jp.IsOut) outs["Job"] = failing.Instance!.ToReference();
                    else { failing.AtEnd.Clear(); failing.Always.Clear(); }
                    return Checked(def, new CimMethodResult(CimJobs.JobStarted, outs));
                }

                if (!plan.Job)
                {
                    try
                    {
                        foreach (var a in plan.Now) a();
                        foreach (var a in plan.AtEnd) a();
                    }
                    catch (SimFailure f) { return Checked(def, new CimMethodResult(f.CodeFor(def))); }
                    return Checked(def, new CimMethodResult(0, plan.Out));
                }

                var job = StartJob(method, plan.JobClass, plan.JobType, plan.Hidden);
                var warnRule = Faults.Next(callInfo, r => r.WarnJob);
                if (warnRule != null) job.WarnCode = warnRule.ErrorCode;
                job.AtEnd.AddRange(plan.AtEnd);
                job.Always.AddRange(plan.Always);
                if (plan.JobInit != null && job.Instance != null) plan.JobInit(job.Instance);
                if (plan.Duration is TimeSpan d) job.Due = job.Created + Ticks(d);
                if (plan.JobErrors != null) job.Errors.AddRange(plan.JobErrors);
                if (plan.FailJobWith != null) { job.FailCode = plan.FailJobCode; job.FailDescription = plan.FailJobWith; job.FailStatusCode = plan.FailJobStatusCode; }
                job.Affected.AddRange(plan.Affected);
                foreach (var a in plan.Now) a();
                var output = new Dictionary<string, object?>(plan.Out, StringComparer.OrdinalIgnoreCase);
                if (plan.OmittableOnJob != null)
                {
                    bool omit = ResultingSettings == ResultingSettingsPolicy.Never ||
                                (ResultingSettings == ResultingSettingsPolicy.EveryOther && ++_addSettingsJobs % 2 == 0);
                    if (omit) output[plan.OmittableOnJob] = null;
                }
                if (plan.Hidden) return Checked(def, new CimMethodResult(plan.HiddenReturnValue, output));
                output["Job"] = job.Instance!.ToReference();
                return Checked(def, new CimMethodResult(CimJobs.JobStarted, output));
            }
        }
    }
}
