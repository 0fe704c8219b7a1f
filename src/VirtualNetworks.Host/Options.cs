using System;
using System.Collections.Generic;

namespace VirtualNetworks.Host
{
    /// <summary>Thrown for a malformed command line; the message is shown above the usage text.</summary>
    internal sealed class UsageException : Exception
    {
        public UsageException(string message) : base(message) { }
    }

    /// <summary>The parsed vnpwsh command line.</summary>
    internal sealed class Options
    {
        public const string Usage =
@"Usage: vnpwsh [-Module <path>] [-NoModule] [-NonInteractive]
              [-File <script.ps1> [args...] | -Command <text...> | -Command -]

  -Module <path>    Import this module manifest (.psd1) or module directory instead of the
                    default one (see below).
  -NoModule         Import no module at all.
  -File <path>      Run a script file; every following argument is passed to the script
                    (an argument written -Name binds the script parameter Name).
  -Command <text>   Run the rest of the command line as PowerShell text; '-Command -'
                    reads the text from standard input.
  -NonInteractive   Fail instead of prompting, even when standard input is a terminal.
  -Help             Show this text.

With neither -File nor -Command, commands are read from standard input: one script when
stdin is redirected, an interactive prompt when it is a terminal.

Default module, first match wins: -Module; $VIRTUALNETWORKS_MODULE; else the first ancestor
directory of vnpwsh's own directory containing out/VirtualNetworks/VirtualNetworks.psd1.

Exit code: the script's 'exit N'; else 1 when a terminating error occurred (or the module
could not be imported); 130 when stopped with Ctrl+C; 2 for a bad command line; else 0.";

        public string? ModulePath { get; private set; }
        public bool NoModule { get; private set; }
        public bool NonInteractive { get; private set; }
        public bool ShowHelp { get; private set; }
        public string? File { get; private set; }
        public List<string> FileArguments { get; } = new List<string>();
        public string? Command { get; private set; }
        public bool CommandFromStdin { get; private set; }

        public static Options Parse(IReadOnlyList<string> args)
        {
            var o = new Options();
            for (int i = 0; i < args.Count; i++)
            {
                string a = args[i];
                string name = a.StartsWith("--", StringComparison.Ordinal) ? a.Substring(1) : a;
                switch (name.ToLowerInvariant())
                {
                    case "-module":
                    case "-m":
                        if (i + 1 >= args.Count) throw new UsageException("-Module needs a path.");
                        o.ModulePath = args[++i];
                        break;
                    case "-nomodule":
                        o.NoModule = true;
                        break;
                    case "-noninteractive":
                        o.NonInteractive = true;
                        break;
                    case "-noprofile":
                    case "-nologo":
                        // Accepted for pwsh compatibility; vnpwsh never loads profiles or prints a logo.
                        break;
                    case "-help":
                    case "-h":
                    case "-?":
                    case "/?":
                        o.ShowHelp = true;
                        break;
                    case "-file":
                    case "-f":
                        if (i + 1 >= args.Count) throw new UsageException("-File needs a script path.");
                        o.File = args[++i];
                        for (i++; i < args.Count; i++) o.FileArguments.Add(args[i]);
                        break;
                    case "-command":
                    case "-c":
                        if (i + 1 >= args.Count) throw new UsageException("-Command needs text (or '-' to read standard input).");
                        if (args[i + 1] == "-" && i + 2 == args.Count)
                        {
                            o.CommandFromStdin = true;
                            i++;
                        }
                        else
                        {
                            var rest = new List<string>();
                            for (i++; i < args.Count; i++) rest.Add(args[i]);
                            o.Command = string.Join(" ", rest);
                        }
                        break;
                    default:
                        throw new UsageException($"Unknown argument '{a}'.");
                }
            }
            if (o.NoModule && o.ModulePath != null)
                throw new UsageException("-Module and -NoModule cannot be used together.");
            return o;
        }
    }
}
