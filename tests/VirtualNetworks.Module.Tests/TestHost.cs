using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// A minimal PSHost that records what the module writes to the host: the "What if:" lines of -WhatIf, Write-Host
    /// text, progress records and confirmation prompts. Culture is fixed to en-US so help lookup (en-US folder) and
    /// number formatting do not depend on the machine's locale.
    /// </summary>
    public sealed class TestHost : PSHost
    {
        private readonly Guid _id = Guid.NewGuid();
        private readonly TestHostUserInterface _ui = new TestHostUserInterface();
        private static readonly CultureInfo EnUs = CultureInfo.GetCultureInfo("en-US");

        public override CultureInfo CurrentCulture => EnUs;
        public override CultureInfo CurrentUICulture => EnUs;
        public override Guid InstanceId => _id;
        public override string Name => "VirtualNetworksTestHost";
        public override PSHostUserInterface UI => _ui;
        public override Version Version => new Version(1, 0);

        public TestHostUserInterface Recorder => _ui;

        public override void EnterNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported in tests.");
        public override void ExitNestedPrompt() => throw new NotSupportedException();
        public override void NotifyBeginApplication() { }
        public override void NotifyEndApplication() { }
        public override void SetShouldExit(int exitCode) { }
    }

    /// <summary>Records host output. Prompts are answered with <see cref="ConfirmAnswer"/> and recorded.</summary>
    public sealed class TestHostUserInterface : PSHostUserInterface
    {
        private readonly object _gate = new object();
        private readonly List<string> _lines = new List<string>();
        private readonly StringBuilder _partial = new StringBuilder();
        private readonly List<string> _prompts = new List<string>();
        private readonly List<ProgressRecord> _progress = new List<ProgressRecord>();
        private readonly TestRawUserInterface _raw = new TestRawUserInterface();

        /// <summary>What PromptForChoice answers: true picks the "Yes" choice, false "No". Default false (safe).</summary>
        public bool ConfirmAnswer { get; set; }

        public IReadOnlyList<string> Lines { get { lock (_gate) return _lines.ToArray(); } }
        public IReadOnlyList<string> Prompts { get { lock (_gate) return _prompts.ToArray(); } }
        public IReadOnlyList<ProgressRecord> Progress { get { lock (_gate) return _progress.ToArray(); } }

        public void Clear()
        {
            lock (_gate)
            {
                _lines.Clear();
                _partial.Clear();
                _prompts.Clear();
                _progress.Clear();
            }
        }

        public override PSHostRawUserInterface RawUI => _raw;

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
        {
            lock (_gate) _prompts.Add("Prompt: " + caption + " | " + message);
            throw new PSInvalidOperationException("Prompt() was called in a non-interactive test: " + caption + " " + message);
        }

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
        {
            lock (_gate) _prompts.Add(caption + " | " + message);
            string wanted = ConfirmAnswer ? "Yes" : "No";
            for (int i = 0; i < choices.Count; i++)
            {
                if (string.Equals(choices[i].Label.Replace("&", ""), wanted, StringComparison.OrdinalIgnoreCase))
                    return i;
            }
            return defaultChoice;
        }

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            throw new PSInvalidOperationException("PromptForCredential was called in a test.");

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
            throw new PSInvalidOperationException("PromptForCredential was called in a test.");

        public override string ReadLine() => throw new PSInvalidOperationException("ReadLine was called in a test.");
        public override SecureString ReadLineAsSecureString() => throw new PSInvalidOperationException("ReadLineAsSecureString was called in a test.");

        public override void Write(string value)
        {
            lock (_gate) _partial.Append(value);
        }

        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Write(value);

        public override void WriteLine(string value)
        {
            lock (_gate)
            {
                _partial.Append(value);
                _lines.Add(_partial.ToString());
                _partial.Clear();
            }
        }

        public override void WriteLine() => WriteLine("");
        public override void WriteLine(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => WriteLine(value);
        public override void WriteErrorLine(string value) => WriteLine("ERROR: " + value);
        public override void WriteDebugLine(string message) => WriteLine("DEBUG: " + message);
        public override void WriteVerboseLine(string message) => WriteLine("VERBOSE: " + message);
        public override void WriteWarningLine(string message) => WriteLine("WARNING: " + message);

        public override void WriteProgress(long sourceId, ProgressRecord record)
        {
            lock (_gate) _progress.Add(record);
        }
    }

    /// <summary>A fixed-size console so format/out code that asks for a width gets one.</summary>
    public sealed class TestRawUserInterface : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override Size BufferSize { get; set; } = new Size(200, 3000);
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; } = 1;
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.White;
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new Size(200, 100);
        public override Size MaxWindowSize => new Size(200, 100);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get; set; } = new Size(200, 100);
        public override string WindowTitle { get; set; } = "tests";

        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => new BufferCell[0, 0];
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new PSInvalidOperationException("ReadKey was called in a test.");
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
