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
        /// <summary>
        /// Same virtual network, but no path of Up links joins the two routers (disabled links partition the network): the
        /// address cannot answer. Not probed and not a failure.
        /// </summary>
        Partitioned,
    }

    /// <summary>How a row of the reachability matrix came out.</summary>
    public enum ProbeOutcome
    {
        /// <summary>As expected: reachable inside the network, unreachable across networks.</summary>
        Passed,
        /// <summary>Same network, not reachable, with static routing (or no path the routing could use): a reachability failure.</summary>
        Unreachable,
        /// <summary>
        /// Same network with dynamic routing, joined by a path of Up links, but not reachable: the routing has not converged
        /// (yet). A failure, counted apart from reachability failures; -ConvergenceTimeoutSec waits for it.
        /// </summary>
        NotConverged,
        /// <summary>Same network, no path of Up links between the routers: expected to be unreachable, not probed, not a failure.</summary>
        Partitioned,
        /// <summary>Another network answered: an isolation failure.</summary>
        IsolationBreached,
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
        /// <summary>
        /// True for a failed probe between two routers of one network whose routing is dynamic and that a path of Up links
        /// joins: the routing has not converged (yet), which is not the same as a network that cannot reach.
        /// </summary>
        public bool NotConverged { get; set; }
        public bool Passed => Expected switch
        {
            ProbeExpectation.Reachable => Reachable,
            ProbeExpectation.Partitioned => true,
            _ => !Reachable,
        };
        public ProbeOutcome Outcome =>
            Expected == ProbeExpectation.Partitioned ? ProbeOutcome.Partitioned
            : Passed ? ProbeOutcome.Passed
            : Expected == ProbeExpectation.Unreachable ? ProbeOutcome.IsolationBreached
            : NotConverged ? ProbeOutcome.NotConverged
            : ProbeOutcome.Unreachable;
        public double? RoundTripMilliseconds { get; set; }
        public string? Detail { get; set; }
    }

    /// <summary>The outcome of Test-VirtualNetwork: the full matrix and a summary.</summary>
    public sealed class VirtualNetworkTestReport
    {
        public IReadOnlyList<string> Networks { get; set; } = Array.Empty<string>();
        public int ProbeCount { get; set; }
        public int PassedCount { get; set; }
        /// <summary>Failed rows inside a network that are not <see cref="ConvergenceFailures"/>.</summary>
        public int ReachabilityFailures { get; set; }
        public int IsolationFailures { get; set; }
        /// <summary>Rows that are <see cref="ProbeOutcome.NotConverged"/> (at the end of the wait, with -ConvergenceTimeoutSec).</summary>
        public int ConvergenceFailures { get; set; }
        /// <summary>Rows between routers that disabled links partition (<see cref="ProbeExpectation.Partitioned"/>; not probed, not failures).</summary>
        public int PartitionedCount { get; set; }
        public int FailedCount => ReachabilityFailures + IsolationFailures + ConvergenceFailures;
        public bool Passed => FailedCount == 0;
        public TimeSpan Duration { get; set; }
        /// <summary>
        /// With a convergence wait: how long after the first round of probes the last not-converged pair answered; null when
        /// nothing had to converge, when no wait was asked for, or when the wait ran out (<see cref="ConvergenceTimedOut"/>).
        /// </summary>
        public TimeSpan? ConvergenceTime { get; set; }
        /// <summary>True when pairs were still not converged when the convergence wait ran out.</summary>
        public bool ConvergenceTimedOut { get; set; }
        public IReadOnlyList<ReachabilityResult> Results { get; set; } = Array.Empty<ReachabilityResult>();
        /// <summary>Probes sent to the guests, convergence re-probes included (rows without an address are not probed).</summary>
        public int ProbesSent { get; set; }
        /// <summary>True when the backend probed each source router's addresses in one batch (<see cref="Backends.IBatchProbe"/>).</summary>
        public bool Batched { get; set; }
        /// <summary>Routers the probes were sent from.</summary>
        public int SourceRouters { get; set; }
        /// <summary>One line: how many probes ran, from how many routers, how, and how long the test took.</summary>
        public string Summary =>
            string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0} probe(s) from {1} router(s) in {2:0.0} s ({3}); {4}/{5} rows as expected.",
                ProbesSent, SourceRouters, Duration.TotalSeconds, Batched ? "batched per router" : "one probe per request", PassedCount, ProbeCount);
        public override string ToString() =>
            $"{(Passed ? "PASSED" : "FAILED")}: {PassedCount}/{ProbeCount} probes as expected ({ReachabilityFailures} reachability, " +
            $"{ConvergenceFailures} not converged, {IsolationFailures} isolation failures" +
            (PartitionedCount > 0 ? $"; {PartitionedCount} partitioned" : "") +
            (ConvergenceTime.HasValue ? $"; converged after {ConvergenceTime.Value.TotalSeconds:0.0} s" : "") + ")";
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
