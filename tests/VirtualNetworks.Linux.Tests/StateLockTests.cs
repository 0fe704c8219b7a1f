using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Util;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    public sealed class StateLockTests : IDisposable
    {
        private readonly string _root = VmTestHost.NewStateRoot();
        private readonly StateStore _store;

        public StateLockTests()
        {
            _store = new StateStore(_root);
        }

        public void Dispose() => VmTestHost.DeleteTree(_root);

        [Fact]
        public void A_second_store_in_the_same_process_waits_then_fails_with_a_clear_error()
        {
            var other = new StateStore(_root); // another command (backend instance) in this process
            using (_store.Lock(TimeSpan.Zero))
            {
                var clock = Stopwatch.StartNew();
                var ex = Assert.Throws<VirtualNetworksException>(() => other.Lock(TimeSpan.FromMilliseconds(300)));
                Assert.True(clock.ElapsedMilliseconds >= 250, "gave up after " + clock.ElapsedMilliseconds + " ms");
                Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
                Assert.Equal(ErrorKind.ResourceUnavailable, ex.Kind);
                Assert.Contains("locked by another command", ex.Message);
                Assert.Contains("pid " + Environment.ProcessId, ex.Message); // the holder file names us
                Assert.NotNull(ex.RecommendedAction);
            }
            using (other.Lock(TimeSpan.Zero))
            {
                // released: free again
            }
            Assert.False(File.Exists(_store.LockPath + ".holder"));
        }

        [Fact]
        public void The_lock_is_reentrant_on_one_store_and_released_by_the_outermost_scope()
        {
            var other = new StateStore(_root);
            var outer = _store.Lock(TimeSpan.Zero);
            using (_store.Lock(TimeSpan.Zero)) // nested: returns at once
            using (_store.Lock(TimeSpan.Zero))
                Assert.True(_store.HoldsLock);
            Assert.True(_store.HoldsLock); // the inner scopes ended, the outer one still holds it
            Assert.Throws<VirtualNetworksException>(() => other.Lock(TimeSpan.FromMilliseconds(100)));
            outer.Dispose();
            outer.Dispose(); // a second dispose of the same scope releases nothing more
            Assert.False(_store.HoldsLock);
            using (other.Lock(TimeSpan.Zero))
                Assert.Throws<VirtualNetworksException>(() => _store.Lock(TimeSpan.FromMilliseconds(100)));
        }

        [Fact]
        public async Task A_waiter_gets_the_lock_when_the_holder_releases_it()
        {
            var held = _store.Lock(TimeSpan.Zero);
            var other = new StateStore(_root);
            var clock = Stopwatch.StartNew(); // started here: the task may start late on a busy machine
            var waiter = Task.Run(() =>
            {
                using (other.Lock(TimeSpan.FromSeconds(10))) return clock.ElapsedMilliseconds;
            });
            await Task.Delay(400);
            Assert.False(waiter.IsCompleted);
            held.Dispose();
            long waited = await waiter.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.InRange(waited, 300, 5000);
        }

        [Fact]
        public void Cancellation_stops_the_wait()
        {
            using (_store.Lock(TimeSpan.Zero))
            using (var cts = new CancellationTokenSource(200))
                Assert.ThrowsAny<OperationCanceledException>(() => new StateStore(_root).Lock(TimeSpan.FromSeconds(30), cts.Token));
        }

        /// <summary>
        /// Verifies that FileShare.None really is an flock(2) on this runtime: util-linux flock(1), another process,
        /// cannot take the lock while we hold it, and we cannot while it holds it.
        /// </summary>
        [Fact]
        public async Task The_lock_is_an_flock_seen_by_other_processes()
        {
            string? flock = ProcessRunner.FindExecutable("flock");
            if (flock == null)
            {
                Assert.Fail("flock(1) (util-linux) is needed for this test.");
                return;
            }
            using (_store.Lock(TimeSpan.Zero))
            {
                var busy = ProcessRunner.Run(flock, new[] { "-n", "-E", "75", _store.LockPath, "true" }, null, TimeSpan.FromSeconds(10));
                Assert.Equal(75, busy.ExitCode);
            }
            var free = ProcessRunner.Run(flock, new[] { "-n", "-E", "75", _store.LockPath, "true" }, null, TimeSpan.FromSeconds(10));
            Assert.Equal(0, free.ExitCode);

            // Another process holds it for 4 s: we fail fast with a short timeout, then get it once it is released.
            var holder = Task.Run(() => ProcessRunner.Run(flock, new[] { "-w", "10", _store.LockPath, "sleep", "4" }, null, TimeSpan.FromSeconds(20)));
            var until = DateTime.UtcNow.AddSeconds(3);
            bool seen = false;
            while (!seen && DateTime.UtcNow < until)
            {
                seen = ProcessRunner.Run(flock, new[] { "-n", "-E", "75", _store.LockPath, "true" }, null, TimeSpan.FromSeconds(10)).ExitCode == 75;
                if (!seen) await Task.Delay(20);
            }
            Assert.True(seen, "the flock(1) holder did not take the lock within 3 s");
            Assert.Throws<VirtualNetworksException>(() => _store.Lock(TimeSpan.FromMilliseconds(200)));
            using (_store.Lock(TimeSpan.FromSeconds(10)))
            {
                // We got it: the holder's flock has ended.
            }
            var held = await holder.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, held.ExitCode);
        }

        /// <summary>
        /// Issue 11, defect 10: the lock file is 0600, so another user cannot open it and hold it (flock needs only an open
        /// descriptor): before, any local user could block every command.
        /// </summary>
        [RootFact]
        public void Another_user_cannot_hold_the_lock()
        {
            NetTestHost.RequireRoot(); // it switches to another user
            string? setpriv = ProcessRunner.FindExecutable("setpriv"), flock = ProcessRunner.FindExecutable("flock");
            Assert.True(setpriv != null && flock != null, "setpriv and flock (util-linux) are needed for this test.");
            using (_store.Lock(TimeSpan.Zero)) { }
            Assert.Equal("600", Convert.ToString((int)File.GetUnixFileMode(_store.LockPath), 8));
            var r = ProcessRunner.Run(setpriv!, new[] { "--reuid=65534", "--regid=65534", "--clear-groups", flock!, "-n", "-E", "75", _store.LockPath, "true" },
                null, TimeSpan.FromSeconds(10));
            Assert.NotEqual(0, r.ExitCode); // not even opened
            Assert.NotEqual(75, r.ExitCode);
            Assert.Contains("Permission denied", r.StdErr);
            using (_store.Lock(TimeSpan.Zero)) { }
        }

        [Fact]
        public void An_older_0644_lock_file_is_tightened()
        {
            Directory.CreateDirectory(_root);
            File.WriteAllText(_store.LockPath, "");
            File.SetUnixFileMode(_store.LockPath, (UnixFileMode)0x1A4);
            using (_store.Lock(TimeSpan.Zero))
            {
                Assert.Equal("600", Convert.ToString((int)File.GetUnixFileMode(_store.LockPath), 8));
                Assert.Equal("600", Convert.ToString((int)File.GetUnixFileMode(_store.LockPath + ".holder"), 8));
            }
        }

        [Fact]
        public void A_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_untouched()
        {
            Directory.CreateDirectory(_root);
            string target = _root + "-target";
            File.WriteAllText(target, "x");
            try
            {
                File.SetUnixFileMode(target, (UnixFileMode)0x1A4);
                File.CreateSymbolicLink(_store.LockPath, target);
                var ex = Assert.Throws<VirtualNetworksException>(() => StateLock.Acquire(_store.LockPath, TimeSpan.Zero));
                Assert.Equal(ErrorIds.StateDirectoryUnsafe, ex.ErrorId);
                Assert.Contains("symbolic link", ex.Message);
                Assert.Equal("644", Convert.ToString((int)File.GetUnixFileMode(target), 8));
            }
            finally
            {
                File.Delete(target);
            }
        }
    }
}
