using System;
using System.Collections.Generic;

namespace VirtualNetworks
{
    /// <summary>What a probe was expected to show.</summary>
    public enum ProbeExpectation
    {
        /// <summary>Same virtual network: the address must answer.</summary>
        Reachable,
        /// <summary>Different virtual network: the address must not answer (isolation).</summary>
        Unreachable,
    }

    /// <summary>One cell of the reachability matrix: a probe from one router to one address of another.</summary>
    public sealed class ReachabilityResult
    {
        public string Source { get; set; } = "";
        public string SourceNetwork { get; set; } = "";
        public string Destination { get; set; } = "";
        public string DestinationNetwork { get; set; } = "";
        public string DestinationAddress { get; set; } = "";
        public ProbeExpectation Expected { get; set; }
        public bool Reachable { get; set; }
        public bool Passed => Expected == ProbeExpectation.Reachable ? Reachable : !Reachable;
        public double? RoundTripMilliseconds { get; set; }
        public string? Detail { get; set; }
    }

    /// <summary>The outcome of Test-VirtualNetwork: the full matrix and a summary.</summary>
    public sealed class VirtualNetworkTestReport
    {
        public IReadOnlyList<string> Networks { get; set; } = Array.Empty<string>();
        public int ProbeCount { get; set; }
        public int PassedCount { get; set; }
        public int ReachabilityFailures { get; set; }
        public int IsolationFailures { get; set; }
        public int FailedCount => ReachabilityFailures + IsolationFailures;
        public bool Passed => FailedCount == 0;
        public TimeSpan Duration { get; set; }
        public IReadOnlyList<ReachabilityResult> Results { get; set; } = Array.Empty<ReachabilityResult>();
        public override string ToString() =>
            $"{(Passed ? "PASSED" : "FAILED")}: {PassedCount}/{ProbeCount} probes as expected ({ReachabilityFailures} reachability, {IsolationFailures} isolation failures)";
    }

    /// <summary>Summary of a Deploy-VirtualNetwork run.</summary>
    public sealed class DeploymentResult
    {
        public string? Path { get; set; }
        /// <summary>Number of changes applied (0 when the deployment was already up to date).</summary>
        public int Changes { get; set; }
        public int Planned { get; set; }
        public int Skipped { get; set; }
        public IReadOnlyList<string> Steps { get; set; } = Array.Empty<string>();
        public IReadOnlyList<string> Networks { get; set; } = Array.Empty<string>();
        public TimeSpan Duration { get; set; }
    }
}
