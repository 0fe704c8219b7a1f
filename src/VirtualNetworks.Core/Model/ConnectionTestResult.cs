using System;

namespace VirtualNetworks
{
    /// <summary>
    /// A stream of probes (ping) sent from inside one virtual router to an address, summarised (Test-VirtualRouterConnection).
    /// Same type for every backend.
    /// </summary>
    public sealed class ConnectionTestResult
    {
        /// <summary>The router the probes were sent from.</summary>
        public string Source { get; set; } = "";
        /// <summary>The router that owns <see cref="Address"/> when the target was given by name; null for a bare address.</summary>
        public string? Target { get; set; }
        /// <summary>The IP address probed.</summary>
        public string Address { get; set; } = "";
        /// <summary>Probes sent.</summary>
        public int Sent { get; set; }
        /// <summary>Probes answered.</summary>
        public int Received { get; set; }
        /// <summary>Probes not answered (Sent − Received).</summary>
        public int Lost { get; set; }
        /// <summary>The most probes in a row that were not answered.</summary>
        public int LongestLossRun { get; set; }
        /// <summary>
        /// The longest stretch without an answer in milliseconds, in send time: <see cref="LongestLossRun"/> × the interval.
        /// With probes every 10 ms, the time a path forwarded nothing, to within 10 ms.
        /// </summary>
        public double LongestGapMilliseconds { get; set; }
        /// <summary>The largest round trip of an answered probe, ms; null when none was answered.</summary>
        public double? MaximumRoundTripMilliseconds { get; set; }
        /// <summary>The mean round trip of the answered probes, ms; null when none was answered.</summary>
        public double? AverageRoundTripMilliseconds { get; set; }
        /// <summary>The time between two probes, ms.</summary>
        public int IntervalMilliseconds { get; set; }
        /// <summary>How long the probe stream took, from asking the guest to its last answer.</summary>
        public TimeSpan Duration { get; set; }
        /// <summary>True when at least one probe was answered.</summary>
        public bool Reachable => Received > 0;
        /// <summary>The last line of the guest's probe output, or why it ended early; for diagnostics.</summary>
        public string? Detail { get; set; }

        public override string ToString() => Source + " -> " + Address + ": " + Received + "/" + Sent;
    }
}
