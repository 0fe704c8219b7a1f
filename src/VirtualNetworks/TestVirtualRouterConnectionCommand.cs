using System.Management.Automation;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Test-VirtualRouterConnection: sends a stream of probes (ping) from inside a virtual router's guest to another router
    /// or an address and returns one summary: sent, received, lost, the longest run of lost probes and the gap it left, the
    /// round trips. It holds no lock on the backend's state and observes only the two routers' recorded addresses, so it
    /// runs alongside a change such as Move-VirtualRouter (from a thread job: Start-ThreadJob).
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "VirtualRouterConnection", DefaultParameterSetName = ByTargetNameSet)]
    [OutputType(typeof(ConnectionTestResult))]
    public sealed class TestVirtualRouterConnectionCommand : VirtualNetworkCommandBase
    {
        private const string ByTargetNameSet = "ByTargetName";
        private const string ByTargetAddressSet = "ByTargetAddress";

        /// <summary>The router the probes are sent from.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string Name { get; set; } = "";

        /// <summary>The router probed: its address in the source's address family.</summary>
        [Parameter(ParameterSetName = ByTargetNameSet, Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string TargetName { get; set; } = "";

        /// <summary>The IPv4 or IPv6 address probed.</summary>
        [Parameter(ParameterSetName = ByTargetAddressSet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string TargetAddress { get; set; } = "";

        [Parameter]
        [ValidateRange(Backends.ProbeStreamLimits.MinimumCount, Backends.ProbeStreamLimits.MaximumCount)]
        public int Count { get; set; } = 4;

        [Parameter]
        [ValidateRange(Backends.ProbeStreamLimits.MinimumIntervalMilliseconds, Backends.ProbeStreamLimits.MaximumIntervalMilliseconds)]
        public int IntervalMilliseconds { get; set; } = 1000;

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[]? ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            var service = GetService(ComputerName);
            if (!service.SupportsProbeStreams)
            {
                ThrowTerminatingError(ToErrorRecord(new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, Name,
                    "The " + service.Backend.Kind + " backend cannot send probe streams from inside a router.")
                { RecommendedAction = "Use Test-VirtualNetwork for reachability." }));
            }
            bool byName = ParameterSetName == ByTargetNameSet;
            WriteVerbose("Probing " + (byName ? "router '" + TargetName + "'" : TargetAddress) + " from router '" + Name + "': " + Count +
                         " probe(s) every " + IntervalMilliseconds + " ms.");
            ConnectionTestResult? result = null;
            if (TryItem(() => result = service.TestConnection(Name, byName ? TargetName : null, byName ? null : TargetAddress, Count, IntervalMilliseconds, CancellationToken)))
                WriteObject(result);
        }
    }
}
