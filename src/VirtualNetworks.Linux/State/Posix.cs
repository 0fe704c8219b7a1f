using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// The few POSIX calls netstandard2.0 has no managed API for: chmod, rename (atomic replace), fsync of a directory,
    /// kill, geteuid, and for the state directory's hygiene mkdir, open with O_NOFOLLOW, statx (lstat/fstat: owner,
    /// mode, type), fchmod, readlink. Linux (glibc) only; the Linux backend is the only caller.
    /// </summary>
    internal static class Posix
    {
        private const string LibC = "libc";

        public const int SIGTERM = 15;
        public const int SIGKILL = 9;
        private const int ENOENT = 2;
        private const int ESRCH = 3;
        private const int EINTR = 4;
        private const int EEXIST = 17;
        /// <summary>errno of open(O_NOFOLLOW) on a symbolic link.</summary>
        public const int ELOOP = 40;
        /// <summary>errno of open(O_DIRECTORY) on something that is not a directory.</summary>
        public const int ENOTDIR = 20;
        private const int O_RDONLY = 0;
        private const int O_WRONLY = 1;
        private const int O_CREAT = 0x40;
        private const int O_NONBLOCK = 0x800; // a FIFO planted as a file does not block the open
        private const int O_CLOEXEC = 0x80000;
        // These two differ between the generic Linux ABI (x86_64) and arm/arm64.
        private static readonly bool ArmFlags = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ||
                                                RuntimeInformation.ProcessArchitecture == Architecture.Arm;
        private static int O_DIRECTORY => ArmFlags ? 0x4000 : 0x10000;
        private static int O_NOFOLLOW => ArmFlags ? 0x8000 : 0x20000;

        private const int AT_FDCWD = -100;
        private const int AT_SYMLINK_NOFOLLOW = 0x100;
        private const int AT_EMPTY_PATH = 0x1000;
        private const uint STATX_TYPE_MODE_UID_GID = 0x1 | 0x2 | 0x8 | 0x10;
        private const int S_IFMT = 0xF000;
        private const int S_IFDIR = 0x4000;
        private const int S_IFREG = 0x8000;
        private const int S_IFLNK = 0xA000;

        [DllImport(LibC, EntryPoint = "open", SetLastError = true)]
        private static extern int open_mode_native(byte[] path, int flags, uint mode);

        [DllImport(LibC, EntryPoint = "mkdir", SetLastError = true)]
        private static extern int mkdir_native(byte[] path, uint mode);

        [DllImport(LibC, EntryPoint = "fchmod", SetLastError = true)]
        private static extern int fchmod_native(int fd, uint mode);

        // struct statx has the same layout on every architecture (unlike struct stat), 256 bytes.
        [DllImport(LibC, EntryPoint = "statx", SetLastError = true)]
        private static extern int statx_native(int dirfd, byte[] path, int flags, uint mask, byte[] buffer);

        [DllImport(LibC, EntryPoint = "readlink", SetLastError = true)]
        private static extern IntPtr readlink_native(byte[] path, byte[] buffer, IntPtr size);

        [DllImport(LibC, EntryPoint = "chmod", SetLastError = true)]
        private static extern int chmod_native(byte[] path, uint mode);

        [DllImport(LibC, EntryPoint = "rename", SetLastError = true)]
        private static extern int rename_native(byte[] oldPath, byte[] newPath);

        [DllImport(LibC, EntryPoint = "open", SetLastError = true)]
        private static extern int open_native(byte[] path, int flags);

        [DllImport(LibC, EntryPoint = "fsync", SetLastError = true)]
        private static extern int fsync_native(int fd);

        [DllImport(LibC, EntryPoint = "close", SetLastError = true)]
        private static extern int close_native(int fd);

        [DllImport(LibC, EntryPoint = "kill", SetLastError = true)]
        private static extern int kill_native(int pid, int signal);

        [DllImport(LibC, EntryPoint = "geteuid")]
        private static extern uint geteuid_native();

        /// <summary>A path as the NUL-terminated UTF-8 bytes the C library expects.</summary>
        private static byte[] CPath(string path)
        {
            if (path == null) throw new ArgumentNullException(nameof(path));
            if (path.IndexOf('\0') >= 0) throw new ArgumentException("The path contains a NUL character.", nameof(path));
            int n = System.Text.Encoding.UTF8.GetByteCount(path);
            var b = new byte[n + 1];
            System.Text.Encoding.UTF8.GetBytes(path, 0, path.Length, b, 0);
            return b;
        }

        /// <summary>Sets the permission bits of <paramref name="path"/> (e.g. 0x180 = 0600). Throws IOException on failure.</summary>
        public static void Chmod(string path, int mode)
        {
            if (chmod_native(CPath(path), (uint)mode) != 0)
                throw Error("chmod " + Convert.ToString(mode, 8) + " " + path);
        }

        /// <summary>rename(2): atomically replaces <paramref name="newPath"/> with <paramref name="oldPath"/> (same file system).</summary>
        public static void Rename(string oldPath, string newPath)
        {
            if (rename_native(CPath(oldPath), CPath(newPath)) != 0)
                throw Error("rename " + oldPath + " -> " + newPath);
        }

        /// <summary>fsync(2) of a directory, so a rename in it is durable. Best effort: failures are ignored.</summary>
        public static void FsyncDirectory(string directory)
        {
            int fd = open_native(CPath(directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) return;
            try
            {
                fsync_native(fd);
            }
            finally
            {
                close_native(fd);
            }
        }

        /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>. False when the process does not exist.</summary>
        public static bool Kill(int pid, int signal)
        {
            if (signal != 0) VirtualNetworks.Util.CrashPoint.Hit("kill", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (pid <= 1) throw new ArgumentOutOfRangeException(nameof(pid), "Refusing to signal pid " + pid + ".");
            while (true)
            {
                if (kill_native(pid, signal) == 0) return true;
                int errno = Marshal.GetLastWin32Error();
                if (errno == EINTR) continue;
                if (errno == ESRCH) return false;
                throw new IOException("kill(" + pid + ", " + signal + ") failed: " + new Win32Exception(errno).Message);
            }
        }

        /// <summary>True when this process runs as root (effective uid 0).</summary>
        public static bool IsRoot
        {
            get
            {
                try
                {
                    return geteuid_native() == 0;
                }
                catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
                {
                    return false;
                }
            }
        }

        // File.GetUnixFileMode exists from .NET 7 (the runtimes PowerShell 7.4+ runs on); netstandard2.0 cannot name it.
        private static readonly System.Reflection.MethodInfo? GetUnixFileMode =
            typeof(File).GetMethod("GetUnixFileMode", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static,
                null, new[] { typeof(string) }, null);

        /// <summary>The permission bits of <paramref name="path"/> (e.g. 0x180 for 0600), or null when the runtime cannot tell.</summary>
        public static int? GetMode(string path)
        {
            if (GetUnixFileMode == null) return null;
            try
            {
                return Convert.ToInt32(GetUnixFileMode.Invoke(null, new object[] { path }), System.Globalization.CultureInfo.InvariantCulture) & 0xFFF;
            }
            catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is IOException || ex.InnerException is UnauthorizedAccessException)
            {
                return null;
            }
        }

        // ------------------------------------------------------------------------------------------------ state directory hygiene

        /// <summary>The effective user id of this process.</summary>
        public static uint EffectiveUserId => geteuid_native();

        /// <summary>Owner, group, type and permission bits of a file system object (from statx).</summary>
        internal readonly struct FileStatus
        {
            public FileStatus(int mode, uint uid, uint gid)
            {
                Mode = mode;
                Uid = uid;
                Gid = gid;
            }

            /// <summary>st_mode: type and permission bits.</summary>
            public int Mode { get; }
            public uint Uid { get; }
            public uint Gid { get; }
            /// <summary>The permission bits (e.g. 0x1ED for 0755), with setuid/setgid/sticky.</summary>
            public int Permissions => Mode & 0xFFF;
            public bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;
            public bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;
            public bool IsSymbolicLink => (Mode & S_IFMT) == S_IFLNK;
            /// <summary>"directory", "file", "symbolic link" or "special file".</summary>
            public string TypeName => IsDirectory ? "directory" : IsRegularFile ? "file" : IsSymbolicLink ? "symbolic link" : "special file";
        }

        private static FileStatus? Statx(int dirfd, byte[] path, int flags, string what, bool missingIsNull)
        {
            var buffer = new byte[256];
            int rc;
            try
            {
                rc = statx_native(dirfd, path, flags, STATX_TYPE_MODE_UID_GID, buffer);
            }
            catch (EntryPointNotFoundException ex)
            {
                throw new IOException(what + " failed: this C library has no statx (glibc 2.28 or later is needed).", ex);
            }
            if (rc != 0)
            {
                int errno = Marshal.GetLastWin32Error();
                if (missingIsNull && (errno == ENOENT || errno == ENOTDIR)) return null;
                throw new IOException(what + " failed: " + ErrorText(errno) + " (errno " + errno + ")");
            }
            // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid (20), u32 gid (24), u16 mode (28).
            return new FileStatus(BitConverter.ToUInt16(buffer, 28), BitConverter.ToUInt32(buffer, 20), BitConverter.ToUInt32(buffer, 24));
        }

        /// <summary>lstat(2) (a symbolic link is described, not followed); null when nothing exists at <paramref name="path"/>.</summary>
        public static FileStatus? LStat(string path) => Statx(AT_FDCWD, CPath(path), AT_SYMLINK_NOFOLLOW, "lstat " + path, true);

        /// <summary>fstat(2) of an open descriptor.</summary>
        public static FileStatus FStat(int fd) =>
            Statx(fd, new byte[1], AT_EMPTY_PATH, "fstat " + fd.ToString(System.Globalization.CultureInfo.InvariantCulture), false)!.Value;

        /// <summary>mkdir(2) with <paramref name="mode"/> (the umask applies); false when something already exists there (a symbolic link included: mkdir never follows one).</summary>
        public static bool MakeDirectory(string path, int mode)
        {
            if (mkdir_native(CPath(path), (uint)mode) == 0) return true;
            if (Marshal.GetLastWin32Error() == EEXIST) return false;
            throw Error("mkdir " + path);
        }

        /// <summary>
        /// Opens the directory <paramref name="path"/> read-only without following a symbolic link in its last component
        /// (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC). Returns the descriptor, or -1 with <paramref name="errno"/> set
        /// (<see cref="ELOOP"/>: a symbolic link; <see cref="ENOTDIR"/>: not a directory).
        /// </summary>
        public static int OpenDirectoryNoFollow(string path, out int errno)
        {
            int fd = open_mode_native(CPath(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
            errno = fd < 0 ? Marshal.GetLastWin32Error() : 0;
            return fd;
        }

        /// <summary>
        /// Opens (creating with <paramref name="mode"/> when missing) the regular file <paramref name="path"/> for writing
        /// without following a symbolic link (O_NOFOLLOW); -1 with <paramref name="errno"/> on failure.
        /// </summary>
        public static int OpenFileNoFollow(string path, int mode, out int errno)
        {
            int fd = open_mode_native(CPath(path), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, (uint)mode);
            errno = fd < 0 ? Marshal.GetLastWin32Error() : 0;
            return fd;
        }

        /// <summary>fchmod(2). Throws IOException on failure.</summary>
        public static void FChmod(int fd, int mode, string pathForMessages)
        {
            if (fchmod_native(fd, (uint)mode) != 0)
                throw Error("chmod " + Convert.ToString(mode, 8) + " " + pathForMessages);
        }

        /// <summary>close(2), errors ignored.</summary>
        public static void Close(int fd)
        {
            if (fd >= 0) close_native(fd);
        }

        /// <summary>The target of the symbolic link <paramref name="path"/>; null when it is not one or cannot be read.</summary>
        public static string? ReadLink(string path)
        {
            var buffer = new byte[4096];
            long n = readlink_native(CPath(path), buffer, (IntPtr)buffer.Length).ToInt64();
            if (n <= 0) return null;
            return System.Text.Encoding.UTF8.GetString(buffer, 0, (int)Math.Min(n, buffer.Length));
        }

        /// <summary>The text of an errno value.</summary>
        public static string ErrorText(int errno) => new Win32Exception(errno).Message;

        /// <summary>The user name of <paramref name="uid"/> from /etc/passwd, else the number.</summary>
        public static string UserName(uint uid)
        {
            string id = uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                foreach (var line in File.ReadLines("/etc/passwd"))
                {
                    var f = line.Split(':');
                    if (f.Length > 2 && f[2] == id) return f[0] + " (uid " + id + ")";
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
            }
            return "uid " + id;
        }

        /// <summary>Octal text of permission bits: 0755.</summary>
        public static string Octal(int permissions) => "0" + Convert.ToString(permissions & 0xFFF, 8).PadLeft(3, '0');

        private static IOException Error(string what)
        {
            int errno = Marshal.GetLastWin32Error();
            return new IOException(what + " failed: " + new Win32Exception(errno).Message + " (errno " + errno + ")");
        }
    }
}
