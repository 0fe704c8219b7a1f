using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Util;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public sealed class StateStoreTests : IDisposable
    {
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly StateStore _store;

        public StateStoreTests()
        {
            _store = new StateStore(_root);
        }

        public void Dispose() => VmTestHost.DeleteTree(_root);

        private static RouterRecord Router(string name) => new RouterRecord
        {
            Name = name,
            Image = "default",
            ProcessorCount = 2,
            MemoryMB = 160,
            NetworkLabel = "a",
            AddressFamily = NetworkAddressFamily.IPv6,
            Macs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["l1"] = "52:54:01:02:03:04" },
            ConfigText = "name " + name + "\n",
            Configuration = new RouterConfiguration
            {
                RouterName = name,
                AddressFamily = NetworkAddressFamily.IPv6,
                Interfaces = { new InterfaceConfiguration { LinkName = "l1", Address = "fd00::/127", PeerAddress = "fd00::1", PeerRouter = "r2" } },
                Routes = { new RouteConfiguration { Destination = "fd01::/64", NextHop = "fd00::1", LinkName = "l1" } },
            },
            Accelerator = "tcg",
            DesiredState = RouterState.Running,
        };

        [Fact]
        public void Layout_is_under_the_root_with_private_run_and_disk_directories()
        {
            _store.EnsureLayout();
            Assert.Equal(_root, _store.Root);
            Assert.True(Directory.Exists(Path.Combine(_root, "routers")));
            Assert.True(Directory.Exists(Path.Combine(_root, "links")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_store.RunDirectory));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_store.DisksDirectory));
            Assert.Equal(Path.Combine(_root, "run", "r1.qmp"), _store.RunPaths("R1").QmpSocket);
            Assert.Equal(Path.Combine(_root, "disks", "r1.qcow2"), _store.DiskPath("R1"));
        }

        [Fact]
        public void Root_comes_from_the_option_then_the_environment_then_the_default()
        {
            string? saved = Environment.GetEnvironmentVariable(StateStore.RootEnvironmentVariable);
            try
            {
                Environment.SetEnvironmentVariable(StateStore.RootEnvironmentVariable, null);
                Assert.Equal("/var/lib/virtualnetworks", StateStore.ResolveRoot(null));
                Environment.SetEnvironmentVariable(StateStore.RootEnvironmentVariable, "/tmp/vn-env-root/");
                Assert.Equal("/tmp/vn-env-root", StateStore.ResolveRoot(null));
                Assert.Equal("/tmp/explicit", StateStore.ResolveRoot("/tmp/explicit"));
                Assert.Equal("/tmp/vn-env-root", new StateStore().Root);
            }
            finally
            {
                Environment.SetEnvironmentVariable(StateStore.RootEnvironmentVariable, saved);
            }
        }

        [Fact]
        public void Router_record_round_trips_and_carries_the_ownership_marker()
        {
            _store.WriteRouter(Router("Edge-1"));
            string file = Path.Combine(_root, "routers", "edge-1.json");
            Assert.True(File.Exists(file));
            var json = JObject.Parse(File.ReadAllText(file));
            Assert.Equal("virtualnetworks", (string?)json["owner"]);
            Assert.Equal(StateRecord.CurrentSchema, (int)json["schema"]!);
            Assert.Equal("router", (string?)json["kind"]);
            Assert.Equal("IPv6", (string?)json["addressFamily"]);
            Assert.Equal("Running", (string?)json["desiredState"]);

            var back = _store.ReadRouter("EDGE-1");
            Assert.NotNull(back);
            Assert.Equal("Edge-1", back!.Name);
            Assert.Equal(2, back.ProcessorCount);
            Assert.Equal(160, back.MemoryMB);
            Assert.Equal(NetworkAddressFamily.IPv6, back.AddressFamily);
            Assert.Equal("52:54:01:02:03:04", back.Macs["L1"]);
            Assert.Equal("fd00::/127", back.Configuration!.Interfaces[0].Address);
            Assert.Equal(Router("Edge-1").Configuration!.ToCanonicalString(), back.Configuration.ToCanonicalString());
            Assert.Equal(RouterState.Running, back.DesiredState);
            Assert.Empty(back.Extra);
            Assert.Equal(DateTimeKind.Utc, back.CreatedUtc.Kind);
        }

        [Fact]
        public void Link_record_round_trips()
        {
            _store.WriteLink(new LinkRecord
            {
                Name = "l1", From = "r1", To = "r2", MaximumBandwidth = 10_000_000, VlanId = 7, Bridge = "vnb0123abcd",
                Taps = { ["r1"] = "vnt0123abcd", ["r2"] = "vnt4567ef01" },
            });
            var l = _store.ReadLink("L1")!;
            Assert.Equal(10_000_000, l.MaximumBandwidth);
            Assert.Equal(7, l.VlanId);
            Assert.Equal("vnt4567ef01", l.Taps["R2"]);
            Assert.Equal(LinkTransport.Bridge, l.Transport);
            Assert.Single(_store.ListLinks());
            Assert.True(_store.DeleteLink("l1"));
            Assert.False(_store.DeleteLink("l1"));
            Assert.Null(_store.ReadLink("l1"));
        }

        [Fact]
        public void Unknown_fields_from_another_version_are_kept_on_rewrite()
        {
            _store.WriteRouter(Router("r1"));
            string file = _store.RouterPath("r1");
            var json = JObject.Parse(File.ReadAllText(file));
            json["futureField"] = new JObject { ["x"] = 1 };
            File.WriteAllText(file, json.ToString());

            var r = _store.ReadRouter("r1")!;
            Assert.True(r.Extra.ContainsKey("futureField"));
            r.MemoryMB = 256;
            _store.WriteRouter(r);
            var again = JObject.Parse(File.ReadAllText(file));
            Assert.Equal(1, (int)again["futureField"]!["x"]!);
            Assert.Equal(256, (int)again["memoryMB"]!);
        }

        [Fact]
        public void Files_without_the_marker_are_never_read_overwritten_or_deleted()
        {
            _store.EnsureLayout();
            string foreign = Path.Combine(_root, "routers", "r9.json");
            File.WriteAllText(foreign, "{\"name\": \"r9\", \"image\": \"x\"}");

            var read = Assert.Throws<VirtualNetworksException>(() => _store.ReadRouter("r9"));
            Assert.Equal(ErrorKind.InvalidData, read.Kind);
            Assert.Contains("owner", read.Message);
            var write = Assert.Throws<VirtualNetworksException>(() => _store.WriteRouter(Router("r9")));
            Assert.Contains("not overwriting", write.Message);
            var del = Assert.Throws<VirtualNetworksException>(() => _store.DeleteRouter("r9"));
            Assert.Contains("not deleting", del.Message);
            Assert.Equal("{\"name\": \"r9\", \"image\": \"x\"}", File.ReadAllText(foreign));

            _store.WriteRouter(Router("r1"));
            var problems = new List<string>();
            var list = _store.ListRouters(problems);
            Assert.Equal(new[] { "r1" }, list.Select(r => r.Name));
            Assert.Single(problems);
            Assert.Contains("r9.json", problems[0]);
        }

        [Fact]
        public void A_newer_schema_or_another_kind_is_refused()
        {
            _store.WriteRouter(Router("r1"));
            string file = _store.RouterPath("r1");
            var json = JObject.Parse(File.ReadAllText(file));
            json["schema"] = StateRecord.CurrentSchema + 1;
            File.WriteAllText(file, json.ToString());
            var ex = Assert.Throws<VirtualNetworksException>(() => _store.ReadRouter("r1"));
            Assert.Contains("newer", ex.Message);

            json["schema"] = 1;
            json["kind"] = "link";
            File.WriteAllText(file, json.ToString());
            Assert.Contains("expected \"router\"", Assert.Throws<VirtualNetworksException>(() => _store.ReadRouter("r1")).Message);

            File.WriteAllText(file, "{ not json");
            Assert.Equal(ErrorKind.InvalidData, Assert.Throws<VirtualNetworksException>(() => _store.ReadRouter("r1")).Kind);
        }

        [Theory]
        [InlineData("../etc/passwd")]
        [InlineData("a/b")]
        [InlineData("")]
        [InlineData(".hidden")]
        [InlineData("x..y")]
        [InlineData("r1;rm -rf /")]
        public void Paths_are_never_built_from_invalid_names(string name)
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => _store.RouterPath(name));
            Assert.True(ex.ErrorId == ErrorIds.InvalidName || ex.ErrorId == ErrorIds.NameTooLong);
            Assert.Throws<VirtualNetworksException>(() => _store.LinkPath(name));
            Assert.Throws<VirtualNetworksException>(() => _store.RunPaths(name));
            Assert.Throws<VirtualNetworksException>(() => _store.DiskPath(name));
            Assert.Throws<VirtualNetworksException>(() => _store.WriteRouter(new RouterRecord { Name = name }));
            Assert.False(Directory.Exists(Path.Combine(_root, "etc")));
        }

        [Fact]
        public void A_record_whose_name_does_not_match_its_file_is_skipped_when_listing()
        {
            _store.WriteRouter(Router("r1"));
            File.Copy(_store.RouterPath("r1"), Path.Combine(_store.RoutersDirectory, "r2.json"));
            var problems = new List<string>();
            Assert.Equal(new[] { "r1" }, _store.ListRouters(problems).Select(r => r.Name));
            Assert.Contains(problems, p => p.Contains("r2.json"));
        }

        [Fact]
        public async Task Atomic_writes_leave_no_temporary_files_and_readers_never_see_a_partial_file()
        {
            _store.WriteRouter(Router("r1"));
            string file = _store.RouterPath("r1");
            int reads = 0, writes = 0;
            var errors = new List<string>();
            using var done = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 3).Select(w => Task.Run(() =>
            {
                var rec = Router("r1");
                // Big enough that a non-atomic write would be observable.
                rec.ConfigText = string.Concat(Enumerable.Repeat("route 10.0.0.0/8 via 10.1.1.1\n", 2000 + w * 500));
                for (int i = 0; i < 25; i++)
                {
                    AtomicFile.WriteAllText(file, StateStore.Serialize(rec));
                    Interlocked.Increment(ref writes);
                }
            })).ToArray();
            var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                do
                {
                    try
                    {
                        JObject.Parse(File.ReadAllText(file));
                        Interlocked.Increment(ref reads);
                    }
                    catch (Exception ex)
                    {
                        lock (errors) errors.Add(ex.GetType().Name + ": " + ex.Message);
                    }
                } while (!done.IsCancellationRequested);
            })).ToArray();
            await Task.WhenAll(writers);
            done.Cancel();
            await Task.WhenAll(readers);
            Assert.Empty(errors);
            Assert.Equal(75, writes);
            Assert.True(reads >= 2, "reads " + reads);
            Assert.Empty(_store.FindStaleTemporaryFiles());
            Assert.Empty(Directory.GetFiles(_store.RoutersDirectory, ".*"));
            Assert.Equal("-rw-------", ModeString(file));
        }

        [Fact]
        public void Atomic_write_sets_the_requested_mode()
        {
            _store.EnsureLayout();
            string f = Path.Combine(_store.RunDirectory, "x.cfg");
            AtomicFile.WriteAllText(f, "secret\n", 0x180);
            Assert.Equal("-rw-------", ModeString(f));
            Assert.Equal("secret\n", File.ReadAllText(f));
        }

        [Fact]
        public void Stale_temporary_files_are_found()
        {
            _store.EnsureLayout();
            File.WriteAllText(Path.Combine(_store.RoutersDirectory, ".r1.json.tmp-123-abcdef01"), "{");
            var stale = _store.FindStaleTemporaryFiles();
            Assert.Single(stale);
            Assert.Empty(_store.ListRouters());
        }

        [Fact]
        public void Kvm_probe_cache_round_trips_and_a_bad_cache_is_ignored()
        {
            _store.WriteKvmProbe(new KvmProbeRecord { BootId = "b", Qemu = "q", KvmUsable = false, Detail = "d", ElapsedMilliseconds = 12 });
            var r = _store.ReadKvmProbe()!;
            Assert.Equal("b", r.BootId);
            Assert.False(r.KvmUsable);
            File.WriteAllText(_store.KvmProbePath, "garbage");
            Assert.Null(_store.ReadKvmProbe());
        }

        // ------------------------------------------------------------------------------------------------ hygiene (issue 11, defect 10)

        private static void Sh(string program, params string[] args)
        {
            var r = ProcessRunner.Run(ProcessRunner.FindExecutable(program) ?? "/bin/" + program, args, null, TimeSpan.FromSeconds(20));
            Assert.True(r.Succeeded, program + " " + string.Join(" ", args) + ": " + r.StdErr);
        }

        private static string Octal(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);

        [Fact]
        public void Records_state_id_and_directories_are_private()
        {
            using (_store.Lock(TimeSpan.Zero)) _store.WriteRouter(Router("r1"));
            Assert.Equal("-rw-------", ModeString(_store.RouterPath("r1")));
            Assert.Equal("-rw-------", ModeString(_store.StateIdPath));
            Assert.Equal("-rw-------", ModeString(_store.LockPath));
            foreach (var d in new[] { _store.RoutersDirectory, _store.LinksDirectory, _store.HostsDirectory, _store.PhysicalLinksDirectory,
                         _store.RunDirectory, Path.Combine(_store.RunDirectory, "m"), _store.DisksDirectory })
                Assert.Equal("700", Octal(d));
            Assert.Equal("755", Octal(_root));
        }

        [Fact]
        public void Older_modes_are_tightened_not_refused()
        {
            _store.EnsureLayout();
            _store.WriteRouter(Router("r1"));
            // As an older version left them: record directories 0755, records, lock and state-id 0644.
            File.SetUnixFileMode(_store.RoutersDirectory, (UnixFileMode)0x1ED);
            File.SetUnixFileMode(_store.RouterPath("r1"), (UnixFileMode)0x1A4);
            File.WriteAllText(_store.StateIdPath, "0123abcd\n");
            File.SetUnixFileMode(_store.StateIdPath, (UnixFileMode)0x1A4);
            File.WriteAllText(_store.LockPath, "");
            File.SetUnixFileMode(_store.LockPath, (UnixFileMode)0x1A4);

            var again = new StateStore(_root);
            using (again.Lock(TimeSpan.Zero))
                Assert.Equal("0123abcd", again.StateId);
            Assert.Equal("700", Octal(_store.RoutersDirectory));
            Assert.Equal("600", Octal(_store.RouterPath("r1")));
            Assert.Equal("600", Octal(_store.StateIdPath));
            Assert.Equal("600", Octal(_store.LockPath));
            Assert.NotNull(again.ReadRouter("r1"));
        }

        [RootFact]
        public void A_state_directory_owned_by_another_user_is_refused()
        {
            _store.EnsureLayout();
            Sh("chown", "65534", _root);
            var ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).Lock(TimeSpan.Zero));
            Assert.Equal(ErrorIds.StateDirectoryUnsafe, ex.ErrorId);
            Assert.Equal(ErrorKind.PermissionDenied, ex.Kind);
            Assert.Equal(_root, ex.TargetName);
            Assert.Contains(_root, ex.Message);
            Assert.Contains("uid 65534", ex.Message);
            Assert.Contains("mode 0755", ex.Message);
            Assert.False(File.Exists(_store.LockPath));
            Assert.False(File.Exists(_store.StateIdPath));
            // A subdirectory of another user likewise.
            Sh("chown", "0", _root);
            Sh("chown", "65534", _store.LinksDirectory);
            ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).EnsureLayout());
            Assert.Equal(ErrorIds.StateDirectoryUnsafe, ex.ErrorId);
            Assert.Contains(_store.LinksDirectory, ex.Message);
        }

        [Theory]
        [InlineData(0x1FD)] // 0775: group-writable
        [InlineData(0x1EF)] // 0757: world-writable
        [InlineData(0x3FF)] // 1777: like /tmp
        public void A_group_or_world_writable_state_directory_is_refused(int mode)
        {
            _store.EnsureLayout();
            File.SetUnixFileMode(_root, (UnixFileMode)mode);
            var ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).Lock(TimeSpan.Zero));
            Assert.Equal(ErrorIds.StateDirectoryUnsafe, ex.ErrorId);
            Assert.Contains("writable by", ex.Message);
            Assert.Contains(_root, ex.Message);
            Assert.Equal(Convert.ToString(mode, 8), Octal(_root)); // refused, not "fixed" behind the user's back
            Assert.False(File.Exists(_store.LockPath));
        }

        [Theory]
        [InlineData("run")]
        [InlineData("routers")]
        [InlineData("disks")]
        [InlineData("run/m")]
        public void A_symbolic_link_in_the_layout_is_refused_and_its_target_is_left_alone(string component)
        {
            _store.EnsureLayout();
            string target = VmTestHost.NewStateRoot() + "-target";
            Directory.CreateDirectory(target);
            try
            {
                File.SetUnixFileMode(target, (UnixFileMode)0x1ED);
                string link = Path.Combine(_root, component);
                Directory.Delete(link, true);
                File.CreateSymbolicLink(link, target);
                var ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).Lock(TimeSpan.Zero));
                Assert.Equal(ErrorIds.StateDirectoryUnsafe, ex.ErrorId);
                Assert.Contains(link + " is a symbolic link (to " + target + ")", ex.Message);
                Assert.Equal("755", Octal(target)); // never chmod-ed through the link
                Assert.Empty(Directory.GetFileSystemEntries(target));
            }
            finally
            {
                VmTestHost.DeleteTree(target);
            }
        }

        [Fact]
        public void A_state_directory_that_is_a_symbolic_link_is_refused()
        {
            string real = _root + "-real";
            Directory.CreateDirectory(real);
            try
            {
                File.CreateSymbolicLink(_root, real);
                var ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).Lock(TimeSpan.Zero));
                Assert.Equal(ErrorIds.StateDirectoryUnsafe, ex.ErrorId);
                Assert.Contains("symbolic link", ex.Message);
                Assert.Contains("real path", ex.RecommendedAction);
                Assert.Empty(Directory.GetFileSystemEntries(real));
            }
            finally
            {
                File.Delete(_root);
                VmTestHost.DeleteTree(real);
            }
        }

        // ------------------------------------------------------------------------------------------------ state id (issue 11, defect 9)

        [Fact]
        public void A_fresh_directory_gets_its_id_when_the_lock_is_first_taken()
        {
            Assert.Null(_store.ExistingStateId);
            using (_store.Lock(TimeSpan.Zero)) { }
            string id = File.ReadAllText(_store.StateIdPath).Trim();
            Assert.True(OwnershipTag.IsValidStateId(id));
            Assert.Equal(id, new StateStore(_root).StateId);
        }

        [Fact]
        public void A_deleted_state_id_is_never_replaced_where_records_exist()
        {
            using (_store.Lock(TimeSpan.Zero)) _store.WriteRouter(Router("r1"));
            File.Delete(_store.StateIdPath);
            var store = new StateStore(_root);
            var ex = Assert.Throws<VirtualNetworksException>(() => store.Lock(TimeSpan.Zero));
            Assert.Equal(ErrorIds.StateDirectoryDamaged, ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidData, ex.Kind);
            Assert.Equal(_store.StateIdPath, ex.TargetName);
            Assert.Contains("is missing", ex.Message);
            Assert.Contains("1 router record(s)", ex.Message);
            Assert.Contains("Restore " + _store.StateIdPath, ex.RecommendedAction);
            Assert.Throws<VirtualNetworksException>(() => store.StateId);
            Assert.Throws<VirtualNetworksException>(() => store.ExistingStateId);
            Assert.False(File.Exists(_store.StateIdPath)); // no new id minted
            Assert.NotNull(store.ReadRouter("r1")); // nothing deleted
            // The lock was released again.
            using (StateLock.Acquire(_store.LockPath, TimeSpan.Zero)) { }
        }

        [Theory]
        [InlineData("")]
        [InlineData("NOT AN ID!\n")]
        [InlineData("0123456789abcdef0123456789abcdef0")]
        public void A_garbled_state_id_is_refused_and_left_as_it_is(string text)
        {
            _store.EnsureLayout();
            File.WriteAllText(_store.StateIdPath, text);
            var ex = Assert.Throws<VirtualNetworksException>(() => _store.Lock(TimeSpan.Zero));
            Assert.Equal(ErrorIds.StateDirectoryDamaged, ex.ErrorId);
            Assert.Equal(text, File.ReadAllText(_store.StateIdPath));
        }

        /// <summary>The lost id is found on the devices that name this directory's records, and offered.</summary>
        [RootFact]
        public void The_message_names_the_id_the_directorys_devices_carry()
        {
            string link = "vntest-sid-" + NetTestHost.Suffix();
            var ip = new IpCommand();
            string bridge = InterfaceNames.Bridge(link);
            try
            {
                using (_store.Lock(TimeSpan.Zero))
                {
                    _store.WriteLink(new LinkRecord { Name = link, From = "r1", To = "r2", Bridge = bridge });
                    ip.CreateBridge(bridge, OwnershipTag.ForBridge(_store.StateId, link));
                }
                string id = _store.StateId;
                File.Delete(_store.StateIdPath);
                var ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).Lock(TimeSpan.Zero));
                Assert.Equal(ErrorIds.StateDirectoryDamaged, ex.ErrorId);
                Assert.Contains("carry the state id " + id + " (" + bridge + " " + OwnershipTag.ForBridge(id, link).Alias + ")", ex.Message);
                Assert.Contains("printf '" + id + "\\n' > " + _store.StateIdPath, ex.RecommendedAction);

                // A valid but wrong id (not the one the devices carry) is refused too, before anything is created.
                File.WriteAllText(_store.StateIdPath, "0badc0de\n");
                ex = Assert.Throws<VirtualNetworksException>(() => new StateStore(_root).Lock(TimeSpan.Zero));
                Assert.Equal(ErrorIds.StateDirectoryDamaged, ex.ErrorId);
                Assert.Contains("holds 0badc0de, but the devices of this directory's records carry " + id, ex.Message);

                // Restored as the message says: works again.
                File.WriteAllText(_store.StateIdPath, id + "\n");
                using (var l = new StateStore(_root).Lock(TimeSpan.Zero)) { }
            }
            finally
            {
                NetTestHost.RunQuietly("ip", "link", "del", "dev", bridge);
            }
        }

        internal static string ModeString(string path)
        {
            var m = File.GetUnixFileMode(path);
            char Bit(UnixFileMode f, char c) => (m & f) != 0 ? c : '-';
            return "-" + Bit(UnixFileMode.UserRead, 'r') + Bit(UnixFileMode.UserWrite, 'w') + Bit(UnixFileMode.UserExecute, 'x') +
                   Bit(UnixFileMode.GroupRead, 'r') + Bit(UnixFileMode.GroupWrite, 'w') + Bit(UnixFileMode.GroupExecute, 'x') +
                   Bit(UnixFileMode.OtherRead, 'r') + Bit(UnixFileMode.OtherWrite, 'w') + Bit(UnixFileMode.OtherExecute, 'x');
        }
    }
}
