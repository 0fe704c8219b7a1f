using System;
using System.Management.Automation.Host;

namespace VirtualNetworks.Host
{
    /// <summary>
    /// Console-backed raw UI. Sizes come from the terminal when stdout is one, else from
    /// $COLUMNS/$LINES, else 120x50 (that width is what Out-Default formats tables to).
    /// Buffer access (Get/SetBufferContents, scrolling) is not supported.
    /// </summary>
    internal sealed class VnRawUserInterface : PSHostRawUserInterface
    {
        // -1 means "the terminal's default colour", as pwsh reports it on Unix.
        private const ConsoleColor DefaultColor = (ConsoleColor)(-1);
        private readonly ConsoleOutput _console;
        private readonly VnHostUserInterface _ui;
        private string _title = "vnpwsh";

        public VnRawUserInterface(ConsoleOutput console, VnHostUserInterface ui)
        {
            _console = console;
            _ui = ui;
        }

        public override ConsoleColor BackgroundColor { get; set; } = DefaultColor;
        public override ConsoleColor ForegroundColor { get; set; } = DefaultColor;

        public override Size BufferSize
        {
            get => new Size(_console.Width, Math.Max(_console.Height, 3000));
            set { /* the console owns its size */ }
        }

        public override Coordinates CursorPosition
        {
            get
            {
                if (_console.StdoutIsTerminal && _console.StdinIsTerminal)
                {
                    try
                    {
                        (int left, int top) = Console.GetCursorPosition();
                        return new Coordinates(left, top);
                    }
                    catch (Exception e) when (e is System.IO.IOException || e is PlatformNotSupportedException || e is InvalidOperationException)
                    {
                    }
                }
                return new Coordinates(0, 0);
            }
            set
            {
                if (_console.StdoutIsTerminal)
                {
                    try { Console.SetCursorPosition(value.X, value.Y); }
                    catch (Exception e) when (e is System.IO.IOException || e is ArgumentOutOfRangeException || e is PlatformNotSupportedException) { }
                }
            }
        }

        public override int CursorSize { get; set; } = 25;

        public override bool KeyAvailable
        {
            get
            {
                if (_ui.NonInteractive) return false;
                try { return Console.KeyAvailable; }
                catch (InvalidOperationException) { return false; }
            }
        }

        public override Size MaxPhysicalWindowSize => WindowSize;
        public override Size MaxWindowSize => WindowSize;
        public override Coordinates WindowPosition { get; set; } = new Coordinates(0, 0);

        public override Size WindowSize
        {
            get => new Size(_console.Width, _console.Height);
            set { /* the console owns its size */ }
        }

        public override string WindowTitle
        {
            get => _title;
            set => _title = value ?? string.Empty;
        }

        public override void FlushInputBuffer()
        {
        }

        public override KeyInfo ReadKey(ReadKeyOptions options)
        {
            _ui.RequireInteractive("read a key");
            bool echo = (options & ReadKeyOptions.NoEcho) == 0;
            ConsoleKeyInfo k = Console.ReadKey(intercept: !echo);
            ControlKeyStates states = 0;
            if ((k.Modifiers & ConsoleModifiers.Alt) != 0) states |= ControlKeyStates.LeftAltPressed;
            if ((k.Modifiers & ConsoleModifiers.Control) != 0) states |= ControlKeyStates.LeftCtrlPressed;
            if ((k.Modifiers & ConsoleModifiers.Shift) != 0) states |= ControlKeyStates.ShiftPressed;
            return new KeyInfo((int)k.Key, k.KeyChar, states, keyDown: true);
        }

        public override BufferCell[,] GetBufferContents(Rectangle rectangle) =>
            throw new NotSupportedException("vnpwsh does not support reading the console buffer.");

        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) =>
            throw new NotSupportedException("vnpwsh does not support scrolling the console buffer.");

        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) =>
            throw new NotSupportedException("vnpwsh does not support writing the console buffer.");

        public override void SetBufferContents(Rectangle rectangle, BufferCell fill)
        {
            // Clear-Host style call (whole buffer, blank cell): clear a terminal, otherwise ignore.
            if (rectangle.Left == -1 && rectangle.Right == -1 && rectangle.Top == -1 && rectangle.Bottom == -1)
            {
                if (_console.StdoutColor) _console.Write(false, "\x1b[2J\x1b[H");
                return;
            }
            throw new NotSupportedException("vnpwsh does not support writing the console buffer.");
        }
    }
}
