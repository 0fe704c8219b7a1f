using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Text;
using System.Text.RegularExpressions;

namespace VirtualNetworks.Host
{
    /// <summary>Owns the runspace; runs -File, -Command, stdin or an interactive loop; maps outcomes to exit codes.</summary>
    internal sealed class HostRunner : IDisposable
    {
        public const int ExitOk = 0;
        public const int ExitError = 1;
        public const int ExitUsage = 2;
        public const int ExitInterrupted = 130;

        private static readonly Regex ParameterToken = new Regex(@"^-[\p{L}_][\p{L}\p{Nd}_]*:?$", RegexOptions.Compiled);

        private readonly Options _options;
        private readonly ConsoleOutput _console;
        private readonly VnHost _host;
        private readonly Runspace _runspace;
        private readonly object _lock = new object();
        private PowerShell? _current;
        private bool _stopRequested;

        private enum Outcome { Completed, Failed, Stopped }

        public HostRunner(Options options)
        {
            _options = options;
            _console = new ConsoleOutput();
            _host = new VnHost(_console, options.NonInteractive);

            InitialSessionState iss = InitialSessionState.CreateDefault2();
            // Execution policy exists only on Windows (setting it elsewhere throws); there it would
            // otherwise be the machine's policy.
            if (OperatingSystem.IsWindows())
                iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
            // Print errors with message, position, CategoryInfo and FullyQualifiedErrorId (scripts may change it).
            iss.Variables.Add(new SessionStateVariableEntry("ErrorView", "NormalView", "vnpwsh: error display"));
            Commands.UtilityCommands.AddTo(iss);
            _runspace = RunspaceFactory.CreateRunspace(_host, iss);
            _runspace.Open();
            Runspace.DefaultRunspace = _runspace;
        }

        public int Run()
        {
            Console.CancelKeyPress += OnCancelKeyPress;
            try
            {
                if (!_options.NoModule && !ImportModule())
                    return ExitError;

                if (_options.File != null)
                    return RunFile(_options.File, _options.FileArguments);
                if (_options.Command != null)
                    return RunText(_options.Command);
                if (_options.CommandFromStdin || Console.IsInputRedirected)
                    return RunText(Console.In.ReadToEnd());
                return RunInteractive();
            }
            finally
            {
                Console.CancelKeyPress -= OnCancelKeyPress;
            }
        }

        private bool ImportModule()
        {
            string manifest;
            try
            {
                manifest = ModuleLocator.Locate(_options.ModulePath,
                    Environment.GetEnvironmentVariable(ModuleLocator.EnvironmentVariable), AppContext.BaseDirectory);
            }
            catch (FileNotFoundException e)
            {
                _host.UI.WriteErrorLine("vnpwsh: " + e.Message);
                return false;
            }

            // Let 'Import-Module VirtualNetworks' and Get-Module -ListAvailable find the same module.
            string? moduleDir = Path.GetDirectoryName(manifest);
            string? modulesRoot = moduleDir == null ? null : Path.GetDirectoryName(moduleDir);
            if (modulesRoot != null &&
                string.Equals(Path.GetFileName(moduleDir), Path.GetFileNameWithoutExtension(manifest), StringComparison.OrdinalIgnoreCase))
            {
                string current = Environment.GetEnvironmentVariable("PSModulePath") ?? string.Empty;
                Environment.SetEnvironmentVariable("PSModulePath", modulesRoot + Path.PathSeparator + current);
            }

            Outcome outcome = Execute(ps => ps.AddCommand("Import-Module").AddParameter("Name", manifest).AddParameter("ErrorAction", ActionPreference.Stop), out _);
            if (outcome != Outcome.Completed)
            {
                _host.UI.WriteErrorLine($"vnpwsh: could not import the module '{manifest}'.");
                return false;
            }
            return true;
        }

        private int RunFile(string path, IReadOnlyList<string> arguments)
        {
            string full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                _host.UI.WriteErrorLine($"vnpwsh: the script file '{path}' does not exist.");
                return ExitError;
            }

            // Parse the file ourselves and run it as a script block that keeps its file name: positions,
            // $PSScriptRoot and $PSCommandPath stay right, and a top-level 'exit N' ends vnpwsh with N
            // (a script run by path would swallow 'exit' into $LASTEXITCODE).
            ScriptBlockAst ast = Parser.ParseFile(full, out _, out ParseError[] errors);
            if (errors.Length > 0)
            {
                ReportParseErrors(errors);
                return ExitError;
            }
            ScriptBlock script = ast.GetScriptBlock();

            var text = new StringBuilder("param($__vnpwshScript) & $__vnpwshScript");
            foreach (string a in arguments)
                text.Append(' ').Append(ParameterToken.IsMatch(a) ? a : Quote(a));
            return ExitCodeOf(Execute(ps => ps.AddScript(text.ToString()).AddArgument(script), out _));
        }

        private int RunText(string text) => ExitCodeOf(Execute(ps => ps.AddScript(text), out _));

        private int RunInteractive()
        {
            int last = ExitOk;
            while (!_host.ShouldExit)
            {
                string prompt = "PS " + CurrentLocation() + "> ";
                _host.UI.Write(prompt);
                string? line = Console.ReadLine();
                if (line == null) break;
                if (line.Trim().Length == 0) continue;
                last = ExitCodeOf(Execute(ps => ps.AddScript(line), out _), interactive: true);
            }
            return _host.ShouldExit ? _host.ExitCode : last;
        }

        private string CurrentLocation()
        {
            try { return _runspace.SessionStateProxy.Path.CurrentLocation.Path; }
            catch (Exception) { return "?"; }
        }

        private int ExitCodeOf(Outcome outcome, bool interactive = false)
        {
            if (_host.ShouldExit) return _host.ExitCode;
            if (interactive) return outcome == Outcome.Completed ? ExitOk : ExitError;
            switch (outcome)
            {
                case Outcome.Stopped: return ExitInterrupted;
                case Outcome.Failed: return ExitError;
                default: return ExitOk;
            }
        }

        /// <summary>
        /// Runs one pipeline the way pwsh does: the command's error stream merged into its output and
        /// everything piped to Out-Default, so objects and errors are formatted by the engine's views.
        /// A terminating error is printed the same way.
        /// </summary>
        private Outcome Execute(Action<PowerShell> build, out ErrorRecord? terminatingError)
        {
            terminatingError = null;
            using (PowerShell ps = PowerShell.Create())
            {
                ps.Runspace = _runspace;
                build(ps);
                ps.Commands.Commands[0].MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
                ps.AddCommand("Out-Default");
                lock (_lock)
                {
                    _current = ps;
                    _stopRequested = false;
                }
                try
                {
                    ps.Invoke();
                    return _stopRequested ? Outcome.Stopped : Outcome.Completed;
                }
                catch (PipelineStoppedException)
                {
                    return _host.ShouldExit ? Outcome.Completed : Outcome.Stopped;
                }
                catch (Exception e) when (e is RuntimeException || e is PSInvalidOperationException || e is InvalidOperationException)
                {
                    if (_stopRequested && !(e is RuntimeException))
                        return Outcome.Stopped;
                    terminatingError = e is IContainsErrorRecord icer
                        ? icer.ErrorRecord
                        : new ErrorRecord(e, e.GetType().FullName, ErrorCategory.NotSpecified, null);
                    ReportError(terminatingError, e);
                    return Outcome.Failed;
                }
                finally
                {
                    lock (_lock) _current = null;
                    _host.HostUI.ResetProgress();
                }
            }
        }

        /// <summary>
        /// Prints a terminating error through Out-Default (so $ErrorView applies) with the host's
        /// output routed to stderr in the error colour; falls back to plain text.
        /// </summary>
        private void ReportError(ErrorRecord record, Exception exception)
        {
            bool printed = false;
            _host.HostUI.RouteOutputToError = true;
            try
            {
                using (PowerShell ps = PowerShell.Create())
                {
                    ps.Runspace = _runspace;
                    ps.AddCommand("Out-Default");
                    ps.Invoke(new object[] { record });
                    printed = !ps.HadErrors;
                }
            }
            catch (Exception)
            {
                // fall through to the plain rendering
            }
            finally
            {
                _host.HostUI.RouteOutputToError = false;
            }
            if (!printed)
                _host.UI.WriteErrorLine(ErrorText.Render(record, exception));
        }

        private void ReportParseErrors(ParseError[] errors)
        {
            foreach (ParseError e in errors)
            {
                var pe = new ParseException(new[] { e });
                ReportError(pe.ErrorRecord, pe);
            }
        }

        private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            PowerShell? ps;
            lock (_lock)
            {
                ps = _current;
                if (ps != null) _stopRequested = true;
            }
            if (ps == null)
                return; // nothing running: let Ctrl+C end vnpwsh as usual
            e.Cancel = true;
            ps.BeginStop(null, null);
        }

        private static string Quote(string s) => "'" + s.Replace("'", "''").Replace("\u2018", "\u2018\u2018").Replace("\u2019", "\u2019\u2019") + "'";

        public void Dispose()
        {
            Runspace.DefaultRunspace = null;
            _runspace.Dispose();
        }
    }
}
