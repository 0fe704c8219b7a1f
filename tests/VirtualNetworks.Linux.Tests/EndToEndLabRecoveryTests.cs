using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Issue 11, defects 5 and 6, end to end through the staged module on three real lab hosts (h1—h2—h3) and QEMU:
    /// (a) an underlay left half-made (a veth end without its address, an underlay route gone: what a deployment killed
    /// midway leaves) is seen and repaired by the next Deploy-VirtualNetwork, and Remove-VirtualNetwork finishes over such an
    /// underlay; (b) a network split into fragments with one of them already gone (an interrupted removal) is removed whole
    /// by Remove-VirtualNetwork with its name, lab hosts included, leaving nothing tagged.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndLabRecoveryTests : IDisposable
    {
        private readonly ITestOutputHelper _out;
        private readonly string _root = EndToEndHost.NewStateRoot();
        private readonly string _p = EndToEndHost.NewPrefix();
        private readonly string _work;

        public EndToEndLabRecoveryTests(ITestOutputHelper output)
        {
            _out = output;
            _work = Path.Combine(Path.GetTempPath(), "vne2e-work-" + _p);
            Directory.CreateDirectory(_work);
        }

        private string H(int i) => _p + "-h" + i;
        private string R(string n) => _p + "-" + n;
        private string[] Hosts => new[] { H(1), H(2), H(3) };
        private static string Q(string s) => EndToEndHost.Q(s);

        public void Dispose()
        {
            if (EndToEndHost.SkipReason == null) EndToEndHost.ForceCleanUp(_root, _p, Hosts);
            try { Directory.Delete(_work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        /// <summary>A topology file: the chain h1—h2—h3 and the given routers (name, host) and links (from, to), all labelled <see cref="_p"/>.</summary>
        private string Topology(string file, IEnumerable<(string Name, int Host)> routers, IEnumerable<(string From, string To)> links)
        {
            string Str(string s) => "\"" + s + "\"";
            var json = "{ \"hosts\": [ " + string.Join(", ", Hosts.Select(h => "{ \"name\": " + Str(h) + " }")) + " ],\n" +
                       "  \"physicalLinks\": [ { \"from\": " + Str(H(1)) + ", \"to\": " + Str(H(2)) + " }, { \"from\": " + Str(H(2)) + ", \"to\": " + Str(H(3)) + " } ],\n" +
                       "  \"routers\": [ " + string.Join(", ", routers.Select(r => "{ \"name\": " + Str(R(r.Name)) + ", \"host\": " + Str(H(r.Host)) +
                                                                                  ", \"network\": " + Str(_p) + ", \"memoryMB\": 128 }")) + " ],\n" +
                       "  \"links\": [ " + string.Join(", ", links.Select(l => "{ \"from\": " + Str(R(l.From)) + ", \"to\": " + Str(R(l.To)) + " }")) + " ] }";
            var path = Path.Combine(_work, file);
            File.WriteAllText(path, json);
            return path;
        }

        private List<string> Leftovers() => EndToEndHost.Leftovers(_root, a => EndToEndHost.TagNamesPrefix(a, _p), Hosts);

        private void AssertNothingLeft(EndToEndSession ps, string after)
        {
            Assert.Empty(ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output);
            Assert.DoesNotContain(ps.Invoke("Get-VirtualHost").Ok("Get-VirtualHost").Output, h => EndToEndSession.Text(h, "Name").StartsWith(_p, StringComparison.Ordinal));
            var left = Leftovers();
            for (int i = 0; i < 20 && left.Count > 0; i++)
            {
                Thread.Sleep(250);
                left = Leftovers();
            }
            Assert.True(left.Count == 0, LeftoverReport.Format(after, left, EndToEndHost.DescribeScan(_root, "an object '" + _p + "-*' of this test")));
            Assert.DoesNotContain(new IpCommand().ListOwnedRoutes().Keys, LabNetwork.IsUnderlayHostRoute);
        }

        /// <summary>Waits until every router's guest printed VN-READY (Test-VirtualNetwork waits for sources, not destinations).</summary>
        private void WaitBooted(params string[] routers)
        {
            var store = new StateStore(_root);
            var clock = Stopwatch.StartNew();
            var pending = routers.ToList();
            while (pending.Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(120))
            {
                pending.RemoveAll(r =>
                {
                    try { return File.ReadAllText(store.RunPaths(r).ConsoleLog).Contains("VN-READY " + r, StringComparison.Ordinal); }
                    catch (IOException) { return false; }
                });
                if (pending.Count > 0) Thread.Sleep(100);
            }
            Assert.True(pending.Count == 0, "not booted (no VN-READY) after 120 s: " + string.Join(", ", pending));
        }

        private static string Ns(string host) => InterfaceNames.Namespace(host);

        /// <summary>What a deployment killed between a veth and its address leaves, plus an underlay route lost.</summary>
        private (string Device, string Address) BreakUnderlay(bool dropRoute)
        {
            var store = new StateStore(_root);
            var pl = store.ListPhysicalLinks().Single(p => p.Name.Contains(H(3), StringComparison.OrdinalIgnoreCase));
            bool h2IsFrom = string.Equals(pl.From, H(2), StringComparison.OrdinalIgnoreCase);
            var (dev, address) = h2IsFrom ? (pl.FromDevice, pl.FromAddress) : (pl.ToDevice, pl.ToAddress);
            Assert.True(NetTestHost.Run("ip", "-n", Ns(H(2)), "addr", "del", address, "dev", dev).Succeeded, "ip addr del " + address);
            if (dropRoute)
            {
                var h3 = store.ReadHost(H(3))!.UnderlayAddress + "/32";
                Assert.True(NetTestHost.Run("ip", "-n", Ns(H(1)), "route", "del", h3, "proto", "118").Succeeded, "ip route del " + h3 + " in " + H(1));
            }
            return (dev, address);
        }

        [EndToEndFact]
        public void A_half_made_underlay_is_repaired_by_the_next_deploy_and_a_removal_finishes_over_one()
        {
            EndToEndHost.RequireReady();
            string r1 = R("r1"), r3 = R("r3");
            var file = Topology("underlay.json", new[] { ("r1", 1), ("r3", 3) }, new[] { ("r1", "r3") });
            using var ps = new EndToEndSession(_root, _out);
            ps.Invoke("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false", TimeSpan.FromMinutes(5)).Ok("Deploy-VirtualNetwork");
            WaitBooted(r1, r3);
            Assert.True(ps.Invoke("Test-VirtualNetwork -Quiet", TimeSpan.FromMinutes(3)).Ok("Test-VirtualNetwork").Single().BaseObject is true, "the fresh deployment does not pass");

            // ---- the state a killed deployment leaves: h2's veth towards h3 has no address, h1 lost its route to h3.
            var (dev, address) = BreakUnderlay(dropRoute: true);
            Assert.False(ps.Invoke("Test-VirtualNetwork -Quiet -ErrorAction SilentlyContinue", TimeSpan.FromMinutes(3)).Single().BaseObject is true,
                "the broken underlay still carries r1 <-> r3: the test breaks nothing");
            var hosts = ps.Invoke("Get-VirtualHost").Ok("Get-VirtualHost").Output;
            Assert.Contains("underlay route to", EndToEndSession.Text(hosts.Single(h => EndToEndSession.Text(h, "Name") == H(1)), "Status"));

            // ---- the same deployment again plans and applies the repair.
            var redeploy = ps.Invoke("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false", TimeSpan.FromMinutes(5)).Ok("Deploy-VirtualNetwork (again)").Single();
            var steps = EndToEndSession.Items(redeploy, "Steps").Select(s => s.ToString()).ToList();
            _out.WriteLine("redeploy: " + string.Join(" | ", steps));
            Assert.True(Convert.ToInt32(EndToEndSession.Prop(redeploy, "Planned"), CultureInfo.InvariantCulture) > 0, "a drifted underlay planned no change");
            Assert.Contains(steps, s => s.Contains("Repair", StringComparison.Ordinal));
            Assert.Contains(address, new IpCommand(Ns(H(2))).ListAddresses(dev));
            Assert.Contains(new StateStore(_root).ReadHost(H(3))!.UnderlayAddress + "/32", new IpCommand(Ns(H(1))).ListOwnedRoutes().Keys);
            Assert.All(ps.Invoke("Get-VirtualHost").Ok("Get-VirtualHost").Output, h => Assert.True(EndToEndSession.Prop(h, "Status") == null, EndToEndSession.Text(h, "Status")));
            var test = ps.Invoke("Test-VirtualNetwork", TimeSpan.FromMinutes(3));
            Assert.True((bool)EndToEndSession.Prop(test.Single(), "Passed")! && test.Errors.Count == 0, "Test-VirtualNetwork after the repair: " + test.Describe());
            Assert.Equal(0, Convert.ToInt32(EndToEndSession.Prop(ps.Invoke("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false").Ok("Deploy-VirtualNetwork (third)").Single(),
                "Planned"), CultureInfo.InvariantCulture));

            // ---- a removal over a half-made underlay finishes (no "Nexthop has invalid gateway"), lab hosts included.
            BreakUnderlay(dropRoute: false);
            ps.Invoke("Remove-VirtualNetwork -Name " + Q(_p) + " -Force -Confirm:$false", TimeSpan.FromMinutes(3)).Ok("Remove-VirtualNetwork over a half-made underlay");
            AssertNothingLeft(ps, "after Remove-VirtualNetwork over a half-made underlay");
        }

        [EndToEndFact]
        public void A_network_split_in_fragments_with_one_gone_is_removed_whole_by_its_name_lab_hosts_included()
        {
            EndToEndHost.RequireReady();
            string a = R("a"), b = R("b"), c = R("c");
            var file = Topology("split.json", new[] { ("a", 1), ("b", 2), ("c", 3) }, new[] { ("a", "b"), ("b", "c") });
            using var ps = new EndToEndSession(_root, _out);
            ps.Invoke("Deploy-VirtualNetwork -Path " + Q(file) + " -Confirm:$false", TimeSpan.FromMinutes(5)).Ok("Deploy-VirtualNetwork");
            Assert.All(new StateStore(_root).ListHosts(), h => Assert.Equal(new[] { _p }, h.DeployedFor));

            // ---- what an interrupted removal leaves: the links gone (the network in three fragments), then router a gone.
            ps.Invoke("Stop-VirtualRouter -Name " + string.Join(", ", new[] { a, b, c }.Select(Q)) + " -TurnOff -Confirm:$false").Ok("Stop-VirtualRouter -TurnOff");
            ps.Invoke("Remove-VirtualLink -Name " + Q(a + "-" + b) + ", " + Q(b + "-" + c) + " -Confirm:$false").Ok("Remove-VirtualLink");
            var fragments = ps.Invoke("Get-VirtualNetwork").Ok("Get-VirtualNetwork").Output.Select(n => EndToEndSession.Text(n, "Name")).ToList();
            Assert.Equal(new[] { _p, _p + "#2", _p + "#3" }, fragments);
            ps.Invoke("Remove-VirtualRouter -Name " + Q(a) + " -Confirm:$false").Ok("Remove-VirtualRouter");
            Assert.True(LabNetwork.NamespaceExists(Ns(H(1))), "h1 went with router a: nothing is left to test");

            // ---- the network's name removes every fragment and every lab host deployed for it.
            var removed = ps.Invoke("Remove-VirtualNetwork -Name " + Q(_p) + " -Confirm:$false -PassThru", TimeSpan.FromMinutes(3)).Ok("Remove-VirtualNetwork");
            Assert.Equal(new[] { _p, _p + "#2" }, removed.Output.Select(n => EndToEndSession.Text(n, "Name")));
            Assert.Contains(removed.Warnings, w => w.Message.Contains("2 fragments", StringComparison.Ordinal));
            AssertNothingLeft(ps, "after Remove-VirtualNetwork of a network in fragments");
            Assert.Empty(new StateStore(_root).ListHosts());

            // ---- run again: nothing of it is left, so the name is not found.
            var again = ps.Invoke("Remove-VirtualNetwork -Name " + Q(_p) + " -Confirm:$false");
            Assert.Contains(again.Errors, e => e.FullyQualifiedErrorId.StartsWith("NetworkNotFound,", StringComparison.Ordinal));
        }
    }
}
