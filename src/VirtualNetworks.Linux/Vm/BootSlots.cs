using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// Host-wide boot slots: the pacing of <see cref="BootPolicy.Concurrency"/> guests booting at once holds across every
    /// process and state directory of the host, not only within one command. A slot is an exclusive flock on one of the
    /// files <c>slot-0</c> ... <c>slot-(c−1)</c> in <see cref="DefaultDirectory"/> (.NET's <see cref="FileShare.None"/> on
    /// Unix is <c>flock(LOCK_EX | LOCK_NB)</c>, as for the state lock); the kernel drops it when its holder dies, so a
    /// <c>kill -9</c> never leaks a slot. Two processes with different limits share slots 0..min−1, so the host-wide bound
    /// is the larger of the limits. The directory is the running user's (0700, no symbolic link); where it cannot be made
    /// safe the pacing stays per command (<see cref="IsHostWide"/> false) rather than failing a start.
    /// </summary>
    internal sealed class BootSlots
    {
        /// <summary>Where the slot files live (tmpfs: nothing survives a reboot, nothing needs cleaning).</summary>
        public const string DefaultDirectory = "/run/lock/virtualnetworks/boot";

        private readonly int _concurrency;

        public BootSlots(int concurrency, string? directory = null)
        {
            if (concurrency < 1 || concurrency > BootPolicy.MaxConcurrency) throw new ArgumentOutOfRangeException(nameof(concurrency));
            _concurrency = concurrency;
            Directory = directory ?? DefaultDirectory;
            IsHostWide = Prepare(Directory);
        }

        /// <summary>The slot directory.</summary>
        public string Directory { get; }

        /// <summary>False when the slot directory could not be made or is not safe (then <see cref="Acquire"/> gives a no-op slot).</summary>
        public bool IsHostWide { get; }

        /// <summary>
        /// Takes a free slot, waiting (polling every 50 ms) while all <see cref="BootPolicy.Concurrency"/> are held by this or
        /// other processes; dispose to free it. Throws OperationCanceledException on cancellation and VirtualNetworksException
        /// (ResourceUnavailable) after <paramref name="timeout"/>.
        /// </summary>
        public IDisposable Acquire(TimeSpan timeout, CancellationToken cancellationToken)
        {
            if (!IsHostWide) return NoSlot.Instance;
            var clock = Stopwatch.StartNew();
            // Start at a different slot per caller so that waiters do not all contend for slot 0 first.
            int start = Environment.CurrentManagedThreadId % _concurrency;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (int k = 0; k < _concurrency; k++)
                {
                    var slot = TryTake((start + k) % _concurrency);
                    if (slot != null) return slot;
                }
                if (clock.Elapsed >= timeout)
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, Directory,
                        $"All {_concurrency} boot slots of this host ({Directory}) stayed taken for {timeout.TotalSeconds:0} s by other VirtualNetworks commands.")
                    {
                        RecommendedAction = "Wait for the other commands' routers to finish booting, then start again.",
                    };
                if (cancellationToken.WaitHandle.WaitOne(50)) cancellationToken.ThrowIfCancellationRequested();
            }
        }

        /// <summary>Slot <paramref name="index"/> if free (an open, flocked file), else null.</summary>
        internal IDisposable? TryTake(int index)
        {
            var path = Path.Combine(Directory, "slot-" + index.ToString(CultureInfo.InvariantCulture));
            StateLock.PrepareLockFile(path); // 0600, a regular file of this user, never through a symbolic link
            try
            {
                return new Slot(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None));
            }
            catch (IOException ex) when (StateLock.IsSharingViolation(ex))
            {
                return null;
            }
        }

        /// <summary>Makes the directory (0700, each missing level) and checks it: a directory of this user, not a link, not writable by others.</summary>
        private static bool Prepare(string directory)
        {
            try
            {
                var parent = Path.GetDirectoryName(directory);
                if (!string.IsNullOrEmpty(parent) && Posix.LStat(parent!) == null) Posix.MakeDirectory(parent!, 0x1C0);
                Posix.MakeDirectory(directory, 0x1C0);
                foreach (var d in new[] { parent, directory })
                {
                    if (string.IsNullOrEmpty(d)) continue;
                    var st = Posix.LStat(d!);
                    if (st == null || !st.Value.IsDirectory || st.Value.Uid != Posix.EffectiveUserId || (st.Value.Permissions & 0x12) != 0) return false;
                }
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }

        private sealed class Slot : IDisposable
        {
            private FileStream? _stream;
            public Slot(FileStream stream) => _stream = stream;
            public void Dispose() => Interlocked.Exchange(ref _stream, null)?.Dispose();
        }

        private sealed class NoSlot : IDisposable
        {
            public static readonly NoSlot Instance = new NoSlot();
            public void Dispose() { }
        }
    }
}
