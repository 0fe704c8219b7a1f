using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>Enable-VirtualLink: brings links that Disable-VirtualLink (or a topology's "state") took down back up.</summary>
    [Cmdlet(VerbsLifecycle.Enable, "VirtualLink", DefaultParameterSetName = ByNameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(VirtualLink))]
    public sealed class EnableVirtualLinkCommand : LinkCommandBase
    {
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessLink(VirtualNetworkService service, VirtualLink link)
        {
            if (!ShouldProcess(link.Name, "Enable the virtual link between '" + link.From + "' and '" + link.To + "'")) return;
            var changed = service.EnableLink(link.Name, CancellationToken);
            if (PassThru) WriteObject(changed);
        }
    }
}
