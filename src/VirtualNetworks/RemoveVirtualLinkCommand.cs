using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Remove-VirtualLink: removes links and updates the addresses and routes of the routers they joined.</summary>
    [Cmdlet(VerbsCommon.Remove, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(VirtualLink))]
    public sealed class RemoveVirtualLinkCommand : LinkCommandBase
    {
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessLink(VirtualNetworkService service, VirtualLink link)
        {
            if (!ShouldProcess(link.Name, "Remove virtual link between '" + link.From + "' and '" + link.To + "'")) return;
            service.RemoveLink(link.Name, CancellationToken);
            if (PassThru) WriteObject(link);
        }
    }
}
