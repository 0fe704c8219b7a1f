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
    /// <para>Both files are 0600: flock needs only an open descriptor, so a lock file other users can open would let any
    /// of them hold every command off. The lock file is created 0600 (an older 0644 one is tightened) and never opened
    /// through a symbolic link; one that is a link, not a regular file or owned by another user is refused
    /// (StateDirectoryUnsafe).</para>
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
            PrepareLockFile(lockPath);
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
                try
                {
                    l.WriteHolder();
                }
                catch
                {
                    l.Dispose(); // never leave the lock held by a handle nobody owns
                    throw;
                }
                return l;
            }
        }

        /// <summary>
        /// Creates the lock file with mode 0600 when missing (O_CREAT | O_NOFOLLOW, so never through a symbolic link) and
        /// checks it on the descriptor: a regular file of this user, mode tightened to 0600.
        /// </summary>
        internal static void PrepareLockFile(string lockPath)
        {
            int fd = Posix.OpenFileNoFollow(lockPath, 0x180, out int errno);
            if (fd < 0)
            {
                if (errno == Posix.ELOOP)
                    throw Unsafe(lockPath, "is a symbolic link (to " + (Posix.ReadLink(lockPath) ?? "?") + ")", "Remove it; the lock file is created again.");
                return; // the open below reports it (permission denied, read-only file system, ...)
            }
            try
            {
                var st = Posix.FStat(fd);
                if (!st.IsRegularFile)
                    throw Unsafe(lockPath, "is a " + st.TypeName + ", not a file", "Remove it; the lock file is created again.");
                uint me = Posix.EffectiveUserId;
                if (st.Uid != me)
                    throw Unsafe(lockPath, "is owned by " + Posix.UserName(st.Uid) + " (mode " + Posix.Octal(st.Permissions) + "), not by the user running this command (" +
                                           Posix.UserName(me) + ")", "Remove it; the lock file is created again.");
                if (st.Permissions != 0x180) Posix.FChmod(fd, 0x180, lockPath);
            }
            finally
            {
                Posix.Close(fd);
            }
        }

        private static VirtualNetworksException Unsafe(string path, string problem, string action) =>
            new VirtualNetworksException(ErrorIds.StateDirectoryUnsafe, ErrorKind.PermissionDenied, path,
                "The VirtualNetworks state lock " + path + " " + problem + "; it was not used.") { RecommendedAction = action };

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
