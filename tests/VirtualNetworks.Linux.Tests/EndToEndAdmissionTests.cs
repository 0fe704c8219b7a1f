using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Admission through the staged module on the real Linux backend: Deploy-VirtualNetwork refuses a topology whose routers
    /// need more memory than this machine can give (InsufficientHostMemory), or more routers than its limit (TooManyRouters),
    /// BEFORE anything is created: no record, no run file, no tagged interface, no QEMU. With -Force the memory check is
    /// skipped and the deployment goes on (QEMU may then fail; only the skipped admission is asserted).
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndAdmissionTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();

        public EndToEndAdmissionTests(ITestOutputHelper output) => _out = output;

        public void Dispose()
        {
            EndToEndHost.ForceCleanUp(_root, _p);
            try { File.Delete(FilePath); } catch (IOException) { }
        }

        private string FilePath => Path.Combine("/tmp", _p + "-admission.json");

        /// <summary>A topology file of <paramref name="count"/> routers of <paramref name="memoryMB"/> MB each, no links.</summary>
        private string Topology(int count, int memoryMB)
        {
            var routers = new JsonArray();
            for (int i = 1; i <= count; i++)
                routers.Add(new JsonObject { ["name"] = _p + "-r" + i.ToString(CultureInfo.InvariantCulture), ["network"] = _p, ["memoryMB"] = memoryMB });
            var root = new JsonObject { ["defaults"] = new JsonObject { ["image"] = "router" }, ["routers"] = routers, ["links"] = new JsonArray() };
            File.WriteAllText(FilePath, root.ToJsonString());
            return FilePath;
        }

        private void AssertNothingCreated(EndToEndSession ps, string what)
        {
            var leftovers = EndToEndHost.Leftovers(_root, alias => EndToEndHost.TagNamesPrefix(alias, _p));
            Assert.True(leftovers.Count == 0, LeftoverReport.Format(what + " created something", leftovers, EndToEndHost.DescribeScan(_root, "a router of " + _p)));
            Assert.Empty(ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output);
        }

        [EndToEndFact]
        public void Routers_that_need_more_memory_than_the_machine_has_are_refused_before_anything_is_created_and_Force_goes_ahead()
        {
            const int memoryMB = 61_440; // 60 GB, within the backend's 64 GB per router
            var info = Admission.ParseMemInfo(File.ReadAllText("/proc/meminfo"))!.Value;
            Assert.True(3 * Admission.NeedMB(memoryMB) > Admission.UsableMB(info),
                $"this test needs a machine with less than {3 * Admission.NeedMB(memoryMB)} MB for routers; it has {Admission.UsableMB(info)} MB");
            var file = Topology(3, memoryMB);
            using var ps = new EndToEndSession(_root, _out);

            var r = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(file) + " -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.True(r.HadTerminatingError, "expected InsufficientHostMemory, got: " + r.Describe());
            Assert.Equal(ErrorIds.InsufficientHostMemory + EndToEndHost.DeployErrorSuffix, r.TerminatingErrorId);
            Assert.Equal("ResourceUnavailable", r.TerminatingError!.CategoryInfo.Category.ToString());
            Assert.Equal(VirtualNetworks.Topology.HostNames.LocalName, r.TerminatingError.CategoryInfo.TargetName);
            var message = r.TerminatingException!.Message;
            _out.WriteLine(message);
            Assert.Contains("Starting 3 router(s) needs " + (3 * Admission.NeedMB(memoryMB)).ToString("#,0", CultureInfo.InvariantCulture) + " MB", message);
            Assert.Contains("MB for routers (MemAvailable", message);
            AssertNothingCreated(ps, "the refused deployment");

            // The same with -WhatIf: refused as well (the plan would not be admitted), nothing created.
            var whatIf = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(file) + " -WhatIf", TimeSpan.FromMinutes(2));
            Assert.Equal(ErrorIds.InsufficientHostMemory + EndToEndHost.DeployErrorSuffix, whatIf.TerminatingErrorId);

            // -Force skips admission: the deployment creates the routers; starting 60 GB guests may then fail in QEMU.
            var forced = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(file) + " -Force -Confirm:$false", TimeSpan.FromMinutes(3));
            _out.WriteLine("with -Force: " + forced.Describe());
            Assert.NotEqual(ErrorIds.InsufficientHostMemory + EndToEndHost.DeployErrorSuffix, forced.TerminatingErrorId);
            Assert.True(Directory.GetFiles(Path.Combine(_root, "routers"), "*.json").Length == 3, "with -Force the three routers were created");

            ps.Invoke("Get-VirtualRouter | Remove-VirtualRouter -Force -Confirm:$false").Ok("Remove-VirtualRouter"); // three unlinked routers: three networks
            AssertNothingCreated(ps, "the removal after -Force");
        }

        [EndToEndFact]
        public void More_routers_than_the_machines_limit_are_refused_before_anything_is_created()
        {
            int limit = Admission.RouterLimit(Environment.ProcessorCount);
            var file = Topology(limit + 1, 64);
            using var ps = new EndToEndSession(_root, _out);

            var r = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(file) + " -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.True(r.HadTerminatingError, "expected TooManyRouters, got: " + r.Describe());
            Assert.Equal(ErrorIds.TooManyRouters + EndToEndHost.DeployErrorSuffix, r.TerminatingErrorId);
            Assert.Equal("LimitsExceeded", r.TerminatingError!.CategoryInfo.Category.ToString());
            var message = r.TerminatingException!.Message;
            _out.WriteLine(message);
            Assert.Contains($"0 existing + {limit + 1} new", message);
            Assert.Contains($"its limit is {limit}", message);
            AssertNothingCreated(ps, "the refused deployment");

            // Exactly the limit is admitted (shown with -WhatIf: planned, nothing created).
            var full = Topology(limit, 64);
            ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(full) + " -WhatIf").Ok("Deploy -WhatIf of exactly the limit");
            AssertNothingCreated(ps, "Deploy -WhatIf");
        }
    }
}
