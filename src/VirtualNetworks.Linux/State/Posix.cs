using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// The few POSIX calls netstandard2.0 has no managed API for: chmod, rename (atomic replace), fsync of a directory,
    /// kill, geteuid. Linux (glibc) only; the Linux backend is the only caller.
    /// </summary>
    internal static class Posix
    {
        private const string LibC = "libc";

        public const int SIGTERM = 15;
        public const int SIGKILL = 9;
        private const int ESRCH = 3;
        private const int EINTR = 4;
        private const int O_RDONLY = 0;
        private const int O_DIRECTORY = 0x10000; // Linux x86_64/arm64
        private const int O_CLOEXEC = 0x80000;

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

        private static IOException Error(string what)
        {
            int errno = Marshal.GetLastWin32Error();
            return new IOException(what + " failed: " + new Win32Exception(errno).Message + " (errno " + errno + ")");
        }
    }
}
