using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// An exclusive lock on the state directory (file "lock" in its root), held while one command changes state so two
    /// PowerShell sessions (or two runspaces) never interleave their changes.
    /// </summary>
    /// <remarks>
    /// <para>Implementation: the lock file is opened with <see cref="FileShare.None"/>. On Unix, .NET (Core) takes an
    /// advisory <c>flock(LOCK_EX | LOCK_NB)</c> for that share mode and fails the open with a sharing violation when
    /// another open file description holds it: another process, or another handle in this process (the lock is not
    /// re-entrant). The kernel drops the lock when the holder dies, so a crash never leaves the directory locked. .NET
    /// opens files close-on-exec, so QEMU processes started while the lock is held do not inherit it. (The runtime switch
    /// DOTNET_SYSTEM_IO_DISABLEFILELOCKING turns this off; do not set it.)</para>
    /// <para>Who holds the lock is written to "lock.holder" (pid, process, since) for the busy message.</para>
    /// </remarks>
    public sealed class StateLock : IDisposable
    {
        private FileStream? _stream;
        private readonly string _holderPath;

        private StateLock(FileStream stream, string path)
        {
            _stream = stream;
            LockPath = path;
            _holderPath = path + ".holder";
        }

        /// <summary>The lock file.</summary>
        public string LockPath { get; }

        /// <summary>How long <see cref="Acquire"/> waits by default.</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

        /// <summary>
        /// Takes the lock, waiting up to <paramref name="timeout"/> (zero = try once). Throws VirtualNetworksException
        /// (BackendOperationFailed, ResourceUnavailable) naming the holder when it stays busy.
        /// </summary>
        public static StateLock Acquire(string lockPath, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            if (lockPath == null) throw new ArgumentNullException(nameof(lockPath));
            var clock = Stopwatch.StartNew();
            int delay = 10;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                FileStream? fs = null;
                try
                {
                    fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                }
                catch (IOException ex) when (IsSharingViolation(ex))
                {
                    if (clock.Elapsed >= timeout)
                    {
                        string holder = ReadHolder(lockPath + ".holder");
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, lockPath,
                            "The VirtualNetworks state directory is locked by another command" + (holder.Length > 0 ? " (" + holder + ")" : "") +
                            "; waited " + timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s for " + lockPath + ".")
                        {
                            RecommendedAction = "Wait for the other VirtualNetworks command to finish, then try again.",
                        };
                    }
                    var left = timeout - clock.Elapsed;
                    int wait = (int)Math.Max(1, Math.Min(delay, left.TotalMilliseconds));
                    if (cancellationToken.WaitHandle.WaitOne(wait)) cancellationToken.ThrowIfCancellationRequested();
                    delay = Math.Min(delay * 2, 100);
                    continue;
                }
                catch (UnauthorizedAccessException ex)
                {
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, lockPath,
                        "Cannot open the VirtualNetworks state lock " + lockPath + ": " + ex.Message + " (the Linux backend needs root).", ex);
                }

                var l = new StateLock(fs, lockPath);
                l.WriteHolder();
                return l;
            }
        }

        /// <summary>True when the IOException is the sharing violation .NET raises when flock() says "busy".</summary>
        internal static bool IsSharingViolation(IOException ex)
        {
            int code = ex.HResult & 0xFFFF;
            return code == 32 /* ERROR_SHARING_VIOLATION */ || code == 33 /* ERROR_LOCK_VIOLATION */ || code == 11 /* EAGAIN/EWOULDBLOCK */;
        }

        private void WriteHolder()
        {
            try
            {
                var p = Process.GetCurrentProcess();
                AtomicFile.WriteAllText(_holderPath,
                    "pid " + p.Id.ToString(CultureInfo.InvariantCulture) + ", " + p.ProcessName + ", since " +
                    DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) + "\n");
            }
            catch (IOException)
            {
                // Only for messages.
            }
        }

        private static string ReadHolder(string path)
        {
            try
            {
                return File.Exists(path) ? File.ReadAllText(path).Trim() : "";
            }
            catch (IOException)
            {
                return "";
            }
            catch (UnauthorizedAccessException)
            {
                return "";
            }
        }

        /// <summary>Releases the lock (the lock file stays; deleting it would race with waiters).</summary>
        public void Dispose()
        {
            var s = Interlocked.Exchange(ref _stream, null);
            if (s == null) return;
            try
            {
                File.Delete(_holderPath);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            s.Dispose();
        }
    }
}
