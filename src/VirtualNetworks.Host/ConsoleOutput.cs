using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;

namespace VirtualNetworks.Host
{
    /// <summary>
    /// The two console streams, with what the host needs to know about them: whether each is a
    /// terminal (colours and the progress line only go to terminals; escape sequences are stripped
    /// from redirected streams), and the one progress status line kept on stderr.
    /// All writes go through here and are serialized by one lock.
    /// </summary>
    internal sealed class ConsoleOutput
    {
        private static readonly Regex EscapeSequence = new Regex(
            @"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])", RegexOptions.Compiled);

        private readonly object _lock = new object();
        private readonly TextWriter _out;
        private readonly TextWriter _err;
        private string? _progressLine;

        public ConsoleOutput()
        {
            bool dumb = string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);
            bool noColor = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
            StdoutIsTerminal = !Console.IsOutputRedirected;
            StderrIsTerminal = !Console.IsErrorRedirected;
            StdinIsTerminal = !Console.IsInputRedirected;
            StdoutColor = StdoutIsTerminal && !dumb && !noColor;
            StderrColor = StderrIsTerminal && !dumb && !noColor;
            var utf8 = new UTF8Encoding(false);
            _out = new StreamWriter(Console.OpenStandardOutput(), utf8) { AutoFlush = true, NewLine = "\n" };
            _err = new StreamWriter(Console.OpenStandardError(), utf8) { AutoFlush = true, NewLine = "\n" };
        }

        public bool StdoutIsTerminal { get; }
        public bool StderrIsTerminal { get; }
        public bool StdinIsTerminal { get; }
        /// <summary>Colours and other escape sequences are written to stdout only when this is true.</summary>
        public bool StdoutColor { get; }
        /// <summary>Colours and other escape sequences are written to stderr only when this is true.</summary>
        public bool StderrColor { get; }

        /// <summary>Width used for formatting: the terminal's, else $COLUMNS, else 120.</summary>
        public int Width
        {
            get
            {
                if (StdoutIsTerminal)
                {
                    try
                    {
                        int w = Console.WindowWidth;
                        if (w > 0) return w;
                    }
                    catch (IOException) { }
                    catch (PlatformNotSupportedException) { }
                }
                if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out int columns) && columns > 0)
                    return columns;
                return 120;
            }
        }

        /// <summary>Height of the window: the terminal's, else $LINES, else 50.</summary>
        public int Height
        {
            get
            {
                if (StdoutIsTerminal)
                {
                    try
                    {
                        int h = Console.WindowHeight;
                        if (h > 0) return h;
                    }
                    catch (IOException) { }
                    catch (PlatformNotSupportedException) { }
                }
                if (int.TryParse(Environment.GetEnvironmentVariable("LINES"), out int lines) && lines > 0)
                    return lines;
                return 50;
            }
        }

        public void Write(bool toStderr, string? text, ConsoleColor? foreground = null, ConsoleColor? background = null)
        {
            if (string.IsNullOrEmpty(text)) return;
            lock (_lock)
            {
                ClearProgressLocked();
                bool color = toStderr ? StderrColor : StdoutColor;
                TextWriter w = toStderr ? _err : _out;
                if (!color)
                {
                    w.Write(EscapeSequence.Replace(text!, string.Empty));
                    return;
                }
                // Text that already carries escape sequences (e.g. $PSStyle formatting) keeps its own colours.
                string? sgr = text!.IndexOf('\x1b') >= 0 ? null : Sgr(foreground, background);
                if (sgr == null)
                {
                    w.Write(text);
                }
                else
                {
                    // Colour each line separately so a line break never carries a background colour.
                    var sb = new StringBuilder();
                    string[] lines = text!.Split('\n');
                    for (int i = 0; i < lines.Length; i++)
                    {
                        if (i > 0) sb.Append('\n');
                        if (lines[i].Length > 0) sb.Append(sgr).Append(lines[i]).Append("\x1b[0m");
                    }
                    w.Write(sb.ToString());
                }
            }
        }

        /// <summary>Shows (or replaces) the single progress line on stderr; does nothing unless stderr is a terminal.</summary>
        public void ShowProgress(string? line)
        {
            if (!StderrIsTerminal) return;
            lock (_lock)
            {
                if (string.IsNullOrEmpty(line))
                {
                    ClearProgressLocked();
                    return;
                }
                int max = Math.Max(10, Width - 1);
                string text = EscapeSequence.Replace(line!, string.Empty).Replace('\n', ' ').Replace('\r', ' ');
                if (text.Length > max) text = text.Substring(0, max - 1) + "…";
                _err.Write("\r" + (StderrColor ? "\x1b[7m" + text + "\x1b[0m" : text) + "\x1b[K");
                _progressLine = text;
            }
        }

        private void ClearProgressLocked()
        {
            if (_progressLine == null) return;
            _err.Write("\r\x1b[K");
            _progressLine = null;
        }

        private static string? Sgr(ConsoleColor? foreground, ConsoleColor? background)
        {
            var codes = new List<int>(2);
            if (foreground.HasValue && IsColor(foreground.Value)) codes.Add(AnsiCode(foreground.Value));
            if (background.HasValue && IsColor(background.Value)) codes.Add(AnsiCode(background.Value) + 10);
            return codes.Count == 0 ? null : "\x1b[" + string.Join(";", codes) + "m";
        }

        private static bool IsColor(ConsoleColor c) => (int)c >= 0 && (int)c <= 15;

        private static int AnsiCode(ConsoleColor c)
        {
            switch (c)
            {
                case ConsoleColor.Black: return 30;
                case ConsoleColor.DarkRed: return 31;
                case ConsoleColor.DarkGreen: return 32;
                case ConsoleColor.DarkYellow: return 33;
                case ConsoleColor.DarkBlue: return 34;
                case ConsoleColor.DarkMagenta: return 35;
                case ConsoleColor.DarkCyan: return 36;
                case ConsoleColor.Gray: return 37;
                case ConsoleColor.DarkGray: return 90;
                case ConsoleColor.Red: return 91;
                case ConsoleColor.Green: return 92;
                case ConsoleColor.Yellow: return 93;
                case ConsoleColor.Blue: return 94;
                case ConsoleColor.Magenta: return 95;
                case ConsoleColor.Cyan: return 96;
                default: return 97;
            }
        }
    }
}
