using System;
using System.Linq;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>The CIM calls of one migration (docs/hyperv-backend.md §10.4), and that they do not grow with the hosts' VMs.</summary>
    public class MigrationCallCountTests
    {
        private readonly ITestOutputHelper _out;
        public MigrationCallCountTests(ITestOutputHelper output) { _out = output; }

        private static (string Hv01, string Hv02, int Queries, int Rows) MeasureLiveMove(int bystanders)
        {
            using var rig = new MigrationRig();
            for (int i = 0; i < bystanders; i++)
            {
                rig.Create("b" + i, "HV01", start: false);
                rig.Create("c" + i, "HV02", start: false);
            }
            rig.Create("r1", "HV01");
            rig.Create("r2", "HV01");
            rig.Backend.CreateLink(SimRig.Link("l12", "r1", "r2"), MigrationRig.None);
            rig.Renew(); // a fresh command: no cached services
            rig.ResetCounters();
            rig.Backend.MoveRouter("r1", "HV02", VirtualNetworks.MigrationMode.Live, null, MigrationRig.None);
            string Calls(string h) => string.Join(", ", rig[h].Counters.Methods.Where(m => m.Value > 0 && m.Key != "GetError" && m.Key != "GetErrorEx")
                .OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Key + " " + m.Value));
            int queries = rig.Dc.Hosts.Sum(h => h.Counters.Queries);
            int rows = rig.Dc.Hosts.Sum(h => h.Counters.RowsReturned);
            return (Calls("HV01"), Calls("HV02"), queries, rows);
        }

        [Fact]
        public void LiveMoveWithOneLinkToAPeerOnTheSource_MakesTheseCalls_WhateverTheNumberOfVms()
        {
            var small = MeasureLiveMove(2);
            var large = MeasureLiveMove(30);
            _out.WriteLine($"HV01: {small.Hv01}\nHV02: {small.Hv02}\nqueries {small.Queries}, rows {small.Rows} (30 VMs per host: {large.Queries}, {large.Rows})");
            Assert.Equal("CheckVirtualSystemIsMigratableToHost 1, MigrateVirtualSystemToHost 1, ModifyResourceSettings 2", small.Hv01);
            Assert.Equal("GetVirtualHardDiskSettingData 1", small.Hv02);
            Assert.Equal(small, large);
        }
    }
}
