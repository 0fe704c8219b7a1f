using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.Topology;

namespace VirtualNetworks.HyperV
{
    public sealed partial class HyperVBackend
    {
        // ================================================================================================ images

        /// <summary>A bare name is &lt;ImagePath&gt;\&lt;name&gt;.vhdx; a path is used as is.</summary>
        internal string? ResolveImage(string image)
        {
            if (string.IsNullOrWhiteSpace(image)) return null;
            if (image.IndexOf('\\') >= 0 || image.IndexOf('/') >= 0 || image.IndexOf(':') >= 0) return image;
            if (string.IsNullOrEmpty(Options.ImagePath)) return null;
            var name = image.EndsWith(".vhdx", StringComparison.OrdinalIgnoreCase) ? image : image + ".vhdx";
            return Options.ImagePath!.TrimEnd('\\') + "\\" + name;
        }

        public bool ImageExists(string image, string host)
        {
            var h = Host(host);
            return ImageExists(h, h.Op("Checking image '" + image + "'", image), image, CancellationToken.None);
        }

        private bool ImageExists(HyperVHost host, HostOp op, string image, CancellationToken ct)
        {
            var path = ResolveImage(image);
            if (path == null) return false;
            var ims = host.ImageService(op, ct);
            try
            {
                op.Call("GetVirtualHardDiskSettingData", ct, () => host.Gateway.InvokeAndWait(ims, "GetVirtualHardDiskSettingData",
                    new[] { CimMethodParameter.String("Path", path) }, ct, Options.JobPolicy));
                return true;
            }
            // Only "no such file" and "not a virtual disk" mean absent; any other failure (access denied, a failed
            // call) is an error, never reported as a missing image.
            catch (VirtualNetworksException ex) when (ex.InnerException is CimMethodException m && IsMissingImage(m)) { return false; }
        }

        /// <summary>
        /// Whether a failed GetVirtualHardDiskSettingData says "no such file / not a virtual disk". Hyper-V answers either
        /// at once (32779 File not found, 32773 Invalid parameter) or, usually, 4096 with a storage job that fails
        /// (Microsoft's own client waits for that job: microsoft/wmi ImageManagementService.go). A failed job says it
        /// through its ErrorCode (32779 / 32773), Msvm_StorageJob.JobCompletionStatusCode or the HRESULT Windows writes
        /// into the job's messages: 0x80070002 / 0x80070003 (ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND as
        /// HRESULTs), or a virtual-disk format error (facility 0x3A, 0xC03A____). Codes, not message text, are compared,
        /// so a localized host is read the same way.
        /// </summary>
        internal static bool IsMissingImage(CimMethodException m) => HasCode(m, true);

        /// <summary>Like <see cref="IsMissingImage"/>, "no such file or directory" only.</summary>
        internal static bool IsNotFound(CimMethodException m) => HasCode(m, false);

        private static bool HasCode(CimMethodException m, bool orNotAVirtualDisk)
        {
            if (m.TimedOut) return false;
            if (m.ReturnValue == 32779 || (orNotAVirtualDisk && m.ReturnValue == 32773)) return true;
            if (m.ReturnValue != CimJobs.JobStarted) return false;
            if (m.JobErrorCode == 32779 || (orNotAVirtualDisk && m.JobErrorCode == 32773)) return true;
            bool Missing(uint hr) => hr == 0x80070002u || hr == 0x80070003u || (orNotAVirtualDisk && (hr & 0xFFFF0000u) == 0xC03A0000u);
            if (m.Job?.GetUInt32("JobCompletionStatusCode") is uint status && Missing(status)) return true;
            foreach (var text in m.Errors.Concat(new[] { m.JobErrorDescription ?? "" }))
                foreach (System.Text.RegularExpressions.Match hex in System.Text.RegularExpressions.Regex.Matches(text, @"0x([0-9A-Fa-f]{8})\b"))
                    if (uint.TryParse(hex.Groups[1].Value, System.Globalization.NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hr) && Missing(hr))
                        return true;
            return false;
        }

        private string RequireImage(HyperVHost host, HostOp op, RouterSpec spec, CancellationToken ct)
        {
            var path = ResolveImage(spec.Image);
            if (path == null)
                throw op.Fail(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound,
                    $"image '{spec.Image}' is a bare name but the backend option ImagePath is not set.",
                    "Pass a full .vhdx path as the image, or set the Hyper-V backend option ImagePath.");
            if (!ImageExists(host, op, spec.Image, ct))
                throw op.Fail(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, $"image '{path}' does not exist or is not a virtual hard disk.");
            return path;
        }

        // ================================================================================================ create / remove

        public void CreateRouter(RouterSpec spec, CancellationToken cancellationToken)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            NameRules.Ensure(spec.Name, "router");
            var ct = cancellationToken;
            var host = Host(spec.Host);
            var op = host.Op($"Creating router '{spec.Name}'", spec.Name);
            int memoryMB = Capabilities.MemoryMBOf(spec); // the engine resolves it; a direct caller may leave it to us
            if (memoryMB < Capabilities.MinMemoryMB || memoryMB > Capabilities.MaxMemoryMB || memoryMB % 2 != 0)
                throw op.Fail(ErrorIds.InvalidMemory, ErrorKind.InvalidArgument,
                    $"memory {memoryMB} MB is not usable: Hyper-V needs an even number of MB between {Capabilities.MinMemoryMB} and {Capabilities.MaxMemoryMB} (multiples of 128 MB are recommended for Linux guests).");
            if (spec.ProcessorCount < 1 || spec.ProcessorCount > Capabilities.MaxProcessorCount)
                throw op.Fail(ErrorIds.InvalidProcessorCount, ErrorKind.InvalidArgument, $"{spec.ProcessorCount} processors is out of range 1..{Capabilities.MaxProcessorCount}.");
            lock (host.Gate)
            {
                // Targeted read: VSSDs named like the router (and their devices), never the whole host.
                var snap = HostSnapshot.ReadVms(host, op, new[] { HostSnapshot.ByName(spec.Name) }, ReadParts.Core, ct);
                var mine = snap.Vms.Where(v => Same(v.Marker.Router, spec.Name)).ToList();
                if (mine.Any(v => v.Complete))
                    throw op.Fail(ErrorIds.RouterAlreadyExists, ErrorKind.ResourceExists, $"a virtual router named '{spec.Name}' already exists.");
                var parent = RequireImage(host, op, spec, ct);
                var vhdDir = host.VhdDirectory(op, ct);
                var disk = vhdDir + "\\" + HyperVNames.DiskFileName(spec.Name);
                // Crash recovery: half-built VMs of this name (marked, no disk attached) and a stale disk are leftovers.
                foreach (var leftover in mine) RemoveVm(host, op, leftover, ct);
                // A stale disk on a local volume is deleted (CIM_DataFile); on an SMB share it cannot be, so a taken
                // name (checked through the image service, which reaches the share) gets a unique one instead.
                if (HyperVNames.IsLocalPath(disk)) DeleteFile(host, op, disk, ct);
                else if (DiskPathTaken(host, op, disk, ct)) disk = vhdDir + "\\" + HyperVNames.UniqueDiskFileName(spec.Name);

                var vsms = host.Vsms(op, ct);
                var vssd = new CimObject("Msvm_VirtualSystemSettingData")
                    .Set("ElementName", CimDataType.String, false, spec.Name)
                    .Set("VirtualSystemSubType", CimDataType.String, false, HyperVNames.GenerationTwo)
                    .Set("Notes", CimDataType.String, true, HyperVNames.RouterNotes(spec))
                    .Set("AutomaticStartupAction", CimDataType.UInt16, false, (ushort)2)
                    .Set("SecureBootEnabled", CimDataType.Boolean, false, Options.SecureBootTemplateId != null);
                if (Options.SecureBootTemplateId != null)
                    vssd.Set("SecureBootTemplateId", CimDataType.String, false, Options.SecureBootTemplateId);
                var defined = host.Invoke(op, "DefineSystem", vsms, "DefineSystem", ct, new[]
                {
                    CimMethodParameter.String("SystemSettings", CimXml.Write(vssd)),
                    CimMethodParameter.Strings("ResourceSettings", Array.Empty<string>()),
                });
                var vmRef = host.Resulting(op, "DefineSystem", defined, "ResultingSystem", "Msvm_ComputerSystem", ct);
                var guid = vmRef.Key("Name") ?? throw op.Fail(HyperVErrorIds.MethodFailed, ErrorKind.InvalidResult, "DefineSystem returned a system without a Name.");
                vmRef = host.VmRef(guid);
                var vssdObj = op.Call("read the new VM's settings (Msvm_SettingsDefineState)", ct, () =>
                        host.Gateway.GetAssociated(vmRef, "Msvm_SettingsDefineState", "Msvm_VirtualSystemSettingData", null, null, ct))
                    .FirstOrDefault(HostSnapshot.IsRealized)
                    ?? throw op.Fail(HyperVErrorIds.ObjectNotFound, ErrorKind.ObjectNotFound, "the new VM has no settings.");
                var vssdId = vssdObj.GetString("InstanceID") ?? "";
                var vssdRef = host.ById(vssdObj.ClassName, vssdId);

                var devices = host.Query(op, "SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID LIKE '" + HyperVNames.Wql(vssdId) + "%'", ct);
                var proc = devices.FirstOrDefault(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Processor");
                var mem = devices.FirstOrDefault(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Memory");
                if (proc == null || mem == null) throw op.Fail(HyperVErrorIds.ObjectNotFound, ErrorKind.ObjectNotFound, "the new VM has no processor or memory settings.");
                proc = proc.Clone().Set("VirtualQuantity", CimDataType.UInt64, false, (ulong)spec.ProcessorCount);
                ulong mb = (ulong)memoryMB;
                mem = mem.Clone().Set("VirtualQuantity", CimDataType.UInt64, false, mb).Set("Reservation", CimDataType.UInt64, false, mb)
                    .Set("Limit", CimDataType.UInt64, false, mb).Set("DynamicMemoryEnabled", CimDataType.Boolean, false, false);
                host.Invoke(op, "ModifyResourceSettings (processors and memory)", vsms, "ModifyResourceSettings", ct, new[]
                {
                    CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(proc), CimXml.Write(mem) }),
                });

                var vhd = new CimObject("Msvm_VirtualHardDiskSettingData")
                    .Set("Type", CimDataType.UInt16, false, (ushort)4)
                    .Set("Format", CimDataType.UInt16, false, (ushort)3)
                    .Set("Path", CimDataType.String, false, disk)
                    .Set("ParentPath", CimDataType.String, false, parent)
                    .Set("MaxInternalSize", CimDataType.UInt64, false, 0UL)
                    .Set("BlockSize", CimDataType.UInt32, false, 0U)
                    .Set("LogicalSectorSize", CimDataType.UInt32, false, 0U)
                    .Set("PhysicalSectorSize", CimDataType.UInt32, false, 0U);
                host.Invoke(op, "CreateVirtualHardDisk (differencing disk)", host.ImageService(op, ct), "CreateVirtualHardDisk", ct, new[]
                {
                    CimMethodParameter.String("VirtualDiskSettingData", CimXml.Write(vhd)),
                });

                var scsi = devices.FirstOrDefault(d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Synthetic SCSI Controller");
                CimReference controller = scsi != null
                    ? host.ById(scsi.ClassName, scsi.GetString("InstanceID") ?? "")
                    : host.AddResource(op, "AddResourceSettings (SCSI controller)", vssdRef,
                        host.Template(op, "Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic SCSI Controller", ct), ct);
                var drive = host.Template(op, "Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic Disk Drive", ct)
                    .Set("Parent", CimDataType.String, false, controller.WithHost(host.PathHost).ToPath())
                    .Set("AddressOnParent", CimDataType.String, false, "0");
                var driveRef = host.AddResource(op, "AddResourceSettings (disk drive)", vssdRef, drive, ct);
                var media = host.Template(op, "Msvm_StorageAllocationSettingData", "Microsoft:Hyper-V:Virtual Hard Disk", ct)
                    .Set("Parent", CimDataType.String, false, driveRef.WithHost(host.PathHost).ToPath())
                    .Set("HostResource", CimDataType.String, true, new[] { disk });
                host.AddResource(op, "AddResourceSettings (attach disk)", vssdRef, media, ct);
            }
        }

        public void RemoveRouter(string name, CancellationToken cancellationToken)
        {
            var ct = cancellationToken;
            bool found = false;
            foreach (var h in KnownHosts()) found |= RemoveRouterOn(Host(h), name, false, ct);
            // Under its name on no host (renamed in Hyper-V Manager?): scan the markers before giving up.
            if (!found)
                foreach (var h in KnownHosts()) RemoveRouterOn(Host(h), name, true, ct);
        }

        /// <summary>
        /// Removes the VMs of router <paramref name="name"/> on one host (targeted read by name, or with
        /// <paramref name="scanMarkers"/> by a scan of the VSSD markers); false when the host has none.
        /// </summary>
        private bool RemoveRouterOn(HyperVHost host, string name, bool scanMarkers, CancellationToken ct)
        {
            var op = host.Op($"Removing router '{name}'", name);
            lock (host.Gate)
            {
                var conditions = scanMarkers ? HostSnapshot.ScanMarkers(host, op, new[] { name }, ct) : new List<string> { HostSnapshot.ByName(name) };
                if (conditions.Count == 0) return false;
                var probe = HostSnapshot.ReadVms(host, op, conditions, ReadParts.Core, ct);
                var mine = probe.Vms.Where(v => Same(v.Marker.Router, name)).ToList();
                if (mine.Count == 0) return false;
                if (mine.Count(v => v.Complete) > 1)
                    throw op.Fail(HyperVErrorIds.AmbiguousRouter, ErrorKind.InvalidData,
                        $"{mine.Count(v => v.Complete)} virtual machines carry the marker of router '{name}'; nothing is guessed.",
                        "Remove the wrong virtual machine in Hyper-V Manager, then run the command again.");
                // The peers' ends of this router's links go first, so no half link is left behind. Found by NIC name (one
                // query for all its links), kept only on marked VMs of other routers.
                var links = new HashSet<string>(mine.SelectMany(v => v.Nics).Select(n => n.Link), StringComparer.OrdinalIgnoreCase);
                if (links.Count > 0)
                {
                    var own = new HashSet<string>(mine.Select(v => v.VssdInstanceId), StringComparer.OrdinalIgnoreCase);
                    var peers = HostSnapshot.LinkNics(host, op, links, ct).Where(n => !own.Contains(n.Owner)).ToList();
                    var markers = HostSnapshot.Markers(host, op, peers.Select(n => n.Owner), ct);
                    foreach (var (id, link, owner) in peers)
                        if (markers.TryGetValue(owner, out var m) && !Same(m.Router, name))
                            RemoveNic(host, op, new NicRecord { InstanceId = id, Link = link }, $"RemoveResourceSettings (adapter of link '{link}' on router '{m.Router}')", ct);
                }
                foreach (var vm in mine) RemoveVm(host, op, vm, ct);
                return true;
            }
        }

        /// <summary>Turns the VM off when needed, destroys it and deletes its differencing disk.</summary>
        private void RemoveVm(HyperVHost host, HostOp op, VmRecord vm, CancellationToken ct)
        {
            var vmRef = host.VmRef(vm.Guid);
            var current = host.Get(op, vmRef, "read the VM state", ct);
            if (current == null) return;
            ushort state = current.GetUInt16("EnabledState") ?? 0;
            if (state != 3 && state != 6 && state != 32769 && state != 32779)
                RequestState(host, op, vm.Guid, 3, "RequestStateChange (turn off)", ct);
            host.Invoke(op, "DestroySystem", host.Vsms(op, ct), "DestroySystem", ct, new[] { CimMethodParameter.Reference("AffectedSystem", vmRef) });
            var disk = vm.DiskPath ?? host.VhdDirectory(op, ct) + "\\" + HyperVNames.DiskFileName(vm.Marker.Router);
            // Only a local disk can be deleted (CIM_DataFile); one on an SMB share stays (docs/hyperv-backend.md §6).
            if (HyperVNames.IsLocalPath(disk)) DeleteFile(host, op, disk, ct);
        }

        /// <summary>
        /// Whether a file exists at <paramref name="path"/>, asked of Msvm_ImageManagementService.GetVirtualHardDiskSettingData
        /// (it runs in the host's Virtual Machine Management service, which reaches SMB shares: Hyper-V runs VMs from
        /// them). Taken unless the answer is "not found": any other failure keeps the name out of use.
        /// </summary>
        private bool DiskPathTaken(HyperVHost host, HostOp op, string path, CancellationToken ct)
        {
            var ims = host.ImageService(op, ct);
            try
            {
                op.Call("GetVirtualHardDiskSettingData " + path, ct, () => host.Gateway.InvokeAndWait(ims, "GetVirtualHardDiskSettingData",
                    new[] { CimMethodParameter.String("Path", path) }, ct, Options.JobPolicy));
                return true;
            }
            catch (VirtualNetworksException ex) when (ex.InnerException is CimMethodException m && !m.TimedOut)
            {
                return !IsNotFound(m);
            }
        }

        /// <summary>Deletes a file through root\cimv2 CIM_DataFile.Delete; a missing file is fine.</summary>
        private static void DeleteFile(HyperVHost host, HostOp op, string path, CancellationToken ct)
        {
            var file = host.FileRef(path);
            var existing = host.Get(op, file, "look up " + path + " (CIM_DataFile)", ct);
            if (existing == null) return;
            var r = op.Call("CIM_DataFile.Delete " + path, ct, () => host.Gateway.InvokeMethod(file, "Delete", Array.Empty<CimMethodParameter>(), ct));
            if (r.ReturnValue != 0)
                throw op.Fail(HyperVErrorIds.MethodFailed, ErrorKind.InvalidResult, $"CIM_DataFile.Delete of '{path}' failed with return value {r.ReturnValue}.",
                    "Check the file is not in use, then run the command again.");
        }

        private static void RemoveNic(HyperVHost host, HostOp op, NicRecord nic, string step, CancellationToken ct) =>
            host.Invoke(op, step, host.Vsms(op, ct), "RemoveResourceSettings", ct, new[]
            {
                CimMethodParameter.References("ResourceSettings", new[] { host.ById("Msvm_SyntheticEthernetPortSettingData", nic.InstanceId) }),
            });

        // ================================================================================================ lifecycle

        public void StartRouter(string name, CancellationToken cancellationToken) => ChangeState(name, 2, "Starting", cancellationToken);
        public void SuspendRouter(string name, CancellationToken cancellationToken) => ChangeState(name, 9, "Suspending", cancellationToken);
        public void ResumeRouter(string name, CancellationToken cancellationToken) => ChangeState(name, 2, "Resuming", cancellationToken);

        private void ChangeState(string name, ushort target, string verb, CancellationToken ct)
        {
            var operation = $"{verb} router '{name}'";
            var (host, _, vm) = FindRouter(name, operation, ct)!.Value;
            var op = host.Op(operation, name);
            if (vm.EnabledState == target) return;
            RequestState(host, op, vm.Guid, target, "RequestStateChange (" + target.ToString(CultureInfo.InvariantCulture) + ")", ct);
        }

        /// <summary>RequestStateChange, 32775 accepted (already there, pitfall 8), then EnabledState re-read until it is the target.</summary>
        private void RequestState(HyperVHost host, HostOp op, string guid, ushort target, string step, CancellationToken ct)
        {
            var vmRef = host.VmRef(guid);
            host.Invoke(op, step, vmRef, "RequestStateChange", ct, new[] { CimMethodParameter.UInt16("RequestedState", target) }, 32775);
            WaitForState(host, op, guid, target, Options.StateTimeout, step, ct, HyperVErrorIds.StateNotReached);
        }

        private void WaitForState(HyperVHost host, HostOp op, string guid, ushort target, TimeSpan timeout, string step, CancellationToken ct, string errorId, string? hint = null)
        {
            var clock = Stopwatch.StartNew();
            ushort state = 0;
            while (true)
            {
                var current = host.Get(op, host.VmRef(guid), "read EnabledState", ct);
                if (current == null) throw op.Fail(HyperVErrorIds.ObjectNotFound, ErrorKind.ObjectNotFound, "the virtual machine disappeared.");
                state = current.GetUInt16("EnabledState") ?? 0;
                if (state == target || (target == 9 && state == 32768)) return;
                if (clock.Elapsed > timeout)
                    throw op.Fail(errorId, ErrorKind.OperationTimeout,
                        $"{step}: the VM is still in state {state} ({MapState(state)}) after {timeout.TotalSeconds:0} s; expected {target} ({MapState(target)}).", hint);
                if (ct.WaitHandle.WaitOne(Options.PollInterval)) ct.ThrowIfCancellationRequested();
            }
        }

        public void StopRouter(string name, bool turnOff, CancellationToken cancellationToken)
        {
            var ct = cancellationToken;
            var operation = $"Stopping router '{name}'" + (turnOff ? " (turn off)" : "");
            var (host, _, vm) = FindRouter(name, operation, ct)!.Value;
            var op = host.Op(operation, name);
            if (vm.EnabledState == 3) return;
            if (turnOff)
            {
                RequestState(host, op, vm.Guid, 3, "RequestStateChange (3, turn off)", ct);
                return;
            }
            GracefulStop(host, op, vm, ct);
        }

        /// <summary>Msvm_ShutdownComponent.InitiateShutdown (no forced fallback), then EnabledState polled until Off.</summary>
        private void GracefulStop(HyperVHost host, HostOp op, VmRecord vm, CancellationToken ct)
        {
            const string hint = "Use Stop-VirtualRouter -TurnOff to power the VM off without a guest shutdown.";
            string name = vm.Marker.Router;
            if (vm.EnabledState != 2)
                throw op.Fail(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation,
                    $"a graceful shutdown needs a running guest, but the VM is {MapState(vm.EnabledState)}.", hint);
            var component = host.Query(op, "SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = '" + HyperVNames.Wql(vm.Guid) + "'", ct).FirstOrDefault();
            var status = component?.GetUInt16s("OperationalStatus").FirstOrDefault() ?? 0;
            if (component == null || status == 12 || status == 13 || status == 7)
                throw op.Fail(HyperVErrorIds.GuestShutdownUnavailable, ErrorKind.ResourceUnavailable,
                    component == null ? "the VM has no shutdown integration component, so the guest cannot be asked to shut down."
                        : $"the guest's shutdown service does not answer (OperationalStatus {status}: {(status == 12 ? "No Contact" : status == 13 ? "Lost Communication" : "incompatible")}); the guest may still be booting or lack the Hyper-V integration services.",
                    hint);
            var target = component.ToReference().WithHost(host.PathHost);
            var parameters = new[]
            {
                CimMethodParameter.Boolean("Force", false),
                CimMethodParameter.String("Reason", "VirtualNetworks: Stop-VirtualRouter " + name),
            };
            op.Call("Msvm_ShutdownComponent.InitiateShutdown", ct, () =>
            {
                var r = host.Gateway.InvokeMethod(target, "InitiateShutdown", parameters, ct);
                // InitiateShutdown has no Job output parameter (microsoft/wmi server2019/server23h2
                // Msvm_ShutdownComponent.go), yet 4096 "Method Parameters Checked - Job Started" is a documented return
                // (msvm-shutdowncomponent-initiateshutdown): the shutdown has started and, with no job to follow, the
                // VM's EnabledState below tells when it is done. A Job, should a host hand one out, is waited for.
                if (r.ReturnValue == CimJobs.JobStarted && r.Job == null) return r;
                return host.Gateway.Complete(target, "InitiateShutdown", r, ct, Options.JobPolicy);
            });
            WaitForState(host, op, vm.Guid, 3, Options.ShutdownTimeout, "graceful shutdown", ct, HyperVErrorIds.ShutdownTimeout, hint);
        }

        // ================================================================================================ configuration (KVP)

        public void ConfigureRouter(RouterConfiguration configuration, CancellationToken cancellationToken)
        {
            if (configuration == null) throw new ArgumentNullException(nameof(configuration));
            var ct = cancellationToken;
            var operation = $"Configuring router '{configuration.RouterName}'";
            var (host, _, vm) = FindRouter(configuration.RouterName, operation, ct, ReadParts.Kvp)!.Value;
            var op = host.Op(operation, configuration.RouterName);
            var macs = vm.Nics.GroupBy(n => n.Link, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First().Mac, StringComparer.OrdinalIgnoreCase);
            var text = KvpConfig.Render(configuration, macs);
            var wanted = KvpConfig.Items(text);
            var stale = vm.HostKvp.Keys.Where(k => KvpConfig.IsConfigKey(k) && !wanted.ContainsKey(k)).ToList();
            var modify = wanted.Where(kv => vm.HostKvp.TryGetValue(kv.Key, out var d) && d != kv.Value).ToList();
            var add = wanted.Where(kv => !vm.HostKvp.ContainsKey(kv.Key)).ToList();
            var vmRef = host.VmRef(vm.Guid);
            Kvp(host, op, vmRef, "RemoveKvpItems", stale.Select(k => new KeyValuePair<string, string>(k, "")).ToList(), ct);
            Kvp(host, op, vmRef, "ModifyKvpItems", modify, ct);
            Kvp(host, op, vmRef, "AddKvpItems", add, ct);
        }

        /// <summary>One KVP method over items, at most 128 per call (pool 0: Source 0).</summary>
        private void Kvp(HyperVHost host, HostOp op, CimReference vmRef, string method, IReadOnlyList<KeyValuePair<string, string>> items, CancellationToken ct)
        {
            for (int i = 0; i < items.Count; i += 128)
            {
                var batch = items.Skip(i).Take(128).Select(kv => CimXml.Write(new CimObject("Msvm_KvpExchangeDataItem")
                    .Set("Name", CimDataType.String, false, kv.Key)
                    .Set("Data", CimDataType.String, false, kv.Value)
                    .Set("Source", CimDataType.UInt16, false, (ushort)0))).ToList();
                host.Invoke(op, method, host.Vsms(op, ct), method, ct, new[]
                {
                    CimMethodParameter.Reference("TargetSystem", vmRef),
                    CimMethodParameter.Strings("DataItems", batch),
                });
            }
        }

        // ================================================================================================ probes

        public ProbeResult Probe(string fromRouter, string address, CancellationToken cancellationToken)
        {
            var ct = cancellationToken;
            var operation = $"Probing {address} from router '{fromRouter}'";
            if (!KvpConfig.IsAddress(address))
                throw HyperVErrors.Error(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, fromRouter, $"{operation}: '{address}' is not an IP address.");
            var (host, _, vm) = FindRouter(fromRouter, operation, ct)!.Value;
            var op = host.Op(operation, fromRouter);
            if (vm.EnabledState != 2) return new ProbeResult { Reachable = false, Detail = $"router '{fromRouter}' is not running ({MapState(vm.EnabledState)})" };
            var key = KvpConfig.ProbePrefix + Guid.NewGuid().ToString("N").Substring(0, 12);
            var vmRef = host.VmRef(vm.Guid);
            var request = new[] { new KeyValuePair<string, string>(key, "ping " + address + " count=1 deadline=2") };
            Kvp(host, op, vmRef, "AddKvpItems", request, ct);
            try
            {
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    var comp = host.Query(op, "SELECT * FROM Msvm_KvpExchangeComponent WHERE SystemName = '" + HyperVNames.Wql(vm.Guid) + "'", ct).FirstOrDefault();
                    foreach (var item in comp?.GetStrings("GuestExchangeItems") ?? Array.Empty<string>())
                    {
                        CimObject o;
                        try { o = CimXml.Read(item); } catch (FormatException) { continue; }
                        if (o.GetString("Name") == key) return KvpConfig.ParseProbeAnswer(o.GetString("Data") ?? "");
                    }
                    if (clock.Elapsed > Options.ProbeTimeout)
                        return new ProbeResult
                        {
                            Reachable = false,
                            Detail = $"no answer from the guest agent of '{fromRouter}' within {Options.ProbeTimeout.TotalSeconds:0} s (the image needs hv_kvp_daemon and the vn probe agent; docs/hyperv-backend.md §4)",
                        };
                    if (ct.WaitHandle.WaitOne(Options.PollInterval)) ct.ThrowIfCancellationRequested();
                }
            }
            finally
            {
                try { Kvp(host, op, vmRef, "RemoveKvpItems", request, CancellationToken.None); }
                catch (VirtualNetworksException) { }
            }
        }
    }
}
