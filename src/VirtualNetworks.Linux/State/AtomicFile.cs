using System;
using System.IO;
using System.Text;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// Write-then-rename: the new content goes to a temporary file in the same directory (".&lt;file&gt;.tmp-&lt;pid&gt;-&lt;random&gt;"),
    /// is flushed to disk (fsync), gets its permission bits, and then replaces the target with rename(2), which is atomic:
    /// a reader sees the old file or the new one, never a mix; a crash leaves at most a stale temporary file, which
    /// <see cref="IsTemporaryName"/> recognises.
    /// </summary>
    public static class AtomicFile
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);
        private const string TempMarker = ".tmp-";

        /// <summary>Writes <paramref name="text"/> (UTF-8, no BOM) to <paramref name="path"/> atomically with mode <paramref name="mode"/> (default 0x180 = 0600: every file in the state directory is private).</summary>
        public static void WriteAllText(string path, string text, int mode = 0x180) => WriteAllBytes(path, Utf8.GetBytes(text), mode);

        /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically with mode <paramref name="mode"/>.</summary>
        public static void WriteAllBytes(string path, byte[] bytes, int mode = 0x180)
        {
            if (path == null) throw new ArgumentNullException(nameof(path));
            VirtualNetworks.Util.CrashPoint.Hit("write", path);
            if (bytes == null) throw new ArgumentNullException(nameof(bytes));
            string full = Path.GetFullPath(path);
            string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException("No directory in " + path, nameof(path));
            string tmp = Path.Combine(dir, "." + Path.GetFileName(full) + TempMarker +
                                           System.Diagnostics.Process.GetCurrentProcess().Id.ToString(System.Globalization.CultureInfo.InvariantCulture) +
                                           "-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            try
            {
                using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    Posix.Chmod(tmp, mode); // before any content is in it
                    fs.Write(bytes, 0, bytes.Length);
                    fs.Flush(flushToDisk: true);
                }
                Posix.Rename(tmp, full);
            }
            catch
            {
                try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                throw;
            }
            Posix.FsyncDirectory(dir);
        }

        /// <summary>True for the name of a temporary file this class creates (a leftover when a writer crashed).</summary>
        public static bool IsTemporaryName(string fileName) =>
            fileName.StartsWith(".", StringComparison.Ordinal) && fileName.IndexOf(TempMarker, StringComparison.Ordinal) > 0;
    }
}
