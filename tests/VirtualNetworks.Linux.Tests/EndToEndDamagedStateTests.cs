using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Issue 11, defects 9 and 10, through the staged module on the real Linux backend: a state directory whose
    /// <c>state-id</c> was deleted (or garbled) while routers run, one owned by another user or writable by its group, and
    /// one whose run/ is a symbolic link are refused with a clear error before anything is created, and nothing is
    /// deleted: the routers running before keep running, their records and devices stay, no new id is minted.
    /// </summary>
    [Collection(EndToEndCollection.Name)]
    public sealed class EndToEndDamagedStateTests : IDisposable
    {
        private const string DeployClass = ",VirtualNetworks.Commands.DeployVirtualNetworkCommand";
        private const string OrphanClass = ",VirtualNetworks.Commands.RemoveVirtualNetworkOrphanCommand";

        private readonly ITestOutputHelper _output;
        private readonly string _prefix = EndToEndHost.NewPrefix();
        private readonly string _stateRoot = EndToEndHost.NewStateRoot();
        private readonly string _work;
        private readonly List<string> _extra = new List<string>();

        public EndToEndDamagedStateTests(ITestOutputHelper output)
        {
            _output = output;
            _work = Path.Combine(Path.GetTempPath(), "vne2e-work-" + _prefix);
            Directory.CreateDirectory(_work);
        }

        private string Name(string x) => _prefix + "-" + x;

        /// <summary>A topology file of two routers and the link between them.</summary>
        private string Topology(string file, string a, string b)
        {
            string path = Path.Combine(_work, file);
            File.WriteAllText(path, "{ \"routers\": [ { \"name\": \"" + Name(a) + "\" }, { \"name\": \"" + Name(b) + "\" } ], " +
                                    "\"links\": [ { \"from\": \"" + Name(a) + "\", \"to\": \"" + Name(b) + "\" } ] }");
            return path;
        }

        private bool Ours(string alias) => EndToEndHost.TagNamesPrefix(alias, _prefix);

        private static IEnumerable<string> ErrorIdsOf(ScriptResult r) =>
            r.Errors.Select(e => e.FullyQualifiedErrorId).Concat(r.TerminatingErrorId == null ? Array.Empty<string>() : new[] { r.TerminatingErrorId });

        private static string Message(ScriptResult r) =>
            r.TerminatingError?.Exception?.Message ?? r.TerminatingException?.Message ?? string.Join(" | ", r.Errors.Select(e => e.Exception.Message));

        private static void Sh(string program, params string[] args)
        {
            var r = ProcessRunner.Run(ProcessRunner.FindExecutable(program) ?? "/bin/" + program, args, null, TimeSpan.FromSeconds(20));
            Assert.True(r.Succeeded, program + " " + string.Join(" ", args) + ": " + r.StdErr);
        }

        /// <summary>What must not change while the directory is refused: QEMU processes, the test's tagged devices, state files.</summary>
        private (SortedDictionary<int, string> Qemu, List<string> Devices, List<string> Files) World() =>
            (EndToEndHost.QemuProcesses(_stateRoot),
             EndToEndHost.TaggedInterfaces().Where(i => Ours(i.Value)).Select(i => i.Key + " " + i.Value).ToList(),
             EndToEndHost.StateFiles(_stateRoot));

        private void AssertUnchanged((SortedDictionary<int, string> Qemu, List<string> Devices, List<string> Files) before, string after)
        {
            var now = World();
            Assert.True(before.Qemu.Keys.SequenceEqual(now.Qemu.Keys), after + ": QEMU processes changed: " + string.Join(", ", before.Qemu.Keys) + " -> " + string.Join(", ", now.Qemu.Keys));
            Assert.True(before.Devices.SequenceEqual(now.Devices), after + ": tagged devices changed:\n  " + string.Join("\n  ", before.Devices) + "\n->\n  " + string.Join("\n  ", now.Devices));
            Assert.True(before.Files.SequenceEqual(now.Files), after + ": state files changed:\n  " + string.Join("\n  ", before.Files) + "\n->\n  " + string.Join("\n  ", now.Files));
        }

        [EndToEndFact]
        public void A_deleted_or_garbled_state_id_is_refused_before_anything_is_created_and_nothing_is_deleted()
        {
            EndToEndHost.RequireReady();
            string first = Topology("first.json", "a", "b"), second = Topology("second.json", "c", "d");
            using var ps = new EndToEndSession(_stateRoot, _output);
            ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(first) + " -Confirm:$false", TimeSpan.FromMinutes(4)).Ok("Deploy first");
            string idPath = Path.Combine(_stateRoot, "state-id");
            string id = File.ReadAllText(idPath).Trim();
            var before = World();
            Assert.Equal(2, before.Qemu.Count);
            Assert.NotEmpty(before.Devices);

            // ---- state-id deleted while the routers run ------------------------------------------------------------------
            File.Delete(idPath);
            var deploy = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(second) + " -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.True(deploy.HadTerminatingError, deploy.Describe());
            Assert.Equal("StateDirectoryDamaged" + DeployClass, deploy.TerminatingErrorId);
            string message = Message(deploy);
            _output.WriteLine(message);
            Assert.Contains(idPath, message);
            Assert.Contains("is missing", message);
            Assert.Contains("carry the state id " + id, message); // the id to restore, found on the routers' devices
            Assert.Contains("printf '" + id, deploy.TerminatingError!.ErrorDetails!.RecommendedAction);

            foreach (var all in new[] { " -All", "" })
            {
                var orphans = ps.Invoke("Remove-VirtualNetworkOrphan" + all + " -Confirm:$false -PassThru", TimeSpan.FromMinutes(2));
                Assert.True(orphans.HadTerminatingError, "Remove-VirtualNetworkOrphan" + all + " must not report success: " + orphans.Describe());
                Assert.Equal("StateDirectoryDamaged" + OrphanClass, orphans.TerminatingErrorId);
                Assert.Empty(orphans.Output);
            }
            var stop = ps.Invoke("Stop-VirtualRouter -Name " + EndToEndHost.Q(Name("a")) + " -TurnOff -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.Contains(ErrorIdsOf(stop), e => e.StartsWith("StateDirectoryDamaged,", StringComparison.Ordinal));
            AssertUnchanged(before, "with state-id deleted");
            Assert.False(File.Exists(idPath), "a new state-id was minted");
            var routers = ps.Invoke("Get-VirtualRouter").Ok("Get-VirtualRouter").Output;
            Assert.Equal(new[] { "Running", "Running" }, routers.Select(r => EndToEndSession.Text(r, "State")));

            // ---- garbled state-id -------------------------------------------------------------------------------------------
            File.WriteAllText(idPath, "garbage!\n");
            deploy = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(second) + " -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.Equal("StateDirectoryDamaged" + DeployClass, deploy.TerminatingErrorId);
            Assert.Contains("does not hold a valid id", Message(deploy));
            AssertUnchanged(before, "with a garbled state-id");
            Assert.Equal("garbage!\n", File.ReadAllText(idPath));

            // ---- a valid but wrong state-id ---------------------------------------------------------------------------------
            File.WriteAllText(idPath, "0badc0de\n");
            deploy = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(second) + " -Confirm:$false", TimeSpan.FromMinutes(2));
            Assert.Equal("StateDirectoryDamaged" + DeployClass, deploy.TerminatingErrorId);
            AssertUnchanged(before, "with a wrong state-id");

            // ---- restored as the message says: everything works again ------------------------------------------------------
            File.WriteAllText(idPath, id + "\n");
            ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(first) + " -Confirm:$false", TimeSpan.FromMinutes(4)).Ok("Deploy first again");
            Assert.True(before.Qemu.Keys.SequenceEqual(EndToEndHost.QemuProcesses(_stateRoot).Keys), "the routers were restarted");
            ps.Invoke("Get-VirtualNetwork | Remove-VirtualNetwork -Confirm:$false", TimeSpan.FromMinutes(4)).Ok("Remove-VirtualNetwork");
            Assert.Empty(EndToEndHost.QemuProcesses(_stateRoot));
        }

        [EndToEndFact]
        public void An_unsafe_state_directory_is_refused_before_anything_is_created()
        {
            EndToEndHost.RequireReady();
            string topology = Topology("t.json", "a", "b");
            Directory.CreateDirectory(_stateRoot);
            using var ps = new EndToEndSession(_stateRoot, _output);

            void Refused(string why, string expect)
            {
                var before = World();
                var r = ps.Invoke("Deploy-VirtualNetwork -Path " + EndToEndHost.Q(topology) + " -Confirm:$false", TimeSpan.FromMinutes(2));
                Assert.True(r.HadTerminatingError, why + ": " + r.Describe());
                Assert.Equal("StateDirectoryUnsafe" + DeployClass, r.TerminatingErrorId);
                _output.WriteLine(why + ": " + Message(r));
                Assert.Contains(expect, Message(r));
                AssertUnchanged(before, why);
                Assert.Empty(EndToEndHost.QemuProcesses(_stateRoot));
                Assert.False(File.Exists(Path.Combine(_stateRoot, "state-id")), why + ": a state-id was written");
            }

            // Owned by another user (nobody).
            Sh("chown", "65534", _stateRoot);
            Refused("owned by nobody", _stateRoot + " is owned by ");
            Assert.False(File.Exists(Path.Combine(_stateRoot, "lock")));
            Sh("chown", "0", _stateRoot);

            // Writable by its group.
            File.SetUnixFileMode(_stateRoot, (UnixFileMode)0x1FD);
            Refused("group-writable", "is writable by its group (mode 0775");
            File.SetUnixFileMode(_stateRoot, (UnixFileMode)0x1ED);

            // run/ is a symbolic link to a directory elsewhere: refused, and the target is neither chmod-ed nor emptied.
            string target = _work + "-elsewhere";
            _extra.Add(target);
            Directory.CreateDirectory(target);
            File.SetUnixFileMode(target, (UnixFileMode)0x1ED);
            File.WriteAllText(Path.Combine(target, "someone.pid"), "1\n");
            File.CreateSymbolicLink(Path.Combine(_stateRoot, "run"), target);
            Refused("run/ is a symbolic link", Path.Combine(_stateRoot, "run") + " is a symbolic link (to " + target + ")");
            var orphans = ps.Invoke("Remove-VirtualNetworkOrphan -All -Confirm:$false -PassThru", TimeSpan.FromMinutes(2));
            Assert.Empty(orphans.Output); // nothing removed through the link
            Assert.Contains(ErrorIdsOf(orphans), e => e.StartsWith("StateDirectoryUnsafe,", StringComparison.Ordinal));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                         UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(target));
            Assert.True(File.Exists(Path.Combine(target, "someone.pid")));
            Assert.Equal(new[] { "someone.pid" }, Directory.GetFiles(target).Select(Path.GetFileName));
        }

        public void Dispose()
        {
            if (EndToEndHost.SkipReason == null)
            {
                try { ProcessRunner.Run(ProcessRunner.FindExecutable("chown") ?? "/bin/chown", new[] { "-R", "0", _stateRoot }, null, TimeSpan.FromSeconds(20)); }
                catch (InvalidOperationException) { }
                string run = Path.Combine(_stateRoot, "run");
                if (new FileInfo(run).LinkTarget != null) File.Delete(run);
                EndToEndHost.ForceCleanUp(_stateRoot, _prefix);
            }
            foreach (var d in _extra.Append(_work))
            {
                try
                {
                    if (Directory.Exists(d)) Directory.Delete(d, true);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
