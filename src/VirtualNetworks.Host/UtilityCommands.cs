using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

// The NuGet engine (System.Management.Automation) carries only Microsoft.PowerShell.Core. vnpwsh adds
// this handful of everyday commands, each a faithful subset of the pwsh command of the same name
// (listed in docs/host.md), so that scripts written for pwsh run here too. Nothing else is added.
namespace VirtualNetworks.Host.Commands
{
    internal static class UtilityCommands
    {
        public static readonly (string Name, Type Type)[] All =
        {
            ("Write-Output", typeof(WriteOutputCommand)),
            ("Write-Host", typeof(WriteHostCommand)),
            ("Write-Warning", typeof(WriteWarningCommand)),
            ("Write-Verbose", typeof(WriteVerboseCommand)),
            ("Write-Debug", typeof(WriteDebugCommand)),
            ("Write-Information", typeof(WriteInformationCommand)),
            ("Write-Error", typeof(WriteErrorCommand)),
            ("Write-Progress", typeof(WriteProgressCommand)),
            ("Start-Sleep", typeof(StartSleepCommand)),
            ("Join-Path", typeof(JoinPathCommand)),
            ("Test-Path", typeof(TestPathCommand)),
        };

        public static void AddTo(InitialSessionState iss)
        {
            foreach ((string name, Type type) in All)
                iss.Commands.Add(new SessionStateCmdletEntry(name, type, null));
        }
    }

    [Cmdlet(VerbsCommunications.Write, "Output")]
    public sealed class WriteOutputCommand : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true, ValueFromRemainingArguments = true)]
        [AllowNull]
        [AllowEmptyCollection]
        public PSObject? InputObject { get; set; }

        [Parameter]
        public SwitchParameter NoEnumerate { get; set; }

        protected override void ProcessRecord() => WriteObject(InputObject, !NoEnumerate.IsPresent);
    }

    [Cmdlet(VerbsCommunications.Write, "Host")]
    public sealed class WriteHostCommand : PSCmdlet
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromRemainingArguments = true)]
        [Alias("Msg", "Message")]
        public object? Object { get; set; }

        [Parameter]
        public SwitchParameter NoNewline { get; set; }

        [Parameter]
        public object Separator { get; set; } = " ";

        [Parameter]
        public ConsoleColor ForegroundColor { get; set; } = (ConsoleColor)(-1);

        [Parameter]
        public ConsoleColor BackgroundColor { get; set; } = (ConsoleColor)(-1);

        protected override void ProcessRecord()
        {
            var message = new HostInformationMessage
            {
                Message = Flatten(Object),
                NoNewLine = NoNewline.IsPresent,
            };
            if ((int)ForegroundColor >= 0) message.ForegroundColor = ForegroundColor;
            if ((int)BackgroundColor >= 0) message.BackgroundColor = BackgroundColor;
            WriteInformation(message, new[] { "PSHOST" });
        }

        private string Flatten(object? o)
        {
            if (o == null) return string.Empty;
            object baseObject = o is PSObject pso ? pso.BaseObject : o;
            if (baseObject is string s) return s;
            if (baseObject is System.Collections.IEnumerable e)
            {
                var parts = new List<string>();
                foreach (object? item in e) parts.Add(Flatten(item));
                return string.Join(Separator?.ToString() ?? string.Empty, parts);
            }
            return LanguagePrimitives.ConvertTo<string>(o);
        }
    }

    [Cmdlet(VerbsCommunications.Write, "Warning")]
    public sealed class WriteWarningCommand : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true)]
        [AllowEmptyString]
        [Alias("Msg")]
        public string Message { get; set; } = string.Empty;

        protected override void ProcessRecord() => WriteWarning(Message);
    }

    [Cmdlet(VerbsCommunications.Write, "Verbose")]
    public sealed class WriteVerboseCommand : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true)]
        [AllowEmptyString]
        [Alias("Msg")]
        public string Message { get; set; } = string.Empty;

        protected override void ProcessRecord() => WriteVerbose(Message);
    }

    [Cmdlet(VerbsCommunications.Write, "Debug")]
    public sealed class WriteDebugCommand : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true)]
        [AllowEmptyString]
        [Alias("Msg")]
        public string Message { get; set; } = string.Empty;

        protected override void ProcessRecord() => WriteDebug(Message);
    }

    [Cmdlet(VerbsCommunications.Write, "Information")]
    public sealed class WriteInformationCommand : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true)]
        [Alias("Msg", "Message")]
        [AllowNull]
        public object? MessageData { get; set; }

        [Parameter(Position = 1)]
        public string[]? Tags { get; set; }

        protected override void ProcessRecord() => WriteInformation(MessageData, Tags);
    }

    /// <summary>Write-Error. Differs from pwsh in one visible way: the FullyQualifiedErrorId ends with this command's class name.</summary>
    [Cmdlet(VerbsCommunications.Write, "Error", DefaultParameterSetName = "NoException")]
    public sealed class WriteErrorCommand : PSCmdlet
    {
        [Parameter(ParameterSetName = "WithException", Mandatory = true)]
        public Exception? Exception { get; set; }

        [Parameter(ParameterSetName = "NoException", Position = 0, Mandatory = true, ValueFromPipeline = true)]
        [Parameter(ParameterSetName = "WithException")]
        [AllowNull]
        [AllowEmptyString]
        [Alias("Msg")]
        public string? Message { get; set; }

        [Parameter(ParameterSetName = "ErrorRecord", Mandatory = true)]
        public ErrorRecord? ErrorRecord { get; set; }

        [Parameter(ParameterSetName = "NoException")]
        [Parameter(ParameterSetName = "WithException")]
        public ErrorCategory Category { get; set; } = ErrorCategory.NotSpecified;

        [Parameter(ParameterSetName = "NoException")]
        [Parameter(ParameterSetName = "WithException")]
        public string? ErrorId { get; set; }

        [Parameter(ParameterSetName = "NoException")]
        [Parameter(ParameterSetName = "WithException")]
        public object? TargetObject { get; set; }

        [Parameter]
        public string? RecommendedAction { get; set; }

        protected override void ProcessRecord()
        {
            ErrorRecord record;
            if (ErrorRecord != null)
            {
                record = ErrorRecord;
            }
            else
            {
                Exception e = Exception ?? new WriteErrorException(Message ?? string.Empty);
                record = new ErrorRecord(e, string.IsNullOrEmpty(ErrorId) ? e.GetType().FullName : ErrorId, Category, TargetObject);
                if (Exception != null && !string.IsNullOrEmpty(Message))
                    record.ErrorDetails = new ErrorDetails(Message);
            }
            if (!string.IsNullOrEmpty(RecommendedAction))
            {
                record.ErrorDetails ??= new ErrorDetails(record.Exception?.Message ?? string.Empty);
                record.ErrorDetails.RecommendedAction = RecommendedAction;
            }
            WriteError(record);
        }
    }

    /// <summary>The exception Write-Error wraps a plain message in (pwsh has one of the same name).</summary>
    public sealed class WriteErrorException : SystemException
    {
        public WriteErrorException(string message) : base(message) { }
    }

    [Cmdlet(VerbsCommunications.Write, "Progress")]
    public sealed class WriteProgressCommand : PSCmdlet
    {
        [Parameter(Position = 0)]
        public string Activity { get; set; } = "Processing";

        [Parameter(Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Status { get; set; } = "Processing";

        [Parameter(Position = 2)]
        [ValidateRange(0, int.MaxValue)]
        public int Id { get; set; }

        [Parameter]
        [ValidateRange(-1, 100)]
        public int PercentComplete { get; set; } = -1;

        [Parameter]
        public int SecondsRemaining { get; set; } = -1;

        [Parameter]
        public string? CurrentOperation { get; set; }

        [Parameter]
        [ValidateRange(-1, int.MaxValue)]
        public int ParentId { get; set; } = -1;

        [Parameter]
        public SwitchParameter Completed { get; set; }

        [Parameter]
        public int SourceId { get; set; }

        protected override void ProcessRecord()
        {
            var record = new ProgressRecord(Id, Activity, Status)
            {
                ParentActivityId = ParentId,
                PercentComplete = PercentComplete,
                SecondsRemaining = SecondsRemaining,
                CurrentOperation = CurrentOperation,
                RecordType = Completed.IsPresent ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            };
            WriteProgress(record);
        }
    }

    [Cmdlet(VerbsLifecycle.Start, "Sleep", DefaultParameterSetName = "Seconds")]
    public sealed class StartSleepCommand : PSCmdlet, IDisposable
    {
        private readonly ManualResetEventSlim _stopped = new ManualResetEventSlim(false);

        [Parameter(ParameterSetName = "Seconds", Position = 0, Mandatory = true, ValueFromPipeline = true)]
        [ValidateRange(0.0, int.MaxValue / 1000.0)]
        public double Seconds { get; set; }

        [Parameter(ParameterSetName = "Milliseconds", Mandatory = true)]
        [ValidateRange(0, int.MaxValue)]
        [Alias("ms")]
        public int Milliseconds { get; set; }

        [Parameter(ParameterSetName = "FromTimeSpan", Mandatory = true)]
        [Alias("ts")]
        public TimeSpan Duration { get; set; }

        protected override void ProcessRecord()
        {
            TimeSpan wait = ParameterSetName switch
            {
                "Milliseconds" => TimeSpan.FromMilliseconds(Milliseconds),
                "FromTimeSpan" => Duration,
                _ => TimeSpan.FromSeconds(Seconds),
            };
            if (wait > TimeSpan.Zero) _stopped.Wait(wait);
        }

        protected override void StopProcessing() => _stopped.Set();

        public void Dispose() => _stopped.Dispose();
    }

    [Cmdlet(VerbsCommon.Join, "Path")]
    [OutputType(typeof(string))]
    public sealed class JoinPathCommand : PSCmdlet
    {
        [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath")]
        public string[] Path { get; set; } = Array.Empty<string>();

        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        public string? ChildPath { get; set; }

        [Parameter(Position = 2, ValueFromRemainingArguments = true, ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        public string[]? AdditionalChildPath { get; set; }

        protected override void ProcessRecord()
        {
            foreach (string parent in Path)
            {
                string result = SessionState.Path.Combine(parent, ChildPath ?? string.Empty);
                if (AdditionalChildPath != null)
                    foreach (string child in AdditionalChildPath)
                        result = SessionState.Path.Combine(result, child ?? string.Empty);
                WriteObject(result);
            }
        }
    }

    [Cmdlet(VerbsDiagnostic.Test, "Path", DefaultParameterSetName = "Path")]
    [OutputType(typeof(bool))]
    public sealed class TestPathCommand : PSCmdlet
    {
        [Parameter(ParameterSetName = "Path", Position = 0, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyCollection]
        [AllowEmptyString]
        public string[] Path { get; set; } = Array.Empty<string>();

        [Parameter(ParameterSetName = "LiteralPath", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        public string[] LiteralPath { get; set; } = Array.Empty<string>();

        [Parameter]
        public TestPathType PathType { get; set; } = TestPathType.Any;

        protected override void ProcessRecord()
        {
            bool literal = ParameterSetName == "LiteralPath";
            foreach (string? p in literal ? LiteralPath : Path ?? Array.Empty<string>())
            {
                if (string.IsNullOrWhiteSpace(p))
                {
                    WriteObject(false);
                    continue;
                }
                bool result;
                try
                {
                    result = PathType switch
                    {
                        TestPathType.Container => SessionState.InvokeProvider.Item.IsContainer(literal ? WildcardPattern.Escape(p) : p),
                        TestPathType.Leaf => SessionState.InvokeProvider.Item.Exists(p, false, literal) &&
                                             !SessionState.InvokeProvider.Item.IsContainer(literal ? WildcardPattern.Escape(p) : p),
                        _ => SessionState.InvokeProvider.Item.Exists(p, false, literal),
                    };
                }
                catch (Exception e) when (e is ItemNotFoundException || e is DriveNotFoundException || e is ProviderNotFoundException || e is NotSupportedException)
                {
                    result = false;
                }
                WriteObject(result);
            }
        }
    }

    /// <summary>Values of Test-Path -PathType.</summary>
    public enum TestPathType
    {
        Any,
        Container,
        Leaf,
    }
}
