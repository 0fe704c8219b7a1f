using System;
using System.Globalization;
using System.Management.Automation.Host;

namespace VirtualNetworks.Host
{
    /// <summary>The PSHost behind vnpwsh. It records a requested exit code (SetShouldExit) for the runner.</summary>
    internal sealed class VnHost : PSHost
    {
        private readonly VnHostUserInterface _ui;
        private readonly Guid _instanceId = Guid.NewGuid();
        private readonly CultureInfo _culture = CultureInfo.CurrentCulture;
        private readonly CultureInfo _uiCulture = CultureInfo.CurrentUICulture;

        public VnHost(ConsoleOutput console, bool nonInteractive)
        {
            _ui = new VnHostUserInterface(console, nonInteractive);
            PrivateData = new System.Management.Automation.PSObject(_ui);
        }

        public override CultureInfo CurrentCulture => _culture;
        public override CultureInfo CurrentUICulture => _uiCulture;
        public override Guid InstanceId => _instanceId;
        public override string Name => "vnpwsh";
        public override PSHostUserInterface UI => _ui;
        internal VnHostUserInterface HostUI => _ui;

        public override Version Version =>
            typeof(VnHost).Assembly.GetName().Version ?? new Version(0, 0);

        /// <summary>$Host.PrivateData: the colour properties pwsh scripts set (ErrorForegroundColor, ...).</summary>
        public override System.Management.Automation.PSObject PrivateData { get; }

        /// <summary>True once 'exit' (or $Host.SetShouldExit) asked the host to end.</summary>
        public bool ShouldExit { get; private set; }
        public int ExitCode { get; private set; }

        public override void SetShouldExit(int exitCode)
        {
            ShouldExit = true;
            ExitCode = exitCode;
        }

        public override void EnterNestedPrompt() =>
            throw new NotSupportedException("vnpwsh does not support nested prompts.");

        public override void ExitNestedPrompt() =>
            throw new NotSupportedException("vnpwsh does not support nested prompts.");

        public override void NotifyBeginApplication()
        {
        }

        public override void NotifyEndApplication()
        {
        }
    }
}
