using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// One operation in progress ("Creating router 'r2'") on one host: every CIM call goes through <see cref="Call{T}"/>,
    /// which checks cancellation first and translates a failure into a <see cref="VirtualNetworksException"/> naming the
    /// operation, the step and the host.
    /// </summary>
    internal sealed class HostOp
    {
        public HostOp(HyperVHost host, string operation, string? target)
        {
            Host = host;
            Operation = operation;
            Target = target;
        }

        public HyperVHost Host { get; }
        public string Operation { get; }
        public string? Target { get; }

        public T Call<T>(string step, CancellationToken ct, Func<T> call)
        {
            ct.ThrowIfCancellationRequested();
            try { return call(); }
            catch (OperationCanceledException) { throw; }
            catch (Exception ex) when (ex is CimGatewayException || ex is CimMethodException)
            {
                throw HyperVErrors.Translate(ex, Operation, step, Host.Name, Target);
            }
        }

        public void Call(string step, CancellationToken ct, Action call) => Call<object?>(step, ct, () => { call(); return null; });

        public VirtualNetworksException Fail(string id, ErrorKind kind, string message, string? hint = null) =>
            HyperVErrors.Error(id, kind, Target ?? Host.Name, Operation + " on host " + Host.Name + ": " + message, hint);
    }

    /// <summary>One Hyper-V host: its gateway, its singleton services and default templates (cached), and the CIM steps.</summary>
    internal sealed class HyperVHost : IDisposable
    {
        private readonly ConcurrentDictionary<string, CimObject> _templates = new ConcurrentDictionary<string, CimObject>(StringComparer.OrdinalIgnoreCase);
        private CimReference? _vsms, _ims, _vesms, _migration;
        private string? _defaultVhdPath, _ownName;
        private IReadOnlyList<CimObject>? _featureDefaults;

        public HyperVHost(string name, ICimGateway gateway, HyperVBackendOptions options)
        {
            Name = name;
            Gateway = gateway;
            Options = options;
        }

        public string Name { get; }
        public ICimGateway Gateway { get; }
        public HyperVBackendOptions Options { get; }
        /// <summary>Serializes changes on this host within one backend instance (VLAN allocation, switch creation).</summary>
        public object Gate { get; } = new object();
        /// <summary>
        /// The host part of every object path the backend writes (Parent, HostResource, references): the host's own name
        /// as Hyper-V reports it — the management service's SystemName (CIM_Service: the Name of its scoping
        /// Msvm_ComputerSystem, the host), else the instance's __SERVER — never the name the user typed (an FQDN, an IP
        /// address, an alias), which Hyper-V does not write in its paths. Learnt from the one service query the backend
        /// makes anyway (<see cref="Vsms"/>).
        /// </summary>
        public string PathHost => _ownName ?? LearnOwnName();

        /// <summary>The name the session was opened with (what the user typed, or the local machine's name).</summary>
        public string ConnectedName => string.IsNullOrEmpty(Gateway.ComputerName) ? Name : Gateway.ComputerName;

        private string LearnOwnName()
        {
            IReadOnlyList<CimObject> services;
            try { services = Gateway.Query(CimReference.VirtualizationNamespace, "SELECT * FROM Msvm_VirtualSystemManagementService", CancellationToken.None); }
            catch (CimGatewayException ex)
            {
                throw HyperVErrors.Translate(ex, "Reading the name of host " + Name, "query Msvm_VirtualSystemManagementService", Name, Name);
            }
            AdoptService(services);
            return _ownName!;
        }

        private void AdoptService(IReadOnlyList<CimObject> services)
        {
            var s = services.FirstOrDefault();
            var own = s?.GetString("SystemName");
            if (string.IsNullOrEmpty(own)) own = s?.Host;
            _ownName ??= string.IsNullOrEmpty(own) ? ConnectedName : own;
            if (s != null) _vsms ??= s.ToReference().WithHost(_ownName);
        }

        public void Dispose() => Gateway.Dispose();

        public HostOp Op(string operation, string? target) => new HostOp(this, operation, target);

        // ------------------------------------------------------------------------------------------ queries

        public IReadOnlyList<CimObject> Query(HostOp op, string wql, CancellationToken ct, string? ns = null) =>
            op.Call("query '" + wql + "'", ct, () => Gateway.Query(ns ?? CimReference.VirtualizationNamespace, wql, ct));

        public CimObject? Get(HostOp op, CimReference r, string step, CancellationToken ct) => op.Call(step, ct, () => Gateway.GetInstance(r, ct));

        private CimReference Singleton(HostOp op, string cls, ref CimReference? cache, CancellationToken ct)
        {
            if (cache != null) return cache;
            var all = Query(op, "SELECT * FROM " + cls, ct);
            if (cls == "Msvm_VirtualSystemManagementService") AdoptService(all);
            if (all.Count == 0)
                throw op.Fail(HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled, cls + " is missing: Hyper-V is not installed or not running (vmms).",
                    "Install the Hyper-V role and start the Virtual Machine Management service.");
            return cache = all[0].ToReference().WithHost(PathHost);
        }

        public CimReference Vsms(HostOp op, CancellationToken ct) => Singleton(op, "Msvm_VirtualSystemManagementService", ref _vsms, ct);
        public CimReference ImageService(HostOp op, CancellationToken ct) => Singleton(op, "Msvm_ImageManagementService", ref _ims, ct);
        public CimReference SwitchService(HostOp op, CancellationToken ct) => Singleton(op, "Msvm_VirtualEthernetSwitchManagementService", ref _vesms, ct);
        public CimReference MigrationService(HostOp op, CancellationToken ct) => Singleton(op, "Msvm_VirtualSystemMigrationService", ref _migration, ct);

        /// <summary>Where differencing disks go: option VirtualHardDiskPath, else &lt;DefaultVirtualHardDiskPath&gt;\VirtualNetworks.</summary>
        public string VhdDirectory(HostOp op, CancellationToken ct)
        {
            if (!string.IsNullOrEmpty(Options.VirtualHardDiskPath)) return Options.VirtualHardDiskPath!.TrimEnd('\\');
            if (_defaultVhdPath != null) return _defaultVhdPath;
            var s = Query(op, "SELECT * FROM Msvm_VirtualSystemManagementServiceSettingData", ct).FirstOrDefault();
            var root = s?.GetString("DefaultVirtualHardDiskPath");
            if (string.IsNullOrEmpty(root))
                throw op.Fail(HyperVErrorIds.InvalidOption, ErrorKind.InvalidArgument,
                    "the host has no DefaultVirtualHardDiskPath; set the backend option VirtualHardDiskPath.");
            return _defaultVhdPath = root!.TrimEnd('\\') + "\\VirtualNetworks";
        }

        /// <summary>The default ("template") instance of a device class (InstanceID route, fact sheet §1.5), cached per host.</summary>
        public CimObject Template(HostOp op, string cls, string subType, CancellationToken ct)
        {
            var key = cls + "|" + subType;
            if (_templates.TryGetValue(key, out var t)) return t.Clone();
            var wql = "SELECT * FROM " + cls + " WHERE ResourceSubType = '" + HyperVNames.Wql(subType) + "' AND InstanceID LIKE '%\\\\Default'";
            var found = Query(op, wql, ct).FirstOrDefault(o => string.Equals(o.ClassName, cls, StringComparison.OrdinalIgnoreCase))
                        ?? throw op.Fail(HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled, "no default " + cls + " (" + subType + ") template on the host.");
            _templates[key] = found;
            return found.Clone();
        }

        /// <summary>
        /// The host's default instance of a port feature, cached per host: Msvm_EthernetSwitchFeatureCapabilities with
        /// this FeatureId → Msvm_FeatureSettingsDefineCapabilities with ValueRole 0 (Default) → its PartComponent
        /// (fact sheet §5.2; Microsoft's networking sample GetDefaultFeatureSetting). Two queries and one GetInstance per
        /// feature class, once per host (the association query once for all features).
        /// </summary>
        public CimObject DefaultFeature(HostOp op, string cls, string featureId, CancellationToken ct)
        {
            var key = "feature|" + cls;
            if (_templates.TryGetValue(key, out var t)) return t.Clone();
            CimObject Missing(string what) => throw op.Fail(HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled,
                $"the host has no default {cls} ({what}); the Hyper-V virtual switch feature {featureId} is missing.");
            var caps = Query(op, "SELECT * FROM Msvm_EthernetSwitchFeatureCapabilities WHERE FeatureId = '" + HyperVNames.Wql(featureId) + "'", ct)
                .FirstOrDefault() ?? Missing("no Msvm_EthernetSwitchFeatureCapabilities");
            var capsRef = caps.ToReference();
            CimObject? found = null;
            try
            {
                _featureDefaults ??= Query(op, "SELECT * FROM Msvm_FeatureSettingsDefineCapabilities WHERE ValueRole = 0", ct);
            }
            catch (VirtualNetworksException ex) when (ex.InnerException is CimGatewayException g &&
                                                      (g.Code == CimErrorCode.NotSupported || g.Code == CimErrorCode.InvalidQuery || g.Code == CimErrorCode.Failed))
            {
                // A provider that does not enumerate the association: follow it from the capabilities instead and take
                // the definition whose InstanceID ends in \Default (the InstanceID route, fact sheet §1.5).
                _featureDefaults = Array.Empty<CimObject>();
            }
            var part = _featureDefaults
                .Where(d => d["GroupComponent"] is CimReference g && g.Matches(capsRef))
                .Select(d => d["PartComponent"] as CimReference).Where(p => p != null)
                .OrderByDescending(p => string.Equals(p!.ClassName, cls, StringComparison.OrdinalIgnoreCase)) // a path may name the base class
                .FirstOrDefault();
            if (part != null) found = Get(op, part.WithHost(PathHost), "read the default " + cls, ct);
            else
                found = op.Call("read the default " + cls + " (Msvm_FeatureSettingsDefineCapabilities)", ct, () =>
                        Gateway.GetAssociated(capsRef.WithHost(PathHost), "Msvm_FeatureSettingsDefineCapabilities", null, "GroupComponent", "PartComponent", ct))
                    .Where(o => (o.GetString("InstanceID") ?? "").EndsWith("\\Default", StringComparison.OrdinalIgnoreCase))
                    .OrderByDescending(o => string.Equals(o.ClassName, cls, StringComparison.OrdinalIgnoreCase))
                    .FirstOrDefault();
            if (found == null) Missing("no default Msvm_FeatureSettingsDefineCapabilities (ValueRole 0)");
            _templates[key] = found!;
            return found!.Clone();
        }

        // ------------------------------------------------------------------------------------------ methods

        public CimMethodResult Invoke(HostOp op, string step, CimReference target, string method, CancellationToken ct,
            IReadOnlyList<CimMethodParameter> parameters, params uint[] alsoOk) =>
            op.Call(step, ct, () => Gateway.InvokeAndWait(target, method, parameters, ct, Options.JobPolicy, alsoOk));

        /// <summary>AddResourceSettings of one device against a VSSD; returns the new device's reference (out-param or affected job element).</summary>
        public CimReference AddResource(HostOp op, string step, CimReference vssd, CimObject device, CancellationToken ct)
        {
            var r = Invoke(op, step, Vsms(op, ct), "AddResourceSettings", ct, new[]
            {
                CimMethodParameter.Reference("AffectedConfiguration", vssd),
                CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(device) }),
            });
            return Resulting(op, step, r, "ResultingResourceSettings", device.ClassName, ct, () => FindAdded(op, step, vssd, device, ct));
        }

        /// <summary>
        /// The new object of a Define*/Add* call: the out parameter; else (4096 without it, pitfall 11) the job's
        /// Msvm_AffectedJobElement of class <paramref name="cls"/> — never simply the first affected element, which can be
        /// the VM itself; else <paramref name="requery"/> (the settings looked up by what was set on them).
        /// </summary>
        public CimReference Resulting(HostOp op, string step, CimMethodResult r, string outName, string cls, CancellationToken ct,
            Func<CimReference?>? requery = null)
        {
            var v = r[outName];
            CimReference? found = v switch
            {
                CimReference one => one,
                CimReference[] many when many.Length > 0 => many[0],
                object[] objs => objs.OfType<CimReference>().FirstOrDefault(),
                _ => null,
            };
            if (found == null && r.Job != null)
            {
                var affected = op.Call(step + " (affected elements)", ct, () =>
                    Gateway.GetAssociated(r.Job, "Msvm_AffectedJobElement", null, null, null, ct));
                var ofClass = affected.Where(a => string.Equals(a.ClassName, cls, StringComparison.OrdinalIgnoreCase)).ToList();
                if (ofClass.Count == 1) found = ofClass[0].ToReference();
            }
            found ??= requery?.Invoke();
            if (found == null)
                throw op.Fail(HyperVErrorIds.MethodFailed, ErrorKind.InvalidResult, step + " returned no " + outName + " and no " + cls + " among the job's affected elements.");
            return string.IsNullOrEmpty(found.Host) ? found.WithHost(PathHost) : found;
        }

        /// <summary>
        /// Re-reads the VM's settings of the device's class and subtype (one query) and returns the one that carries what
        /// was set on <paramref name="device"/>: Parent, AddressOnParent, VirtualSystemIdentifiers, a static MAC,
        /// HostResource. Null when not exactly one matches.
        /// </summary>
        private CimReference? FindAdded(HostOp op, string step, CimReference vssd, CimObject device, CancellationToken ct)
        {
            var vssdId = vssd.Key("InstanceID");
            if (string.IsNullOrEmpty(vssdId)) return null;
            var sub = device.GetString("ResourceSubType");
            var wql = "SELECT * FROM " + device.ClassName + " WHERE InstanceID LIKE '" + HyperVNames.WqlLike(vssdId + "\\") + "%'" +
                      (string.IsNullOrEmpty(sub) ? "" : " AND ResourceSubType = '" + HyperVNames.Wql(sub!) + "'");
            var candidates = op.Call(step + " (re-read the new settings)", ct, () => Gateway.Query(CimReference.VirtualizationNamespace, wql, ct))
                .Where(c => string.Equals(c.ClassName, device.ClassName, StringComparison.OrdinalIgnoreCase) && Carries(c, device)).ToList();
            return candidates.Count == 1 ? candidates[0].ToReference() : null;
        }

        private static bool Carries(CimObject candidate, CimObject device)
        {
            static bool SamePath(string? a, string? b) =>
                CimReference.TryParse(a, out var ra, out _) && CimReference.TryParse(b, out var rb, out _) ? ra!.Matches(rb) : string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
            if (device.GetString("Parent") is string parent && !SamePath(parent, candidate.GetString("Parent"))) return false;
            if (device.GetString("AddressOnParent") is string slot && slot.Length > 0 && slot != candidate.GetString("AddressOnParent")) return false;
            var ids = device.GetStrings("VirtualSystemIdentifiers").Select(NormalizeGuid).ToList();
            if (ids.Count > 0 && !candidate.GetStrings("VirtualSystemIdentifiers").Select(NormalizeGuid).Intersect(ids).Any()) return false;
            if ((device.GetBoolean("StaticMacAddress") ?? false) &&
                HyperVNames.NormalizeMac(device.GetString("Address")) != HyperVNames.NormalizeMac(candidate.GetString("Address"))) return false;
            if (device.GetStrings("HostResource").FirstOrDefault() is string hr && !SamePath(hr, candidate.GetStrings("HostResource").FirstOrDefault())) return false;
            return true;
        }

        private static string NormalizeGuid(string id) => Guid.TryParse(id, out var g) ? g.ToString("D") : id.ToUpperInvariant();

        public CimReference VmRef(string guid) => new CimReference("Msvm_ComputerSystem", new[]
        {
            new KeyValuePair<string, object>("CreationClassName", "Msvm_ComputerSystem"),
            new KeyValuePair<string, object>("Name", guid),
        }, null, PathHost);

        public CimReference SwitchRef(string guid) => new CimReference("Msvm_VirtualEthernetSwitch", new[]
        {
            new KeyValuePair<string, object>("CreationClassName", "Msvm_VirtualEthernetSwitch"),
            new KeyValuePair<string, object>("Name", guid),
        }, null, PathHost);

        public CimReference ById(string cls, string instanceId) => CimReference.ByInstanceId(cls, instanceId, PathHost);

        public CimReference FileRef(string path) => new CimReference("CIM_DataFile",
            new[] { new KeyValuePair<string, object>("Name", path) }, CimReference.Cimv2Namespace, PathHost);
    }
}
