using System;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Measure-VirtualLink: throughput through a link, measured inside the two routers.</summary>
    [Cmdlet(VerbsDiagnostic.Measure, "VirtualLink", DefaultParameterSetName = ByNameSet)]
    [OutputType(typeof(LinkMeasurement))]
    public sealed class MeasureVirtualLinkCommand : LinkCommandBase
    {
        private const int ActivityId = 17;

        /// <summary>How long to send, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, 600)]
        public int DurationSeconds { get; set; } = 3;

        /// <summary>Send from the To end to the From end instead.</summary>
        [Parameter]
        public SwitchParameter Reverse { get; set; }

        protected override void ProcessLink(VirtualNetworkService service, VirtualLink link)
        {
            WriteProgressStatus(ActivityId, "Measuring virtual link " + link.Name,
                (Reverse ? link.To + " -> " + link.From : link.From + " -> " + link.To) + " for " + DurationSeconds + " s");
            WriteObject(service.MeasureLink(link.Name, Reverse, TimeSpan.FromSeconds(DurationSeconds), CancellationToken));
            CompleteProgress(ActivityId, "Measuring virtual link " + link.Name);
        }
    }
}
