using System.Management.Automation;
using VirtualNetworks.Engine;
using VirtualNetworks.Planning;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Disable-VirtualLink: fails live links on purpose without removing them: the cable pulled (carrier down at both
    /// ends) or a silent failure (carrier up, frames dropped on the host side). Enable-VirtualLink brings them back.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Disable, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualLink))]
    public sealed class DisableVirtualLinkCommand : LinkCommandBase
    {
        [Parameter]
        [ValidateSet(nameof(LinkState.CablePulled), nameof(LinkState.Silent), IgnoreCase = true)]
        public LinkState Failure { get; set; } = LinkState.CablePulled;

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessLink(VirtualNetworkService service, VirtualLink link)
        {
            if (!ShouldProcess(link.Name, "Disable the virtual link (" + Planner.Describe(Failure) + ") between '" + link.From + "' and '" + link.To + "'")) return;
            var changed = service.DisableLink(link.Name, Failure, CancellationToken);
            if (PassThru) WriteObject(changed);
        }
    }
}
