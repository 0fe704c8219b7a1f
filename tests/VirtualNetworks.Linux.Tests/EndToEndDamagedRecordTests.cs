using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Topology;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Damaged records of running routers and links (truncated, garbage, deleted): Get-* warns and names the file,
    /// orphan clean-up kills no QEMU a record (or a link record) may want, deletes no record and no device of a link whose
    /// record cannot be read; restoring the file brings everything back.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndDamagedRecordTests
    {
        private readonly ITestOutputHelper _out;

        public EndToEndDamagedRecordTests(ITestOutputHelper output) => _out = output;

        private static TopologySpec Pair(CrashRun run) => new TopologySpec
        {
            Routers =
            {
                new RouterSpec { Name = run.N("a"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix },
                new RouterSpec { Name = run.N("b"), Image = "router", MemoryMB = 96, NetworkLabel = run.Prefix },
            },
            Links = { new LinkSpec { Name = run.N("ab"), From = run.N("a"), To = run.N("b") } },
        };

        /// <summary>Every file under routers/ and links/ with its bytes.</summary>
        private static Dictionary<string, byte[]> Records(CrashRun run) =>
            new[] { run.Backend.Store.RoutersDirectory, run.Backend.Store.LinksDirectory }
                .SelectMany(d => Directory.GetFiles(d)).ToDictionary(f => f, File.ReadAllBytes);

        /// <summary>Damages one file, then checks what Get-* and orphan clean-up do about it, then restores it.</summary>
        private void Damage(CrashRun run, string file, Action<string> damage, string what)
        {
            var original = File.ReadAllBytes(file);
            var qemusBefore = EndToEndHost.QemuProcesses(run.Root).Keys.ToList();
            var devicesBefore = EndToEndHost.TaggedInterfaces().Where(i => run.IsOurs(i.Value)).Select(i => i.Key).ToList();
            damage(file);
            var recordsBefore = Records(run);
            try
            {
                run.NewProcess();
                var inventory = run.Backend.GetInventory(CancellationToken.None);
                _out.WriteLine(what + ": warnings: " + string.Join(" | ", inventory.Warnings));
                Assert.True(inventory.Warnings.Count > 0, what + ": Get-* shows no warning");

                // Orphan clean-up as Remove-VirtualNetworkOrphan (without -All) runs it: everything it lists, removed.
                var orphans = run.Backend.FindOrphans(false, CancellationToken.None);
                _out.WriteLine(what + ": orphans: " + string.Join(", ", orphans.Select(o => o.Kind + " " + o.Name + " (" + o.Reason + ")")));
                foreach (var o in orphans) run.Backend.RemoveOrphan(o, CancellationToken.None);
                Assert.Equal(qemusBefore, EndToEndHost.QemuProcesses(run.Root).Keys.ToList());
                Assert.Equal(devicesBefore, EndToEndHost.TaggedInterfaces().Where(i => run.IsOurs(i.Value)).Select(i => i.Key).ToList());
                var recordsAfter = Records(run);
                Assert.Equal(recordsBefore.Keys.OrderBy(k => k), recordsAfter.Keys.OrderBy(k => k));
                foreach (var kv in recordsBefore) Assert.Equal(kv.Value, recordsAfter[kv.Key]);
                Assert.DoesNotContain(orphans, o => o.Kind == OrphanKind.Process || o.Kind == OrphanKind.Interface || o.Kind == OrphanKind.Disk);
            }
            finally
            {
                File.WriteAllBytes(file, original);
            }
            run.NewProcess();
            Assert.Empty(run.Backend.GetInventory(CancellationToken.None).Warnings);
        }

        [EndToEndFact]
        public void Damaged_or_missing_records_are_warned_about_and_nothing_they_may_describe_is_removed()
        {
            EndToEndHost.RequireReady();
            using var run = new CrashRun(_out);
            var topology = Pair(run);
            var r = run.Deploy(topology);
            Assert.True(r.Success, "deploy failed: " + r.Error);
            var routerFile = run.Backend.Store.RouterPath(run.N("a"));
            var linkFile = run.Backend.Store.LinkPath(run.N("ab"));

            Damage(run, routerFile, f => File.WriteAllBytes(f, File.ReadAllBytes(f).Take(40).ToArray()), "router record truncated");
            Damage(run, routerFile, f => File.WriteAllBytes(f, Array.Empty<byte>()), "router record emptied");
            Damage(run, routerFile, f => File.Delete(f), "router record deleted");
            Damage(run, linkFile, f => File.WriteAllText(f, "garbage\n"), "link record garbage");
            Damage(run, linkFile, f => File.WriteAllText(f, "{\"owner\": \"someone-else\"}"), "link record without our marker");

            // The router's record names the network in the warning a user sees in Get-VirtualRouter.
            var original = File.ReadAllBytes(routerFile);
            File.WriteAllText(routerFile, "{");
            try
            {
                using var ps = new EndToEndSession(run.Root, _out);
                var got = ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter");
                Assert.Contains(got.Warnings, w => w.Message.Contains(routerFile, StringComparison.Ordinal));
                Assert.DoesNotContain(got.Output, o => EndToEndSession.Text(o, "Name") == run.N("a"));
                var orphans = ps.Invoke("Remove-VirtualNetworkOrphan -Confirm:$false -PassThru").Ok("Remove-VirtualNetworkOrphan");
                Assert.DoesNotContain(orphans.Output, o => EndToEndSession.Text(o, "Kind") == "Process");
            }
            finally
            {
                File.WriteAllBytes(routerFile, original);
            }
            run.NewProcess();
            CrashInjector.AssertConverged(run, topology, "after the records were restored");
        }
    }
}
