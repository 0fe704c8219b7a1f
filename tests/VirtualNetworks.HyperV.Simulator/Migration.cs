using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>
    /// Msvm_VirtualSystemMigrationService: MigrateVirtualSystemToHost, CheckVirtualSystemIsMigratableToHost and its job
    /// variant CheckVirtualSystemIsMigratable (fact sheet §8). A migration moves the VM with its settings, devices,
    /// features, KVP items, components and runtime state (guest up, uptime) into the destination host's store under the
    /// same GUID and InstanceIDs. See README.md "Migration".
    /// </summary>
    public sealed partial class HyperVSimulator
    {
        /// <summary>How long a MigrateVirtualSystemToHost job runs (null = <see cref="JobDuration"/>); PercentComplete rises meanwhile.</summary>
        public TimeSpan? MigrationDuration { get; set; }

        /// <summary>
        /// Test knob (behaviour chosen, not evidence): a migration leaves the VM's port ACLs behind, so a client that
        /// re-applies what it recorded can be told from one that trusts the migration. Default false (ACLs move with the VM).
        /// </summary>
        public bool MigrationDropsPortAcls { get; set; }

        private const ushort VirtualSystem = 32768, Storage = 32769, Staged = 32770, VirtualSystemAndStorage = 32771;

        private sealed class MigrationRequest
        {
            public CimObject Vm = null!;
            public ushort Type;
            public string Destination = "";
            public bool RetainVhdCopies, AllowOverwrite;
            /// <summary>EPASD InstanceID → destination switch path ("" = not connected).</summary>
            public Dictionary<string, string> Connections = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            /// <summary>VHD SASD InstanceID → destination file path.</summary>
            public Dictionary<string, string> Disks = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        private Plan Migration(Call c)
        {
            string m = c.Method.Name;
            if (m != "MigrateVirtualSystemToHost" && m != "CheckVirtualSystemIsMigratableToHost" && m != "CheckVirtualSystemIsMigratable")
                throw new SimFailure(SimFailure.Kinds.NotSupported, $"{m} is not simulated.");
            var vm = ResolveRef(c.Ref("ComputerSystem"), "ComputerSystem", "Msvm_ComputerSystem");
            if (!IsVm(vm)) throw SimFailure.Invalid("ComputerSystem is the host, not a virtual machine.");
            var req = new MigrationRequest { Vm = vm, Type = VirtualSystem, Destination = c.Str("DestinationHost") ?? "" };
            string? settingsText = c.Str("MigrationSettingData");
            if (!string.IsNullOrEmpty(settingsText))
            {
                var s = ParseEmbedded(settingsText, "Msvm_VirtualSystemMigrationSettingData", "MigrationSettingData");
                req.Type = s.Obj.GetUInt16("MigrationType") ?? VirtualSystem;
                ushort transport = s.Obj.GetUInt16("TransportType") ?? 5;
                if (transport != 5 && transport != 32768) throw SimFailure.Invalid($"TransportType {transport} is not 5 (TCP) or 32768 (SMB).");
                req.RetainVhdCopies = s.Obj.GetBoolean("RetainVhdCopiesOnSource") ?? false;
                req.AllowOverwrite = s.Obj.GetBoolean("AllowOverwriteExistingFile") ?? false;
            }
            if (req.Type == Storage || req.Type == Staged || req.Type == 32772)
                throw new SimFailure(SimFailure.Kinds.NotSupported, $"MigrationType {req.Type} is not simulated (32768 VirtualSystem and 32771 VirtualSystemAndStorage are).");
            if (req.Type != VirtualSystem && req.Type != VirtualSystemAndStorage)
                throw SimFailure.Invalid($"MigrationType {req.Type} is not a documented value (32768..32772).");
            if (string.IsNullOrWhiteSpace(req.Destination)) throw SimFailure.Invalid("DestinationHost is empty (a virtual system migration needs a destination).");
            if (!string.IsNullOrEmpty(c.Str("NewSystemSettingData")))
                ParseEmbedded(c.Str("NewSystemSettingData"), "Msvm_VirtualSystemSettingData", "NewSystemSettingData"); // checked, not applied
            string guid = vm.GetString("Name")!;
            foreach (var (text, i) in c.Strs("NewResourceSettingData").Select((t, i) => (t, i)))
            {
                var r = ParseEmbedded(text, "CIM_ResourceAllocationSettingData", $"NewResourceSettingData[{i}]");
                var cur = ByInstanceId(r.Obj.ClassName, r.Obj.GetString("InstanceID"));
                if (cur == null || VmOf(cur) != vm)
                    throw SimFailure.Invalid($"NewResourceSettingData[{i}]: no {r.Obj.ClassName} '{r.Obj.GetString("InstanceID")}' on this virtual machine.");
                string k = Kind(cur);
                string target = r.Obj.GetStrings("HostResource").FirstOrDefault() ?? "";
                if (k == "epasd") req.Connections[Iid(cur)] = target;
                else if (k == "vhd")
                {
                    if (target.Length == 0) throw SimFailure.Invalid($"NewResourceSettingData[{i}]: HostResource[0] must be the destination path of the disk.");
                    req.Disks[Iid(cur)] = NormalizePath(target);
                }
                else throw SimFailure.Invalid($"NewResourceSettingData[{i}]: only connections and virtual hard disks can be changed by a migration here ({k}).");
            }
            var rt = Runtime(vm);
            ushort state = State(vm);
            if (rt.InTransition) throw SimFailure.BadState("The virtual machine is changing state or already migrating.");
            if (state != 2 && state != 3 && state != 6)
                throw SimFailure.BadState($"A virtual machine in EnabledState {state} cannot be migrated (Running 2 = live, Off 3 or Saved 6 = offline).");

            var reasons = Blockers(req);
            if (m == "CheckVirtualSystemIsMigratableToHost")
            {
                var check = new Plan();
                check.Out["IsMigratable"] = reasons.Count == 0;
                return check;
            }
            if (m == "CheckVirtualSystemIsMigratable")
            {
                var job = new Plan { Job = true, JobType = 301 };
                if (reasons.Count > 0)
                {
                    job.FailJobWith = $"The virtual machine '{vm.GetString("ElementName")}' cannot be migrated to '{req.Destination}'.";
                    job.JobErrors = reasons;
                }
                return job;
            }

            var plan = new Plan { Job = true, JobType = 300, JobClass = "Msvm_MigrationJob", Duration = MigrationDuration };
            plan.JobInit = j =>
            {
                j.Set("MigrationType", req.Type);
                j.Set("VirtualSystemName", guid);
                j.Set("DestinationHost", req.Destination);
            };
            plan.Now.Add(() =>
            {
                rt.InTransition = true;
                MigrationService.Set("ActiveVirtualSystemMigrationCount", (MigrationService.GetUInt32("ActiveVirtualSystemMigrationCount") ?? 0) + 1);
            });
            plan.Always.Add(() =>
            {
                rt.InTransition = false;
                MigrationService.Set("ActiveVirtualSystemMigrationCount", Math.Max(1U, MigrationService.GetUInt32("ActiveVirtualSystemMigrationCount") ?? 1) - 1);
            });
            // Two steps, so that an injected job failure "after partial work" (the first half) moves nothing: the
            // transfer (nothing visible), then the switch-over, which re-checks everything and moves the VM.
            plan.AtEnd.Add(() => { });
            plan.AtEnd.Add(() =>
            {
                var now = Blockers(req);
                if (now.Count > 0)
                {
                    var f = SimFailure.Fail($"Virtual machine migration operation for '{vm.GetString("ElementName")}' failed at migration source '{ComputerName}'.");
                    f.Reasons.AddRange(now);
                    throw f;
                }
                MoveTo(Datacenter!.Reach(req.Destination)!, req);
            });
            return plan;
        }

        /// <summary>Why the VM cannot go (empty = it can): destination, migration settings, switches, storage.</summary>
        private List<string> Blockers(MigrationRequest req)
        {
            var reasons = new List<string>();
            string name = req.Vm.GetString("ElementName") ?? "", guid = req.Vm.GetString("Name")!;
            if (!(MigrationSettings.GetBoolean("EnableVirtualSystemMigration") ?? false))
                reasons.Add($"Virtual machine migration is not enabled on the source host '{ComputerName}' (Msvm_VirtualSystemMigrationServiceSettingData.EnableVirtualSystemMigration is false).");
            if (string.Equals(req.Destination, ComputerName, StringComparison.OrdinalIgnoreCase))
            {
                reasons.Add($"The destination '{req.Destination}' is the source host.");
                return reasons;
            }
            var dest = Datacenter?.Reach(req.Destination);
            if (dest == null)
            {
                reasons.Add(Datacenter != null && Datacenter.Knows(req.Destination)
                    ? $"Failed to establish a connection with host '{req.Destination}': The network path was not found. (0x80070035)"
                    : $"The destination host '{req.Destination}' could not be resolved or contacted.");
                return reasons;
            }
            lock (dest.Sync)
            {
                dest.Advance();
                if (!(dest.MigrationSettings.GetBoolean("EnableVirtualSystemMigration") ?? false))
                    reasons.Add($"The Virtual Machine Management Service on '{dest.ComputerName}' is not configured to accept migrations (EnableVirtualSystemMigration is false).");
                if (dest.Get(dest.VmRef(guid)) != null)
                    reasons.Add($"A virtual machine with the identifier {guid} already exists on '{dest.ComputerName}'.");
                foreach (var conn in Devices(req.Vm).Where(d => Kind(d) == "epasd"))
                {
                    if (req.Connections.TryGetValue(Iid(conn), out var path))
                    {
                        if (path.Length == 0) continue;
                        if (!CimReference.TryParse(path, out var r, out _) || dest.Get(r!.WithHost(dest.ComputerName)) is not CimObject o ||
                            o.ClassName != "Msvm_VirtualEthernetSwitch" || (!string.IsNullOrEmpty(r.Host) && !string.Equals(r.Host, dest.ComputerName, StringComparison.OrdinalIgnoreCase)))
                            reasons.Add($"The connection of '{conn.GetString("ElementName")}' names '{path}', which is not a virtual switch on '{dest.ComputerName}'.");
                        continue;
                    }
                    string? switchName = ConnectedSwitchName(conn);
                    if (switchName == null) continue;
                    if (dest.SwitchByName(switchName) == null)
                        reasons.Add($"The virtual machine '{name}' is connected to the virtual switch '{switchName}', which does not exist on '{dest.ComputerName}'.");
                }
                foreach (var media in Devices(req.Vm).Where(d => Kind(d) == "vhd"))
                {
                    string path = NormalizePath(media.GetStrings("HostResource").FirstOrDefault() ?? "");
                    bool shared = _files.Shared?.Covers(path) ?? false;
                    req.Disks.TryGetValue(Iid(media), out var target);
                    if (req.Type == VirtualSystem)
                    {
                        if (!shared)
                            reasons.Add($"The virtual hard disk '{path}' of '{name}' is on storage '{dest.ComputerName}' cannot reach; move the storage too (MigrationType 32771 VirtualSystemAndStorage) or put it on shared storage.");
                        continue;
                    }
                    target ??= path;
                    if (shared && string.Equals(target, path, StringComparison.OrdinalIgnoreCase)) continue;
                    if (dest._files.ContainsKey(target) && !req.AllowOverwrite)
                        reasons.Add($"The file '{target}' already exists on '{dest.ComputerName}'.");
                    if (_files.TryGetValue(path, out var f) && f.ParentPath != null && !dest._files.ContainsKey(f.ParentPath))
                        reasons.Add($"The parent '{f.ParentPath}' of the differencing disk '{path}' does not exist on '{dest.ComputerName}'.");
                }
            }
            return reasons;
        }

        private string? ConnectedSwitchName(CimObject conn)
        {
            string? hr = conn.GetStrings("HostResource").FirstOrDefault();
            if (string.IsNullOrEmpty(hr)) return null;
            if (CimReference.TryParse(hr, out var r, out _) && Get(r!) is CimObject sw && sw.ClassName == "Msvm_VirtualEthernetSwitch") return sw.GetString("ElementName");
            return conn.GetString("LastKnownSwitchName");
        }

        internal CimObject? SwitchByName(string name) =>
            Enumerate("Msvm_VirtualEthernetSwitch").FirstOrDefault(s => string.Equals(s.GetString("ElementName"), name, StringComparison.OrdinalIgnoreCase));

        /// <summary>The switch-over: the VM and everything it owns leave this store and enter the destination's (same GUID, same InstanceIDs).</summary>
        private void MoveTo(HyperVSimulator dest, MigrationRequest req)
        {
            var vm = req.Vm;
            string guid = vm.GetString("Name")!;
            string prefix = "Microsoft:" + guid;
            var moving = new List<CimObject> { vm };
            if (Vssd(vm) is CimObject vssd) moving.Add(vssd);
            var children = Children(prefix).ToList();
            var dropped = MigrationDropsPortAcls ? children.Where(o => o.ClassName == "Msvm_EthernetSwitchPortAclSettingData").ToList() : new List<CimObject>();
            moving.AddRange(children.Except(dropped));
            foreach (var comp in new[] { "Msvm_ShutdownComponent", "Msvm_KvpExchangeComponent" })
                if (Component(vm, comp) is CimObject co) moving.Add(co);
            var keys = new HashSet<string>(moving.Select(KeyOf), StringComparer.Ordinal);
            var links = moving.SelectMany(o => _links.TryGetValue(KeyOf(o), out var l) ? l : new List<SimLink>())
                .Distinct().Where(l => keys.Contains(l.KeyA) && keys.Contains(l.KeyB) && l.Assoc != "Msvm_AffectedJobElement").ToList();
            var rt = Runtime(vm);
            lock (dest.Sync)
            {
                dest.Advance();
                var moved = new List<CimObject>();
                foreach (var o in moving)
                {
                    var copy = dest.New(o.ClassName);
                    foreach (var p in o.Properties)
                    {
                        object? v = p.Value;
                        if (v is string s && s.StartsWith("\\\\", StringComparison.Ordinal) && CimReference.TryParse(s, out var r, out _) &&
                            string.Equals(r!.Host, ComputerName, StringComparison.OrdinalIgnoreCase))
                            v = r.WithHost(dest.ComputerName).ToPath();
                        copy.Set(p.Name, v);
                    }
                    string k = o.ClassName == "Msvm_ComputerSystem" ? "" : Kind(o);
                    if (k == "epasd")
                    {
                        string? target = req.Connections.TryGetValue(Iid(o), out var t) ? t
                            : ConnectedSwitchName(o) is string sn ? dest.SwitchByName(sn)?.ToReference().ToPath() : null;
                        if (target != null && target.Length > 0 && CimReference.TryParse(target, out var sr, out _) && dest.Get(sr!.WithHost(dest.ComputerName)) is CimObject sw)
                        {
                            copy.Set("HostResource", new[] { sw.ToReference().ToPath() });
                            copy.Set("LastKnownSwitchName", sw.GetString("ElementName"));
                        }
                        else if (o.GetStrings("HostResource").Length > 0) copy.Set("HostResource", new string[0]);
                    }
                    else if (k == "vhd")
                    {
                        string path = NormalizePath(o.GetStrings("HostResource").FirstOrDefault() ?? "");
                        bool shared = _files.Shared?.Covers(path) ?? false;
                        string target = req.Disks.TryGetValue(Iid(o), out var t) ? t : path;
                        if (req.Type == VirtualSystemAndStorage && !(shared && string.Equals(target, path, StringComparison.OrdinalIgnoreCase)) &&
                            _files.TryGetValue(path, out var f))
                        {
                            dest._files[target] = new SimFile { Path = target, Format = f.Format, Type = f.Type, ParentPath = f.ParentPath, Size = f.Size, DiskId = f.DiskId };
                            if (!req.RetainVhdCopies) _files.Remove(path);
                        }
                        copy.Set("HostResource", new[] { target });
                    }
                    dest.Put(copy);
                    moved.Add(copy);
                }
                foreach (var l in links)
                    dest.Link(l.Assoc, l.RoleA, l.RefA.WithHost(dest.ComputerName), l.RoleB, l.RefB.WithHost(dest.ComputerName));
                foreach (var o in moving.Concat(dropped)) Delete(o);
                _vms.Remove(guid);
                rt.InTransition = false;
                dest._vms[guid] = rt;
                var newVm = moved[0];
                dest.RefreshGuestFacingState(newVm);
                dest.DeliverPendingKvp(newVm);
            }
        }
    }
}
