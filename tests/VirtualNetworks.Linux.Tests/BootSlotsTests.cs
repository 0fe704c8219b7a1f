using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.Vm;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Host-wide boot slots (<see cref="BootSlots"/>): two pacers on the same host (two state directories, two commands, two
    /// processes) together never boot more guests at once than the limit, and a holder killed with SIGKILL frees its slot.
    /// </summary>
    public sealed class BootSlotsTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "vn-slots-" + Guid.NewGuid().ToString("N").Substring(0, 8), "boot");

        public void Dispose()
        {
            try { Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true); } catch (IOException) { }
        }

        [Fact]
        public void Two_pacers_of_one_host_together_never_exceed_the_limit()
        {
            // Two independent pacers (as two state directories' commands make them), each wanting up to 2 boots at once.
            var a = new BootSlots(2, _dir);
            var b = new BootSlots(2, _dir);
            Assert.True(a.IsHostWide);
            Assert.True(b.IsHostWide);
            int current = 0, max = 0, done = 0;
            var threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
            {
                var pacer = i % 2 == 0 ? a : b;
                for (int round = 0; round < 3; round++)
                {
                    using (pacer.Acquire(TimeSpan.FromSeconds(30), CancellationToken.None))
                    {
                        int now = Interlocked.Increment(ref current);
                        int seen;
                        while (now > (seen = Volatile.Read(ref max)) && Interlocked.CompareExchange(ref max, now, seen) != seen) { }
                        Thread.Sleep(20);
                        Interlocked.Decrement(ref current);
                    }
                }
                Interlocked.Increment(ref done);
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.Equal(8, done);
            Assert.Equal(2, max); // the limit was reached, never passed
        }

        [Fact]
        public void Slots_held_by_another_process_are_waited_for_and_a_killed_holder_frees_its_slot()
        {
            var pacer = new BootSlots(2, _dir);
            Assert.True(pacer.IsHostWide);
            // Another process holds both slots (util-linux flock(1) takes the same flock(LOCK_EX) as .NET's FileShare.None;
            // -o: the lock is not passed on to sleep, so killing flock itself drops it).
            var holders = new[] { 0, 1 }.Select(i => Process.Start(new ProcessStartInfo("flock", new[] { "-o", Path.Combine(_dir, "slot-" + i), "sleep", "60" })
            {
                UseShellExecute = false,
            })!).ToList();
            try
            {
                var clock = Stopwatch.StartNew();
                bool Free(int i)
                {
                    var s = pacer.TryTake(i);
                    s?.Dispose();
                    return s != null;
                }
                while ((Free(0) || Free(1)) && clock.Elapsed < TimeSpan.FromSeconds(10))
                    Thread.Sleep(20); // until both holders have their locks
                var busy = Assert.Throws<VirtualNetworksException>(() => pacer.Acquire(TimeSpan.FromMilliseconds(300), CancellationToken.None));
                Assert.Equal(ErrorKind.ResourceUnavailable, busy.Kind);

                holders[1].Kill(); // SIGKILL: no clean-up of its own
                holders[1].WaitForExit();
                clock.Restart();
                using (pacer.Acquire(TimeSpan.FromSeconds(10), CancellationToken.None))
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "the killed holder's slot was not free at once: " + clock.Elapsed);
                Assert.Null(pacer.TryTake(0)); // the live holder keeps its slot
            }
            finally
            {
                foreach (var h in holders)
                {
                    try { if (!h.HasExited) h.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                    h.Dispose();
                }
            }
        }

        [Fact]
        public void The_slot_directory_is_private_to_its_user()
        {
            var pacer = new BootSlots(1, _dir);
            Assert.True(pacer.IsHostWide);
            using (pacer.Acquire(TimeSpan.FromSeconds(1), CancellationToken.None)) { }
            Assert.Equal(0x1C0, VirtualNetworks.Linux.State.Posix.LStat(_dir)!.Value.Permissions & 0x1FF);
            Assert.Equal(0x180, VirtualNetworks.Linux.State.Posix.LStat(Path.Combine(_dir, "slot-0"))!.Value.Permissions & 0x1FF);
        }
    }
}
