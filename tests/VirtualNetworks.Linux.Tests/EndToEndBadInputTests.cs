using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>One private state directory and runspace for all bad-input cases; started lazily (skipped classes need no root).</summary>
    public sealed class BadInputLab : IDisposable
    {
        private readonly object _gate = new object();
        private EndToEndSession? _session;

        public string StateRoot { get; } = EndToEndHost.NewStateRoot();

        public EndToEndSession Start(ITestOutputHelper log)
        {
            lock (_gate)
            {
                if (_session == null)
                {
                    EndToEndHost.RequireReady();
                    _session = new EndToEndSession(StateRoot, log);
                }
                _session.Log = log;
                return _session;
            }
        }

        public void Dispose()
        {
            _session?.Dispose();
            try
            {
                if (Directory.Exists(StateRoot)) Directory.Delete(StateRoot, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// Every bad-input fixture of tests/fixtures/topologies/cases.json makes Deploy-VirtualNetwork fail with its error id on
    /// the real Linux backend and creates nothing: no record or run file in the state directory, no tagged interface, no
    /// QEMU process.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndBadInputTests : IClassFixture<BadInputLab>
    {
        private readonly BadInputLab _lab;
        private readonly ITestOutputHelper _output;

        public EndToEndBadInputTests(BadInputLab lab, ITestOutputHelper output)
        {
            _lab = lab;
            _output = output;
        }

        public static IEnumerable<object[]> Cases()
        {
            var path = Path.Combine(EndToEndHost.TopologyFixtures, "cases.json");
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var p in doc.RootElement.EnumerateObject())
                yield return new object[] { p.Name, p.Value.GetString()! };
        }

        [EndToEndTheory]
        [MemberData(nameof(Cases))]
        public void BadInput_FailsWithItsId_AndCreatesNothing(string file, string expectedId)
        {
            var ps = _lab.Start(_output);
            var fixture = Path.Combine(EndToEndHost.TopologyFixtures, file);
            // The fixture's object names (read leniently: some fixtures are not valid JSON); a tagged interface that appears
            // during the call and names one of them would be this deployment's.
            var names = new HashSet<string>(Regex.Matches(File.ReadAllText(fixture), "\"(?:name|from|to)\"\\s*:\\s*\"([^\"]*)\"")
                .Select(m => m.Groups[1].Value), StringComparer.OrdinalIgnoreCase);
            var before = EndToEndHost.TaggedInterfaces();
            bool Ours(string alias) => !before.ContainsValue(alias) && EndToEndHost.TagObjectNames(alias).Any(n => names.Contains(n) || n.Split('-').Any(names.Contains));
            var r = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(fixture) + " -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.True(r.HadTerminatingError, file + ": expected the terminating error " + expectedId + ", got: " + r.Describe());
            Assert.Equal(expectedId + EndToEndHost.DeployErrorSuffix, r.TerminatingErrorId);

            var leftovers = EndToEndHost.Leftovers(_lab.StateRoot, Ours);
            Assert.True(leftovers.Count == 0, LeftoverReport.Format(file + " (" + expectedId + ") created something", leftovers,
                EndToEndHost.DescribeScan(_lab.StateRoot, "a router or link of " + file + " (" + string.Join(", ", names) + ") and appeared during the call")));
            Assert.Empty(ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output);
            Assert.Empty(ps.Invoke("Get-VirtualLink").Ok("Get-VirtualLink").Output);
        }
    }
}
