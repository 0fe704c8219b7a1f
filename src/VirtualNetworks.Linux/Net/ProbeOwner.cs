using System;
using System.Globalization;
using System.IO;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>What is known about a probe device's owner process right now.</summary>
    public enum ProbeOwnerState
    {
        /// <summary>The process runs (same pid and same start time): its probe device is in use.</summary>
        Alive,
        /// <summary>No process has that pid, or the one that has it started at another time: the device is a leftover.</summary>
        Gone,
        /// <summary>
        /// Cannot be told from here: the owner lives in another pid namespace (a container sharing this network
        /// namespace), or /proc cannot be read. Treated like <see cref="Alive"/>: its device is left alone.
        /// </summary>
        Unknown,
    }

    /// <summary>
    /// The process that created a capability-probe device, as written in its tag
    /// (<c>&lt;pidns&gt;:&lt;pid&gt;:&lt;starttime&gt;</c>): the inode of its pid namespace (<c>/proc/&lt;pid&gt;/ns/pid</c>),
    /// its pid, and its start time in clock ticks after boot (<c>/proc/&lt;pid&gt;/stat</c> field 22). A pid is reused,
    /// pid and start time together are not (within one boot; probe devices do not survive a reboot).
    /// </summary>
    public sealed class ProbeOwner : IEquatable<ProbeOwner>
    {
        private static readonly Lazy<ProbeOwner?> Self = new Lazy<ProbeOwner?>(() => Read("self"));

        public ProbeOwner(ulong pidNamespace, int pid, ulong startTime)
        {
            if (pid <= 0) throw new ArgumentOutOfRangeException(nameof(pid));
            PidNamespace = pidNamespace;
            Pid = pid;
            StartTime = startTime;
        }

        /// <summary>Inode number of the owner's pid namespace.</summary>
        public ulong PidNamespace { get; }
        public int Pid { get; }
        /// <summary>Start time in clock ticks after boot (/proc/&lt;pid&gt;/stat field 22).</summary>
        public ulong StartTime { get; }

        /// <summary>"pidns:pid:starttime", as in the tag.</summary>
        public string Text =>
            PidNamespace.ToString(CultureInfo.InvariantCulture) + ":" + Pid.ToString(CultureInfo.InvariantCulture) + ":" +
            StartTime.ToString(CultureInfo.InvariantCulture);

        /// <summary>This process; null when /proc cannot tell (then probe tags are written without owner).</summary>
        public static ProbeOwner? Current => Self.Value;

        /// <summary>The process <paramref name="pid"/> as it is now; null when it does not exist or /proc cannot be read.</summary>
        public static ProbeOwner? Of(int pid) => pid > 0 ? Read(pid.ToString(CultureInfo.InvariantCulture)) : null;

        /// <summary>Parses "pidns:pid:starttime" (decimal numbers, pid &gt; 0).</summary>
        public static bool TryParse(string text, out ProbeOwner? owner)
        {
            owner = null;
            var parts = text.Split(':');
            if (parts.Length != 3) return false;
            if (!ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out ulong ns) ||
                !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 0 ||
                !ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start))
                return false;
            owner = new ProbeOwner(ns, pid, start);
            return true;
        }

        /// <summary>
        /// Whether the owner still runs: <see cref="ProbeOwnerState.Gone"/> only when this process shares the owner's pid
        /// namespace and the pid is absent or belongs to a process with another start time.
        /// </summary>
        public ProbeOwnerState State()
        {
            var self = Current;
            if (self == null || self.PidNamespace != PidNamespace) return ProbeOwnerState.Unknown;
            string pid = Pid.ToString(CultureInfo.InvariantCulture);
            if (!Directory.Exists("/proc/" + pid)) return ProbeOwnerState.Gone;
            ulong? start = ReadStartTime(pid, out bool missing);
            if (missing) return ProbeOwnerState.Gone;
            if (start == null) return ProbeOwnerState.Unknown;
            return start.Value == StartTime ? ProbeOwnerState.Alive : ProbeOwnerState.Gone;
        }

        private static ProbeOwner? Read(string pid)
        {
            ulong? start = ReadStartTime(pid, out _);
            if (start == null) return null;
            // "pid:[4026531836]"
            string? link = Posix.ReadLink("/proc/" + pid + "/ns/pid");
            if (link == null) return null;
            int open = link.IndexOf('['), close = link.IndexOf(']');
            if (open < 0 || close <= open + 1 ||
                !ulong.TryParse(link.Substring(open + 1, close - open - 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong ns))
                return null;
            int number;
            if (pid == "self")
            {
                string? self = Posix.ReadLink("/proc/self");
                if (self == null || !int.TryParse(self, NumberStyles.None, CultureInfo.InvariantCulture, out number)) return null;
            }
            else if (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out number)) return null;
            return new ProbeOwner(ns, number, start.Value);
        }

        /// <summary>Field 22 of /proc/&lt;pid&gt;/stat; <paramref name="missing"/> when the process does not exist.</summary>
        internal static ulong? ReadStartTime(string pid, out bool missing)
        {
            missing = false;
            string text;
            try
            {
                text = File.ReadAllText("/proc/" + pid + "/stat");
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                missing = true;
                return null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // ESRCH while reading: the process exited between open and read.
                missing = !Directory.Exists("/proc/" + pid);
                return null;
            }
            // "pid (comm) state ppid ...": comm may hold spaces and ')', so count fields after the last ')'.
            int close = text.LastIndexOf(')');
            if (close < 0) return null;
            var fields = text.Substring(close + 1).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            // fields[0] is field 3 (state), so field 22 is fields[19].
            if (fields.Length < 20 || !ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start)) return null;
            return start;
        }

        public bool Equals(ProbeOwner? other) =>
            other != null && other.PidNamespace == PidNamespace && other.Pid == Pid && other.StartTime == StartTime;

        public override bool Equals(object? obj) => Equals(obj as ProbeOwner);

        public override int GetHashCode() => Pid ^ (int)StartTime ^ (int)PidNamespace;

        public override string ToString() => "pid " + Pid.ToString(CultureInfo.InvariantCulture) + " (started at tick " +
                                             StartTime.ToString(CultureInfo.InvariantCulture) + ")";
    }
}
