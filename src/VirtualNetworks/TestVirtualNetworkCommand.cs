using System;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Test-VirtualNetwork: probes from every router of the selected networks to every address of every other router;
    /// same network must answer, another network must not. Names from the pipeline are gathered and tested together,
    /// so one report comes out.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "VirtualNetwork")]
    [OutputType(typeof(VirtualNetworkTestReport))]
    [OutputType(typeof(bool))]
    public sealed class TestVirtualNetworkCommand : NetworkSelectionCommandBase
    {
        /// <summary>Progress activity id of Test-VirtualNetwork.</summary>
        private const int ActivityId = 14;
        private const string Activity = "Testing virtual networks";

        [Parameter]
        public SwitchParameter Quiet { get; set; }

        /// <summary>Seconds to keep re-probing the pairs whose dynamic routing has not converged (0 = no wait).</summary>
        [Parameter]
        [ValidateRange(0, NetworkTester.MaxConvergenceTimeoutSeconds)]
        public int ConvergenceTimeoutSec { get; set; }

        protected override void EndRecords()
        {
            if (NothingSelected) return; // the pipeline brought nothing to test
            if (!ObserveSelection(out var service, out var snapshot, out var selected))
            {
                // Nothing matched (literal names already got NetworkNotFound): nothing was shown to work.
                if (Quiet) WriteObject(false);
                return;
            }

            var progress = CreateProgress(ActivityId, Activity);
            VirtualNetworkTestReport report;
            try
            {
                report = OrTerminate(() => NetworkTester.Run(service.Backend, snapshot, selected, progress, NetworkTester.DefaultMaxParallelProbes,
                    TimeSpan.FromSeconds(ConvergenceTimeoutSec), NetworkTester.DefaultConvergencePollInterval, CancellationToken));
                progress.Drain();
            }
            finally
            {
                CompleteProgress(ActivityId, Activity);
            }

            WriteVerbose(report.Summary);
            if (Quiet)
            {
                WriteObject(report.Passed);
                return;
            }
            WriteObject(report);
            foreach (var failed in report.Results.Where(r => !r.Passed))
                WriteError(ToErrorRecord(Failure(failed)));
        }

        private static VirtualNetworksException Failure(ReachabilityResult r)
        {
            string to = string.IsNullOrEmpty(r.DestinationAddress) ? r.Destination : r.DestinationAddress;
            string target = r.Source + " -> " + to;
            string detail = string.IsNullOrEmpty(r.Detail) ? "" : " (" + r.Detail + ")";
            if (r.Outcome == ProbeOutcome.NotConverged)
                return new VirtualNetworksException(ErrorIds.RoutingNotConverged, ErrorKind.InvalidResult, target,
                    "Router '" + r.Source + "' cannot reach " + Describe(r) + " in its own virtual network '" + r.SourceNetwork +
                    "' although Up links join them: the dynamic routing has not converged" + detail + ".")
                { RecommendedAction = "Wait for convergence with -ConvergenceTimeoutSec, or see Get-VirtualRoutingStatus " + r.Source + "." };
            if (r.Expected == ProbeExpectation.Reachable)
                return new VirtualNetworksException(ErrorIds.ReachabilityFailed, ErrorKind.InvalidResult, target,
                    "Router '" + r.Source + "' cannot reach " + Describe(r) + " in its own virtual network '" + r.SourceNetwork + "'" + detail + ".");
            return new VirtualNetworksException(ErrorIds.IsolationFailed, ErrorKind.InvalidResult, target,
                "Router '" + r.Source + "' of virtual network '" + r.SourceNetwork + "' reaches " + Describe(r) +
                " of virtual network '" + r.DestinationNetwork + "', which must be isolated from it" + detail + ".");
        }

        private static string Describe(ReachabilityResult r) =>
            string.IsNullOrEmpty(r.DestinationAddress)
                ? "router '" + r.Destination + "'"
                : "address " + r.DestinationAddress + " of router '" + r.Destination + "'";
    }
}
