using System.Management.Automation;

namespace SampleCmdlets
{
    public enum ThingKind
    {
        Small,
        Large,
    }

    public sealed class SampleThing
    {
        public string Name { get; set; } = string.Empty;
        public int Id { get; set; }
        public ThingKind Kind { get; set; }
    }

    /// <summary>Two parameter sets, a wildcard pipeline parameter, an enum, a default value.</summary>
    [Cmdlet(VerbsCommon.Get, "SampleThing", DefaultParameterSetName = "ByName")]
    [OutputType(typeof(SampleThing))]
    public sealed class GetSampleThingCommand : PSCmdlet
    {
        [Parameter(ParameterSetName = "ByName", Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [Alias("ThingName")]
        public string[] Name { get; set; } = new string[0];

        [Parameter(ParameterSetName = "ById", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        public int Id { get; set; }

        [Parameter]
        public ThingKind Kind { get; set; } = ThingKind.Small;

        [Parameter]
        [ValidateRange(1, 100)]
        public int Count { get; set; } = 5;

        protected override void ProcessRecord()
        {
            for (int i = 0; i < Count; i++)
                WriteObject(new SampleThing { Name = "thing" + i, Id = i, Kind = Kind });
        }
    }

    /// <summary>ShouldProcess (WhatIf/Confirm), a switch, pipeline input by value.</summary>
    [Cmdlet(VerbsCommon.Remove, "SampleThing", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(SampleThing))]
    public sealed class RemoveSampleThingCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        public SampleThing InputObject { get; set; } = new SampleThing();

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            if (ShouldProcess(InputObject.Name, "Remove") && PassThru)
                WriteObject(InputObject);
        }
    }

    /// <summary>Not a cmdlet the help needs: abstract.</summary>
    public abstract class SampleBaseCommand : PSCmdlet
    {
    }

    /// <summary>Not public: no help needed.</summary>
    [Cmdlet(VerbsCommon.Get, "HiddenThing")]
    internal sealed class GetHiddenThingCommand : PSCmdlet
    {
    }
}
