using System;
using System.Collections.Generic;
using System.Threading;

namespace VirtualNetworks.Util
{
    /// <summary>
    /// TEST SEAM, not a feature: simulated crashes at step boundaries. The product calls <see cref="Hit"/> right before
    /// each action that changes the world (an external command, a QMP command that is not a query, a state or run file
    /// written or deleted, a signal sent). Nothing in the product arms it; the crash-injection tests arm it with
    /// <see cref="Arm"/> to "kill" the process at the k-th boundary: from that boundary on every further one throws
    /// <see cref="SimulatedCrashException"/>, so after the crash point no more changes happen, as after a kill -9 (the
    /// exception may be caught by best-effort code paths; whatever they try to change next is refused as well).
    /// </summary>
    internal static class CrashPoint
    {
        private static CrashPlan? _plan;

        /// <summary>Arms a crash at the <paramref name="crashAt"/>-th boundary from now (1-based; 0 = never, only count).</summary>
        internal static CrashPlan Arm(int crashAt)
        {
            var plan = new CrashPlan(crashAt);
            Volatile.Write(ref _plan, plan);
            return plan;
        }

        /// <summary>Disarms: boundaries are free again.</summary>
        internal static void Disarm() => Volatile.Write(ref _plan, null);

        /// <summary>A step boundary: <paramref name="point"/> names the action, <paramref name="item"/> what it acts on.</summary>
        public static void Hit(string point, string? item = null)
        {
            var plan = Volatile.Read(ref _plan);
            if (plan == null) return;
            plan.Hit(point, item);
        }
    }

    /// <summary>One armed crash: the boundaries passed, and whether the simulated process is dead.</summary>
    internal sealed class CrashPlan
    {
        private readonly object _gate = new object();
        private readonly List<string> _trace = new List<string>();
        private int _hits;

        public CrashPlan(int crashAt) => CrashAt = crashAt;

        /// <summary>The boundary at which the process dies (1-based); 0 = never.</summary>
        public int CrashAt { get; }

        /// <summary>Boundaries reached so far (including the fatal one and those refused after it).</summary>
        public int Hits { get { lock (_gate) return _hits; } }

        /// <summary>True once the crash happened.</summary>
        public bool Dead { get; private set; }

        /// <summary>The boundaries in the order they were reached ("point item").</summary>
        public IReadOnlyList<string> Trace { get { lock (_gate) return _trace.ToArray(); } }

        internal void Hit(string point, string? item)
        {
            string entry = item == null ? point : point + " " + item;
            lock (_gate)
            {
                _hits++;
                if (_trace.Count < 10_000) _trace.Add(entry);
                if (!Dead && CrashAt > 0 && _hits >= CrashAt) Dead = true;
                if (!Dead) return;
            }
            throw new SimulatedCrashException(entry);
        }
    }

    /// <summary>
    /// TEST SEAM: thrown at and after the armed boundary of a <see cref="CrashPlan"/> (and by the migration tests at a
    /// phase boundary, LinuxBackend.MigrationCrashPoint). Recovery code that would not run after a real kill (a migration's
    /// rollback) lets it pass; it derives from <see cref="Exception"/> only, so no handler of VirtualNetworksException takes it.
    /// </summary>
    internal sealed class SimulatedCrashException : Exception
    {
        public SimulatedCrashException(string point) : base("Simulated crash (test seam) at: " + point) => Point = point;

        /// <summary>The boundary or phase it stands for.</summary>
        public string Point { get; }
    }
}
