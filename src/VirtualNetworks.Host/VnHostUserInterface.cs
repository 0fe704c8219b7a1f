using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace VirtualNetworks.Host
{
    /// <summary>
    /// Raised when a script asks for input (Read-Host, a -Confirm prompt, a mandatory parameter
    /// left out, Get-Credential...) while vnpwsh is non-interactive: stdin is not a terminal, or
    /// -NonInteractive was given. Its FullyQualifiedErrorId is "HostIsNonInteractive".
    /// </summary>
    public sealed class HostIsNonInteractiveException : RuntimeException
    {
        private ErrorRecord? _record;

        public HostIsNonInteractiveException(string what)
            : base($"vnpwsh is non-interactive (standard input is not a terminal, or -NonInteractive was given): cannot {what}. " +
                   "Pass the value as a parameter instead (for confirmations: -Confirm:$false or -Force).")
        {
        }

        public override ErrorRecord ErrorRecord =>
            _record ??= new ErrorRecord(this, "HostIsNonInteractive", ErrorCategory.InvalidOperation, null);
    }

    /// <summary>Console-backed user interface: output to stdout, errors/warnings/verbose/debug to stderr.</summary>
    internal sealed class VnHostUserInterface : PSHostUserInterface, IHostUISupportsMultipleChoiceSelection
    {
        private readonly ConsoleOutput _console;
        private readonly VnRawUserInterface _rawUI;
        private readonly ProgressLine _progress;

        public VnHostUserInterface(ConsoleOutput console, bool nonInteractive)
        {
            _console = console;
            NonInteractive = nonInteractive || !console.StdinIsTerminal;
            _rawUI = new VnRawUserInterface(console, this);
            _progress = new ProgressLine(console);
        }

        /// <summary>True when reading input or prompting must fail instead of waiting.</summary>
        public bool NonInteractive { get; }

        public override PSHostRawUserInterface RawUI => _rawUI;

        /// <summary>The formatter emits $PSStyle escape sequences only when this is true.</summary>
        public override bool SupportsVirtualTerminal => _console.StdoutColor;

        public ConsoleColor ErrorForegroundColor { get; set; } = ConsoleColor.Red;
        public ConsoleColor WarningForegroundColor { get; set; } = ConsoleColor.Yellow;
        public ConsoleColor VerboseForegroundColor { get; set; } = ConsoleColor.Yellow;
        public ConsoleColor DebugForegroundColor { get; set; } = ConsoleColor.Yellow;

        internal void RequireInteractive(string what)
        {
            if (NonInteractive)
                throw new HostIsNonInteractiveException(what);
        }

        // ----- output -----

        /// <summary>While true, output writes go to stderr in the error colour (used to print a terminating error via Out-Default).</summary>
        internal bool RouteOutputToError { get; set; }

        private void Out(string value, ConsoleColor? foreground = null, ConsoleColor? background = null)
        {
            if (RouteOutputToError)
                _console.Write(true, value, ErrorForegroundColor);
            else
                _console.Write(false, value, foreground, background);
        }

        public override void Write(string value) => Out(value);

        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) =>
            Out(value, Differs(foregroundColor, _rawUI.ForegroundColor), Differs(backgroundColor, _rawUI.BackgroundColor));

        public override void WriteLine() => Out("\n");

        public override void WriteLine(string value) => Out(value + "\n");

        public override void WriteLine(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) =>
            Write(foregroundColor, backgroundColor, value + "\n");

        public override void WriteErrorLine(string value) => _console.Write(true, value + "\n", ErrorForegroundColor);

        public override void WriteWarningLine(string message) =>
            _console.Write(true, "WARNING: " + message + "\n", WarningForegroundColor);

        public override void WriteVerboseLine(string message) =>
            _console.Write(true, "VERBOSE: " + message + "\n", VerboseForegroundColor);

        public override void WriteDebugLine(string message) =>
            _console.Write(true, "DEBUG: " + message + "\n", DebugForegroundColor);

        public override void WriteInformation(InformationRecord record)
        {
            // Write-Host output reaches the host through Write/WriteLine; nothing more to do here.
        }

        public override void WriteProgress(long sourceId, ProgressRecord record) => _progress.Update(sourceId, record);

        /// <summary>Removes the progress line (end of a command).</summary>
        internal void ResetProgress() => _progress.Reset();

        private static ConsoleColor? Differs(ConsoleColor color, ConsoleColor @default) =>
            color == @default ? (ConsoleColor?)null : color;

        // ----- input -----

        public override string ReadLine()
        {
            RequireInteractive("read a line of input");
            return Console.ReadLine() ?? string.Empty;
        }

        public override SecureString ReadLineAsSecureString()
        {
            RequireInteractive("read a secure string");
            var s = new SecureString();
            while (true)
            {
                ConsoleKeyInfo key = Console.ReadKey(intercept: true);
                if (key.Key == ConsoleKey.Enter) break;
                if (key.Key == ConsoleKey.Backspace)
                {
                    if (s.Length > 0)
                    {
                        s.RemoveAt(s.Length - 1);
                        _console.Write(false, "\b \b");
                    }
                    continue;
                }
                if (key.KeyChar == '\0') continue;
                s.AppendChar(key.KeyChar);
                _console.Write(false, "*");
            }
            _console.Write(false, "\n");
            s.MakeReadOnly();
            return s;
        }

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
        {
            string what = descriptions.Count == 1 ? $"prompt for '{descriptions[0].Name}'" : "prompt for input";
            RequireInteractive(what);
            WriteCaption(caption, message);
            var result = new Dictionary<string, PSObject>(StringComparer.OrdinalIgnoreCase);
            foreach (FieldDescription field in descriptions)
            {
                string label = string.IsNullOrEmpty(field.Label) ? field.Name : field.Label.Replace("&", string.Empty);
                string typeName = field.ParameterTypeFullName ?? string.Empty;
                if (typeName == typeof(SecureString).FullName)
                {
                    Write(label + ": ");
                    result[field.Name] = new PSObject(ReadLineAsSecureString());
                }
                else if (typeName == typeof(PSCredential).FullName)
                {
                    result[field.Name] = new PSObject(PromptForCredential(caption, message, string.Empty, string.Empty));
                }
                else if (typeName.EndsWith("[]", StringComparison.Ordinal))
                {
                    // Like pwsh: one element per line, an empty line ends the list.
                    var items = new List<string>();
                    while (true)
                    {
                        Write($"{label}[{items.Count}]: ");
                        string line = Console.ReadLine() ?? string.Empty;
                        if (line.Length == 0) break;
                        items.Add(line);
                    }
                    result[field.Name] = new PSObject(items.ToArray());
                }
                else
                {
                    Write(label + ": ");
                    result[field.Name] = new PSObject(Console.ReadLine() ?? string.Empty);
                }
            }
            return result;
        }

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
        {
            Collection<int> picked = PromptForChoice(caption, message, choices, defaultChoice >= 0 ? new[] { defaultChoice } : Array.Empty<int>(), single: true);
            return picked.Count > 0 ? picked[0] : defaultChoice;
        }

        public Collection<int> PromptForChoice(string? caption, string? message, Collection<ChoiceDescription> choices, IEnumerable<int>? defaultChoices) =>
            PromptForChoice(caption, message, choices, defaultChoices, single: false);

        private Collection<int> PromptForChoice(string? caption, string? message, Collection<ChoiceDescription> choices, IEnumerable<int>? defaultChoices, bool single)
        {
            RequireInteractive(string.IsNullOrEmpty(caption) ? "ask for a choice" : $"ask for a choice ({caption})");
            var defaults = new List<int>(defaultChoices ?? Array.Empty<int>());
            var hotkeys = new string[choices.Count];
            var line = new StringBuilder();
            for (int i = 0; i < choices.Count; i++)
            {
                hotkeys[i] = HotKey(choices[i].Label);
                line.Append('[').Append(hotkeys[i]).Append("] ").Append(choices[i].Label.Replace("&", string.Empty)).Append("  ");
            }
            line.Append("[?] Help");
            if (defaults.Count > 0)
            {
                var names = defaults.ConvertAll(d => hotkeys[d]);
                line.Append(" (default is \"").Append(string.Join(",", names)).Append("\")");
            }
            line.Append(": ");

            while (true)
            {
                WriteCaption(caption, message);
                Write(line.ToString());
                string answer = (Console.ReadLine() ?? string.Empty).Trim();
                if (answer.Length == 0)
                    return new Collection<int>(defaults);
                if (answer == "?")
                {
                    for (int i = 0; i < choices.Count; i++)
                        WriteLine($"{hotkeys[i]} - {choices[i].HelpMessage}");
                    continue;
                }
                var result = new Collection<int>();
                bool ok = true;
                foreach (string part in single ? new[] { answer } : answer.Split(new[] { ',', ' ' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    int found = -1;
                    for (int i = 0; i < choices.Count && found < 0; i++)
                    {
                        if (string.Equals(part, hotkeys[i], StringComparison.OrdinalIgnoreCase) ||
                            string.Equals(part, choices[i].Label.Replace("&", string.Empty), StringComparison.OrdinalIgnoreCase))
                            found = i;
                    }
                    if (found < 0) { ok = false; break; }
                    result.Add(found);
                }
                if (ok && result.Count > 0)
                    return result;
            }
        }

        private static string HotKey(string label)
        {
            int amp = label.IndexOf('&');
            if (amp >= 0 && amp + 1 < label.Length)
                return char.ToUpper(label[amp + 1], CultureInfo.CurrentCulture).ToString();
            return label.Length > 0 ? label.Substring(0, 1).ToUpper(CultureInfo.CurrentCulture) : "?";
        }

        private void WriteCaption(string? caption, string? message)
        {
            if (!string.IsNullOrEmpty(caption)) WriteLine(caption);
            if (!string.IsNullOrEmpty(message)) WriteLine(message);
        }

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            PromptForCredential(caption, message, userName, targetName, PSCredentialTypes.Default, PSCredentialUIOptions.Default);

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options)
        {
            RequireInteractive("prompt for a credential");
            WriteCaption(caption, message);
            string user = userName;
            if (string.IsNullOrEmpty(user))
            {
                Write("User: ");
                user = Console.ReadLine() ?? string.Empty;
            }
            Write($"Password for user {user}: ");
            return new PSCredential(user, ReadLineAsSecureString());
        }
    }
}
