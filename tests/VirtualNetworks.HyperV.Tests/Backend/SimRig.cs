using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using VirtualNetworks.Planning;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// One simulated Hyper-V host ("HV01") behind a <see cref="HyperVBackend"/> (local-machine request, so router specs
    /// with an empty Host land on it), a simulated guest agent answering probes, and fast polling.
    /// </summary>
    internal sealed class SimRig : IDisposable
    {
        public const string Image = @"C:\Images\router.vhdx";
        public const string VhdDir = @"C:\ProgramData\Microsoft\Windows\Virtual Hard Disks\VirtualNetworks";
        public static readonly CancellationToken None = CancellationToken.None;

        /// <summary>Addresses the simulated guests answer pings for (any router can reach them).</summary>
        public readonly ConcurrentDictionary<string, bool> Reachable = new ConcurrentDictionary<string, bool>();
        /// <summary>Every probe request the guest agent saw: (vm name, key, data).</summary>
        public readonly ConcurrentQueue<(string Vm, string Key, string Data)> AgentSaw = new ConcurrentQueue<(string, string, string)>();

        public SimRig(TimeSpan? jobDuration = null, HyperVSimulator? sim = null)
        {
            Sim = sim ?? new HyperVSimulator("HV01") { JobDuration = jobDuration ?? TimeSpan.Zero };
            Sim.AddFile(Image);
            Sim.GuestAgent = (ctx, key, data) =>
            {
                AgentSaw.Enqueue((ctx.VmName, key, data));
                if (!key.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal)) return null;
                var w = data.Split(' ');
                if (w.Length < 2 || w[0] != "ping") return "code 2 rtt_ms 0";
                return Reachable.ContainsKey(w[1]) ? "code 0 rtt_ms 0.4" : "code 1 rtt_ms 0";
            };
            Options = new HyperVBackendOptions
            {
                JobFirstPoll = TimeSpan.FromMilliseconds(1),
                JobMaxPoll = TimeSpan.FromMilliseconds(2),
                JobTimeout = TimeSpan.FromSeconds(10),
                PollInterval = TimeSpan.FromMilliseconds(1),
                StateTimeout = TimeSpan.FromSeconds(5),
                ShutdownTimeout = TimeSpan.FromSeconds(5),
                ProbeTimeout = TimeSpan.FromMilliseconds(300),
            };
            Backend = NewBackend();
        }

        public HyperVSimulator Sim { get; }
        public HyperVBackendOptions Options { get; }
        public HyperVBackend Backend { get; private set; }

        /// <summary>A fresh backend instance on the same host (no caches), as a new PowerShell command would get.</summary>
        public HyperVBackend NewBackend() => new HyperVBackend(new BackendRequest(), _ => Sim.Connect(), Options);

        public void Renew()
        {
            Backend.Dispose();
            Backend = NewBackend();
        }

        public void Dispose() => Backend.Dispose();

        public static RouterSpec Router(string name, int cpus = 1, int mb = 256) =>
            new RouterSpec { Name = name, Image = Image, ProcessorCount = cpus, MemoryMB = mb };

        public static LinkSpec Link(string name, string from, string to, long? bw = null, int? vlan = null) =>
            new LinkSpec { Name = name, From = from, To = to, MaximumBandwidth = bw, VlanId = vlan };

        public BackendInventory Inventory() => Backend.GetInventory(None);

        // ------------------------------------------------------------------ simulator views

        public IReadOnlyList<CimObject> Vms() =>
            Sim.Instances("Msvm_ComputerSystem").Where(c => c.GetString("Caption") == "Virtual Machine").ToList();

        public IReadOnlyList<CimObject> Nics() => Sim.Instances("Msvm_SyntheticEthernetPortSettingData")
            .Where(n => !(n.GetString("InstanceID") ?? "").StartsWith("Microsoft:Definition", StringComparison.OrdinalIgnoreCase)).ToList();

        public IReadOnlyList<CimObject> Vssds() => Sim.Instances("Msvm_VirtualSystemSettingData");

        public IReadOnlyList<string> DiskFiles() => Sim.Files.Where(f => !string.Equals(f, Image, StringComparison.OrdinalIgnoreCase)).ToList();

        public CimObject VssdOf(string vmName) =>
            Vssds().Single(v => v.GetString("ElementName") == vmName && v.GetString("VirtualSystemType") == HyperVNames.Realized);

        public IReadOnlyList<CimObject> DevicesOf(string vmName)
        {
            var id = VssdOf(vmName).GetString("InstanceID")!;
            return Sim.Instances("CIM_ResourceAllocationSettingData").Where(d => (d.GetString("InstanceID") ?? "").StartsWith(id + "\\", StringComparison.OrdinalIgnoreCase)).ToList();
        }

        public IReadOnlyList<CimObject> FeaturesOf(string vmName)
        {
            var id = VssdOf(vmName).GetString("InstanceID")!;
            return Sim.Instances("Msvm_EthernetSwitchPortFeatureSettingData").Where(d => (d.GetString("InstanceID") ?? "").StartsWith(id + "\\", StringComparison.OrdinalIgnoreCase)).ToList();
        }
    }

    internal sealed class YesObserver : IPlanObserver
    {
        public Action<PlanStep>? Starting;
        public bool ShouldRun(PlanStep step) => true;
        public void OnStepStarting(PlanStep step, int index, int count) => Starting?.Invoke(step);
    }
}
