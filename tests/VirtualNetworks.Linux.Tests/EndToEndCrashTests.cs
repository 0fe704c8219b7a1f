using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// A deployment killed midway (pwsh SIGKILLed while it starts the routers: records, bridges, taps, QEMU processes and
    /// sockets exist, the deployment is not finished) followed by <c>Remove-VirtualNetworkOrphan -All</c> leaves nothing
    /// the module owns in the state directory and no tagged process or interface of the test.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndCrashTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _prefix = EndToEndHost.NewPrefix();
        private readonly string _stateRoot = EndToEndHost.NewStateRoot();
        private readonly string _work;
        private IReadOnlyList<string> _labHosts = Array.Empty<string>();

        public EndToEndCrashTests(ITestOutputHelper output)
        {
            _output = output;
            _work = Path.Combine(Path.GetTempPath(), "vne2e-work-" + _prefix);
        }

        [EndToEndFact]
        public void ADeployKilledMidway_ThenRemoveVirtualNetworkOrphanAll_LeavesNothingTagged()
        {
            EndToEndHost.RequireReady();
            bool Ours(string alias) => EndToEndHost.TagNamesPrefix(alias, _prefix);
            var topology = new Figure1Topology(_prefix, _work);
            _labHosts = topology.Hosts;

            // ---- deploy in a child pwsh and SIGKILL it as soon as the first router's QEMU runs ----------------------
            var start = EndToEndHost.PwshStartInfo(_stateRoot, "Deploy-VirtualNetwork -Path " + EndToEndHost.Q(topology.Path) + " -ComputerName localhost");
            var childOutput = new StringBuilder();
            using var child = new Process { StartInfo = start };
            child.OutputDataReceived += (_, e) => { lock (childOutput) childOutput.AppendLine(e.Data); };
            child.ErrorDataReceived += (_, e) => { lock (childOutput) childOutput.AppendLine(e.Data); };
            child.Start();
            child.StandardInput.Close();
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();

            var clock = Stopwatch.StartNew();
            int processes = 0;
            while (clock.Elapsed < TimeSpan.FromMinutes(3) && !child.HasExited)
            {
                processes = EndToEndHost.QemuProcesses(_stateRoot).Count;
                if (processes > 0) break;
                Thread.Sleep(5);
            }
            bool exitedByItself = child.HasExited;
            if (!exitedByItself) child.Kill(); // SIGKILL: no finally blocks, no StopProcessing, no clean-up
            child.WaitForExit(30_000);
            string log;
            lock (childOutput) log = childOutput.ToString();
            Assert.False(exitedByItself, "the deployment ended (exit " + (child.HasExited ? child.ExitCode : -1) + ") before any router was started, so it could not be killed midway:" + Environment.NewLine + log);
            Assert.True(processes > 0, "no QEMU process of the deployment appeared within " + clock.Elapsed.TotalSeconds + " s:" + Environment.NewLine + log);
            _output.WriteLine("killed pwsh after {0:0} ms with {1} of {2} QEMU processes running", clock.Elapsed.TotalMilliseconds, processes, topology.Routers.Count);

            // QEMU daemonizes (fork, parent exits); let the ones that were starting settle before scanning.
            Thread.Sleep(1000);
            var before = EndToEndHost.Leftovers(_stateRoot, Ours, topology.Hosts);
            _output.WriteLine("left by the killed deployment:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", before));
            Assert.Contains(before, l => l.StartsWith("process ", StringComparison.Ordinal));
            Assert.Contains(before, l => l.StartsWith("interface ", StringComparison.Ordinal));
            Assert.Contains(before, l => l.StartsWith("state file ", StringComparison.Ordinal));

            // ---- clean up with the module ----------------------------------------------------------------------------
            List<string> removed;
            using (var ps = new EndToEndSession(_stateRoot, _output))
            {
                var r = ps.Invoke("Remove-VirtualNetworkOrphan -All -Confirm:$false -PassThru", TimeSpan.FromMinutes(3));
                removed = r.Output.Select(o => EndToEndSession.Text(o, "Kind") + " " + EndToEndSession.Text(o, "Name") + " (" + EndToEndSession.Text(o, "Reason") + ")").ToList();
                r.Ok("Remove-VirtualNetworkOrphan -All");
                Assert.Empty(ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output);
                Assert.Empty(ps.Invoke("Get-VirtualLink").Ok("Get-VirtualLink").Output);
            }

            var after = EndToEndHost.Leftovers(_stateRoot, Ours, topology.Hosts);
            for (int i = 0; i < 20 && after.Count > 0; i++)
            {
                Thread.Sleep(250);
                after = EndToEndHost.Leftovers(_stateRoot, Ours, topology.Hosts);
            }
            Assert.True(after.Count == 0, LeftoverReport.Format("after a killed deployment and Remove-VirtualNetworkOrphan -All", after,
                EndToEndHost.DescribeScan(_stateRoot, "an object '" + _prefix + "-*' of this test"),
                new[] { "left by the killed deployment:" }.Concat(before.Select(b => "  - " + b))
                    .Concat(new[] { "removed by Remove-VirtualNetworkOrphan -All -PassThru:" }).Concat(removed.Select(x => "  - " + x))));
        }

        public void Dispose()
        {
            if (EndToEndHost.SkipReason == null)
                EndToEndHost.ForceCleanUp(_stateRoot, _prefix, _labHosts);
            try
            {
                if (Directory.Exists(_work)) Directory.Delete(_work, true);
            }
            catch (IOException)
            {
            }
        }
    }
}
