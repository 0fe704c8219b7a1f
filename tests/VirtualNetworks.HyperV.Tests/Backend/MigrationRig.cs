using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>
    /// Several simulated Hyper-V hosts in one <see cref="SimulatedDatacenter"/> (HV01, HV02, optionally HV03), each with
    /// the router image, migration enabled and the external transport switch "Transport", behind one backend that
    /// knows all of them. <see cref="SharedShare"/> is a path prefix every host sees (an SMB share).
    /// </summary>
    internal sealed class MigrationRig : IDisposable
    {
        public const string Image = SimRig.Image;
        public const string Transport = "Transport";
        public const string SharedShare = @"\\fs01\vms";
        public static readonly CancellationToken None = CancellationToken.None;

        public MigrationRig(int hosts = 2, bool transport = true, bool migration = true, string? vhdPath = null, TimeSpan? jobDuration = null)
        {
            Dc = new SimulatedDatacenter();
            Dc.AddSharedPath(SharedShare);
            for (int i = 1; i <= hosts; i++)
            {
                var h = Dc.AddHost("HV0" + i);
                h.JobDuration = jobDuration ?? TimeSpan.Zero;
                h.AddFile(Image);
                h.MigrationEnabled = migration;
                if (transport) h.AddExternalSwitch(Transport);
            }
            Options = new HyperVBackendOptions
            {
                TransportSwitchName = Transport,
                VirtualHardDiskPath = vhdPath,
                JobFirstPoll = TimeSpan.FromMilliseconds(1),
                JobMaxPoll = TimeSpan.FromMilliseconds(2),
                JobTimeout = TimeSpan.FromSeconds(10),
                PollInterval = TimeSpan.FromMilliseconds(1),
                StateTimeout = TimeSpan.FromSeconds(5),
                ShutdownTimeout = TimeSpan.FromSeconds(5),
            };
            HostNames = Dc.Hosts.Select(h => h.ComputerName).ToArray();
            Backend = NewBackend();
        }

        public SimulatedDatacenter Dc { get; }
        public HyperVBackendOptions Options { get; }
        public string[] HostNames { get; }
        public HyperVBackend Backend { get; private set; }
        public HyperVSimulator this[string host] => Dc[host];

        public HyperVBackend NewBackend() => new HyperVBackend(new BackendRequest { ComputerName = HostNames }, n => Dc.Connect(n), Options);

        public void Renew()
        {
            Backend.Dispose();
            Backend = NewBackend();
        }

        public void Dispose() => Backend.Dispose();

        public static RouterSpec Router(string name, string host) =>
            new RouterSpec { Name = name, Image = Image, ProcessorCount = 1, MemoryMB = 256, Host = host };

        public void Create(string name, string host, bool start = true)
        {
            Backend.CreateRouter(Router(name, host), None);
            if (start) Backend.StartRouter(name, None);
        }

        public BackendInventory Inventory() => Backend.GetInventory(None);

        public VirtualRouter RouterOf(string name) => Inventory().Routers.Single(r => r.Name == name);

        public VirtualLink LinkOf(string name) => Inventory().Links.Single(l => l.Name == name);

        public void ResetCounters() { foreach (var h in Dc.Hosts) h.Counters.Reset(); }

        /// <summary>The NIC vn:&lt;link&gt; as the guest of <paramref name="router"/> on <paramref name="host"/> sees it.</summary>
        public SimulatedNic Nic(string host, string router, string link) =>
            Dc[host].Guest(router).Nics.Single(n => n.ElementName == "vn:" + link);

        public CimObject? Vm(string host, string router) => Dc[host].FindVm(router);
    }
}
