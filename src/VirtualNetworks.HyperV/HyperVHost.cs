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
        private string? _defaultVhdPath;

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
        public string PathHost => string.IsNullOrEmpty(Gateway.ComputerName) ? Name : Gateway.ComputerName;

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
            return Resulting(op, step, r, "ResultingResourceSettings", device.ClassName, ct);
        }

        public CimReference Resulting(HostOp op, string step, CimMethodResult r, string outName, string cls, CancellationToken ct)
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
                found = affected.FirstOrDefault(a => string.Equals(a.ClassName, cls, StringComparison.OrdinalIgnoreCase))?.ToReference()
                        ?? affected.FirstOrDefault()?.ToReference();
            }
            if (found == null)
                throw op.Fail(HyperVErrorIds.MethodFailed, ErrorKind.InvalidResult, step + " returned no " + outName + ".");
            return string.IsNullOrEmpty(found.Host) ? found.WithHost(PathHost) : found;
        }

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
