using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>What the pidfile and /proc say about a router's QEMU process.</summary>
    public enum VmProcessState
    {
        /// <summary>No pidfile: the router is off (QEMU removes its pidfile when it exits cleanly).</summary>
        NotRunning = 0,
        /// <summary>The pid is alive and its command line is our QEMU for this router.</summary>
        Running,
        /// <summary>A pidfile is left but the process is gone (killed, crashed): drift.</summary>
        Dead,
        /// <summary>The pid is alive but is not our QEMU (pid reused after a crash): drift; never signalled.</summary>
        Foreign,
    }

    /// <summary>Outcome of <see cref="RouterProcess.Inspect"/>.</summary>
    public sealed class VmProcessStatus
    {
        public VmProcessStatus(VmProcessState state, int? pid, string detail)
        {
            State = state;
            Pid = pid;
            Detail = detail;
        }

        public VmProcessState State { get; }
        /// <summary>The pid from the pidfile, if any.</summary>
        public int? Pid { get; }
        /// <summary>A sentence for messages and drift reports.</summary>
        public string Detail { get; }
        public bool IsRunning => State == VmProcessState.Running;

        public override string ToString() => State + (Pid.HasValue ? " (pid " + Pid.Value.ToString(CultureInfo.InvariantCulture) + ")" : "") + ": " + Detail;
    }

    /// <summary>
    /// A router's QEMU process, identified by its pidfile and verified through /proc: a pid counts as ours only when
    /// /proc/&lt;pid&gt;/cmdline is a qemu-system binary whose <c>-pidfile</c> argument is exactly this router's pidfile
    /// and whose <c>-name</c> starts with the router's name. Only verified processes are ever signalled.
    /// </summary>
    public static class RouterProcess
    {
        /// <summary>The console line the guest prints when it is ready: "VN-READY &lt;name&gt;".</summary>
        public const string ReadyMarker = "VN-READY";

        /// <summary>The pid in the pidfile, or null when there is none or it is unreadable.</summary>
        public static int? ReadPid(string pidFile)
        {
            try
            {
                if (!File.Exists(pidFile)) return null;
                string t = File.ReadAllText(pidFile).Trim();
                return int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 1 ? pid : (int?)null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>True when the process exists and is not a zombie.</summary>
        public static bool IsAlive(int pid)
        {
            if (pid <= 1) return false;
            try
            {
                string stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
                // "pid (comm) S ..." - comm may contain spaces and parentheses; the state follows the last ')'.
                int close = stat.LastIndexOf(')');
                if (close < 0 || close + 2 >= stat.Length) return false;
                char state = stat[close + 2];
                return state != 'Z' && state != 'X' && state != 'x';
            }
            catch (IOException)
            {
                return false; // FileNotFound / DirectoryNotFound: gone
            }
            catch (UnauthorizedAccessException)
            {
                return true;
            }
        }

        /// <summary>The process's arguments from /proc (empty when gone, a zombie or a kernel thread).</summary>
        public static IReadOnlyList<string> ReadCommandLine(int pid)
        {
            try
            {
                byte[] raw = File.ReadAllBytes("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/cmdline");
                var args = new List<string>();
                int start = 0;
                for (int i = 0; i < raw.Length; i++)
                {
                    if (raw[i] != 0) continue;
                    args.Add(Encoding.UTF8.GetString(raw, start, i - start));
                    start = i + 1;
                }
                if (start < raw.Length) args.Add(Encoding.UTF8.GetString(raw, start, raw.Length - start));
                return args;
            }
            catch (IOException)
            {
                return Array.Empty<string>();
            }
            catch (UnauthorizedAccessException)
            {
                return Array.Empty<string>();
            }
        }

        /// <summary>True when <paramref name="pid"/> is alive and is the QEMU of the router these paths belong to.</summary>
        public static bool IsOurs(int pid, RouterRunPaths paths) => IsAlive(pid) && IsOurCommandLine(ReadCommandLine(pid), paths);

        internal static bool IsOurCommandLine(IReadOnlyList<string> args, RouterRunPaths paths)
        {
            if (args.Count == 0 || Path.GetFileName(args[0]).IndexOf("qemu-system", StringComparison.Ordinal) < 0) return false;
            bool pidOk = false, nameOk = false;
            for (int i = 1; i + 1 < args.Count; i++)
            {
                if (args[i] == "-pidfile" && string.Equals(args[i + 1], paths.PidFile, StringComparison.Ordinal)) pidOk = true;
                if (args[i] == "-name")
                {
                    string v = args[i + 1];
                    int comma = v.IndexOf(',');
                    string n = comma >= 0 ? v.Substring(0, comma) : v;
                    if (string.Equals(n, paths.RouterName, StringComparison.OrdinalIgnoreCase)) nameOk = true;
                }
            }
            return pidOk && nameOk;
        }

        /// <summary>Reads the pidfile and /proc: is the router's QEMU running, off, dead (drift) or replaced by a foreign pid?</summary>
        public static VmProcessStatus Inspect(RouterRunPaths paths)
        {
            if (paths == null) throw new ArgumentNullException(nameof(paths));
            bool hasPidFile = File.Exists(paths.PidFile);
            int? pid = ReadPid(paths.PidFile);
            if (!hasPidFile) return new VmProcessStatus(VmProcessState.NotRunning, null, "not running (no pidfile)");
            if (pid == null) return new VmProcessStatus(VmProcessState.Dead, null, "the pidfile " + paths.PidFile + " is empty or unreadable; no process");
            if (!IsAlive(pid.Value))
                return new VmProcessStatus(VmProcessState.Dead, pid, "the QEMU process " + pid.Value.ToString(CultureInfo.InvariantCulture) + " is gone (killed or crashed); the pidfile is stale");
            if (!IsOurCommandLine(ReadCommandLine(pid.Value), paths))
                return new VmProcessStatus(VmProcessState.Foreign, pid, "pid " + pid.Value.ToString(CultureInfo.InvariantCulture) + " from the stale pidfile now belongs to another program; the router's QEMU is gone");
            return new VmProcessStatus(VmProcessState.Running, pid, "QEMU pid " + pid.Value.ToString(CultureInfo.InvariantCulture) + " is running");
        }

        /// <summary>Polls until the process is gone (or a zombie). True when it exited within <paramref name="timeout"/>.</summary>
        public static bool WaitForExit(int pid, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            var deadline = Deadline.After(timeout);
            while (IsAlive(pid))
            {
                if (deadline.Expired) return false;
                if (cancellationToken.WaitHandle.WaitOne(20)) cancellationToken.ThrowIfCancellationRequested();
            }
            return true;
        }

        /// <summary>
        /// Ends the router's QEMU the hard way: SIGTERM, then SIGKILL when it is still alive after
        /// <paramref name="gracePeriod"/>. Only a process verified with <see cref="IsOurs"/> is signalled. Returns false
        /// when no process of ours was running. Throws (BackendOperationFailed) when it survives SIGKILL. With
        /// <paramref name="untilReaped"/> it also waits (bounded, <see cref="ReapTimeout"/>) until the exited process is
        /// reaped (<see cref="WaitUntilReaped"/>), so that its pid is gone when this returns.
        /// </summary>
        public static bool Kill(RouterRunPaths paths, TimeSpan gracePeriod, CancellationToken cancellationToken = default, bool untilReaped = false)
        {
            var st = Inspect(paths);
            if (st.State != VmProcessState.Running) return false;
            int pid = st.Pid!.Value;
            long? start = StartTicks(pid);
            Posix.Kill(pid, Posix.SIGTERM);
            bool exited = WaitForExit(pid, gracePeriod, cancellationToken);
            if (!exited)
            {
                if (IsOurs(pid, paths)) Posix.Kill(pid, Posix.SIGKILL);
                exited = WaitForExit(pid, TimeSpan.FromSeconds(10), cancellationToken);
            }
            if (!exited)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, paths.RouterName,
                    "The QEMU process " + pid.ToString(CultureInfo.InvariantCulture) + " of router '" + paths.RouterName + "' did not exit after SIGKILL.");
            if (untilReaped) WaitUntilReaped(pid, start, ReapTimeout, cancellationToken);
            return true;
        }

        /// <summary>
        /// How long <see cref="WaitUntilReaped"/> waits, at most, for the parent of an exited QEMU to reap it. A daemonized
        /// QEMU's parent is init (or the nearest subreaper), which normally reaps at once; some inits (container and microVM
        /// init processes) take seconds.
        /// </summary>
        public static TimeSpan ReapTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>
        /// The kernel's start time of <paramref name="pid"/> (field 22 of /proc/&lt;pid&gt;/stat, clock ticks after boot), which
        /// together with the pid names one process even after the pid is reused; null when there is no such process.
        /// </summary>
        public static long? StartTicks(int pid)
        {
            if (pid <= 1) return null;
            try
            {
                string stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
                int close = stat.LastIndexOf(')');
                if (close < 0) return null;
                // After "pid (comm)": field 3 (state) is the first; the start time is field 22, i.e. the 20th after the ')'.
                var fields = stat.Substring(close + 2).Split(' ');
                return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long t) ? t : (long?)null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>
        /// Waits until the process <paramref name="pid"/> that started at <paramref name="startTicks"/> (<see cref="StartTicks"/>)
        /// has no entry in the process table any more: exited and reaped by its parent. An exited process that is not reaped
        /// yet is a zombie: it holds no memory, files or devices, but it still shows in ps and /proc, so a command that
        /// "removed" a router would seem to return before its QEMU was gone. A pid taken by another process meanwhile counts
        /// as gone. True when gone within <paramref name="timeout"/>; false otherwise (an init that does not reap: the zombie
        /// is left to it).
        /// </summary>
        public static bool WaitUntilReaped(int pid, long? startTicks, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            var deadline = Deadline.After(timeout);
            while (true)
            {
                var now = StartTicks(pid);
                if (now == null || (startTicks.HasValue && now.Value != startTicks.Value)) return true;
                if (deadline.Expired) return false;
                if (cancellationToken.WaitHandle.WaitOne(10)) cancellationToken.ThrowIfCancellationRequested();
            }
        }

        /// <summary>
        /// Waits until the console log has the line "VN-READY &lt;name&gt;". Returns false on timeout; throws
        /// (BackendOperationFailed) as soon as the process is gone, quoting the end of the console.
        /// </summary>
        public static bool WaitForReady(RouterRunPaths paths, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            string marker = ReadyMarker + " ";
            var deadline = Deadline.After(timeout);
            long offset = 0;
            var partial = new StringBuilder();
            int checks = 0;
            while (true)
            {
                foreach (var line in ReadNewLines(paths.ConsoleLog, ref offset, partial))
                {
                    if (line.StartsWith(marker, StringComparison.Ordinal)) return true;
                }
                if (++checks % 10 == 0 && Inspect(paths).State != VmProcessState.Running)
                {
                    // One last look: the marker may have been written just before the exit.
                    foreach (var line in ReadNewLines(paths.ConsoleLog, ref offset, partial))
                        if (line.StartsWith(marker, StringComparison.Ordinal)) return true;
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, paths.RouterName,
                        "Router '" + paths.RouterName + "' stopped while booting; its console: " + ConsoleSummary(paths));
                }
                if (deadline.Expired) return false;
                if (cancellationToken.WaitHandle.WaitOne(20)) cancellationToken.ThrowIfCancellationRequested();
            }
        }

        internal static IEnumerable<string> ReadNewLines(string file, ref long offset, StringBuilder partial)
        {
            var lines = new List<string>();
            try
            {
                using (var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    if (fs.Length < offset) { offset = 0; partial.Clear(); } // truncated: a new start
                    fs.Seek(offset, SeekOrigin.Begin);
                    var buf = new byte[8192];
                    int n;
                    while ((n = fs.Read(buf, 0, buf.Length)) > 0)
                    {
                        offset += n;
                        partial.Append(Encoding.UTF8.GetString(buf, 0, n));
                    }
                }
            }
            catch (IOException)
            {
                return lines; // not created yet
            }
            string s = partial.ToString();
            int start = 0, nl;
            while ((nl = s.IndexOf('\n', start)) >= 0)
            {
                lines.Add(s.Substring(start, nl - start).TrimEnd('\r'));
                start = nl + 1;
            }
            partial.Clear();
            partial.Append(s, start, s.Length - start);
            return lines;
        }

        /// <summary>
        /// For error messages: the console lines that explain a failed boot (kernel panic, VN-CONFIG-ERROR, VN-WARNING),
        /// then the last few lines.
        /// </summary>
        public static string ConsoleSummary(RouterRunPaths paths)
        {
            var notable = new List<string>();
            try
            {
                if (File.Exists(paths.ConsoleLog))
                {
                    using (var fs = new FileStream(paths.ConsoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                    using (var r = new StreamReader(fs, Encoding.UTF8))
                    {
                        string? l;
                        while ((l = r.ReadLine()) != null && notable.Count < 5)
                        {
                            if (l.IndexOf("Kernel panic", StringComparison.Ordinal) >= 0 || l.StartsWith("VN-CONFIG-ERROR", StringComparison.Ordinal) ||
                                l.StartsWith("VN-WARNING", StringComparison.Ordinal))
                                notable.Add(l.Trim());
                        }
                    }
                }
            }
            catch (IOException)
            {
            }
            string tail = ConsoleTail(paths, 5);
            return notable.Count == 0 ? tail : string.Join(" | ", notable) + " ... " + tail;
        }

        /// <summary>The last <paramref name="lines"/> lines of the console log, joined with " | " (for messages).</summary>
        public static string ConsoleTail(RouterRunPaths paths, int lines)
        {
            try
            {
                if (!File.Exists(paths.ConsoleLog)) return "(no console output)";
                string[] all;
                using (var fs = new FileStream(paths.ConsoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                using (var r = new StreamReader(fs, Encoding.UTF8))
                    all = r.ReadToEnd().Replace("\r", "").Split('\n');
                var keep = new List<string>();
                for (int i = all.Length - 1; i >= 0 && keep.Count < lines; i--)
                    if (all[i].Trim().Length > 0) keep.Insert(0, all[i].Trim());
                return keep.Count == 0 ? "(no console output)" : string.Join(" | ", keep);
            }
            catch (IOException)
            {
                return "(console unreadable)";
            }
        }

        /// <summary>
        /// Deletes the router's run files left behind (pidfile, sockets, fw_cfg file; the console log too when
        /// <paramref name="includeConsole"/>). Refuses while the process is running.
        /// </summary>
        public static void RemoveRunFiles(RouterRunPaths paths, bool includeConsole)
        {
            if (Inspect(paths).State == VmProcessState.Running)
                throw new VirtualNetworksException(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, paths.RouterName,
                    "Router '" + paths.RouterName + "' is running; its run files stay.");
            VirtualNetworks.Util.CrashPoint.Hit("delete run files", paths.RouterName);
            foreach (var f in new[] { paths.PidFile, paths.QmpSocket, paths.ChannelSocket, paths.ConfigFile })
                DeleteQuietly(f);
            if (includeConsole) DeleteQuietly(paths.ConsoleLog);
        }

        private static void DeleteQuietly(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
        }
    }
}
