using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace VirtualNetworks.Util
{
    /// <summary>What an external program did: exit code, everything it wrote, and how long it ran.</summary>
    public sealed class ProcessResult
    {
        public ProcessResult(string executable, IReadOnlyList<string> arguments, int exitCode, string stdOut, string stdErr, TimeSpan duration)
        {
            Executable = executable;
            Arguments = arguments;
            ExitCode = exitCode;
            StdOut = stdOut;
            StdErr = stdErr;
            Duration = duration;
        }

        public string Executable { get; }
        public IReadOnlyList<string> Arguments { get; }
        public int ExitCode { get; }
        public string StdOut { get; }
        public string StdErr { get; }
        public TimeSpan Duration { get; }
        public bool Succeeded => ExitCode == 0;

        /// <summary>The command line for messages and logs (POSIX shell quoting; never executed).</summary>
        public string CommandLine => ProcessRunner.FormatCommandLine(Executable, Arguments);

        public override string ToString() => CommandLine + " -> " + ExitCode;
    }

    /// <summary>
    /// Runs external programs (ip, tc, qemu, dot, ...) without a shell: an executable plus an argument list, so no
    /// argument is ever interpreted by a shell. Output is captured completely; a timeout or cancellation kills the
    /// process and its children.
    /// </summary>
    /// <remarks>
    /// <para>netstandard2.0 has no ProcessStartInfo.ArgumentList, so the list is joined into
    /// ProcessStartInfo.Arguments with the Windows (MSVC runtime / CommandLineToArgvW) quoting rule, which .NET on
    /// Unix splits back with the same rule. See <see cref="QuoteArgument"/>.</para>
    /// <para>Standard input is always redirected (empty unless text is given), so a child never reads the console.
    /// Output is decoded as UTF-8.</para>
    /// <para>The run ends when the program has exited and both output pipes are closed. A program that leaves a
    /// background child holding a pipe open is therefore waited for until the timeout (or cancellation).</para>
    /// </remarks>
    public static class ProcessRunner
    {
        private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        /// <summary>How long to wait for a killed process to exit and close its pipes.</summary>
        private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(5);

        /// <summary>
        /// Runs <paramref name="executable"/> (a path, or a name searched in PATH) with <paramref name="arguments"/> and
        /// waits for it. A non-zero exit code is not an error here (see <see cref="EnsureSuccess"/>).
        /// </summary>
        /// <param name="standardInput">Text written to the program's standard input, which is then closed; null = empty input.</param>
        /// <param name="timeout">Maximum run time; null or <see cref="Timeout.InfiniteTimeSpan"/> = no limit.</param>
        /// <param name="environment">Variables to set (a null value removes the variable) on top of this process's environment.</param>
        /// <exception cref="ArgumentException">An argument or the executable contains a NUL character.</exception>
        /// <exception cref="VirtualNetworksException">The program cannot be started (BackendOperationFailed/NotInstalled), or it
        /// ran longer than <paramref name="timeout"/> (BackendOperationFailed/OperationTimeout; it was killed).</exception>
        /// <exception cref="OperationCanceledException">Cancelled; the program was killed.</exception>
        /// <summary>True for the read-only invocations of ip/tc/bridge (show, list): not a step boundary of <see cref="CrashPoint"/>.</summary>
        private static bool IsQuery(List<string> args)
        {
            foreach (var a in args)
                if (a == "show" || a == "list" || a == "help") return true;
            return false;
        }

        public static ProcessResult Run(
            string executable,
            IEnumerable<string> arguments,
            string? standardInput = null,
            TimeSpan? timeout = null,
            IReadOnlyDictionary<string, string?>? environment = null,
            CancellationToken cancellationToken = default)
        {
            if (string.IsNullOrEmpty(executable)) throw new ArgumentException("No executable was given.", nameof(executable));
            if (executable.IndexOf('\0') >= 0) throw new ArgumentException("The executable name contains a NUL character.", nameof(executable));
            var args = new List<string>();
            foreach (var a in arguments ?? throw new ArgumentNullException(nameof(arguments)))
            {
                if (a == null) throw new ArgumentException("The argument list contains a null entry.", nameof(arguments));
                if (a.IndexOf('\0') >= 0)
                    throw new ArgumentException("Argument " + args.Count + " of '" + executable + "' contains a NUL character, which cannot be passed to a program.", nameof(arguments));
                args.Add(a);
            }
            TimeSpan limit = timeout ?? Timeout.InfiniteTimeSpan;
            if (limit != Timeout.InfiniteTimeSpan && limit < TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(timeout), "The timeout must not be negative.");
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsQuery(args)) CrashPoint.Hit("run " + System.IO.Path.GetFileName(executable), string.Join(" ", args));

            var startInfo = new ProcessStartInfo(executable, JoinArguments(args))
            {
                UseShellExecute = false,
                CreateNoWindow = true,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Utf8,
                StandardErrorEncoding = Utf8,
            };
            if (environment != null)
            {
                foreach (var kv in environment)
                {
                    if (kv.Value == null) startInfo.Environment.Remove(kv.Key);
                    else startInfo.Environment[kv.Key] = kv.Value;
                }
            }

            using (var process = new Process { StartInfo = startInfo })
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    process.Start();
                }
                catch (Exception ex) when (ex is Win32Exception || ex is FileNotFoundException || ex is DirectoryNotFoundException || ex is UnauthorizedAccessException)
                {
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.NotInstalled, executable,
                        "Cannot run " + FormatCommandLine(executable, args) + ": " + ex.Message +
                        (FindExecutable(executable) == null ? " ('" + executable + "' was not found in PATH.)" : ""), ex);
                }

                // The pipes are drained (and the input written) on threads of their own, never on the thread pool: a pipe
                // read blocks its thread until the program closes the pipe, and a thread pool shrunk to its minimum (the
                // number of CPUs after 20 s idle) then has nothing left for the next work item until its starvation
                // detection adds a thread, about every 0.5 s. Measured: a 3 ms tc run took 0.8-0.9 s that way during a live
                // bandwidth change (docs/benchmarks.md).
                using (var pending = new CountdownEvent(3))
                {
                    var stdout = PipeWork.Start(pending, () => process.StandardOutput.ReadToEnd(), "vn-stdout");
                    var stderr = PipeWork.Start(pending, () => process.StandardError.ReadToEnd(), "vn-stderr");
                    var stdin = PipeWork.Start(pending, () => WriteInput(process.StandardInput, standardInput), "vn-stdin", inline: string.IsNullOrEmpty(standardInput));

                    bool finished;
                    try
                    {
                        finished = Wait(pending.WaitHandle, limit, clock, cancellationToken) && WaitForExit(process, limit, clock, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        KillTree(process);
                        pending.Wait(KillGrace);
                        throw;
                    }

                    if (!finished)
                    {
                        KillTree(process);
                        pending.Wait(KillGrace);
                        string partial = stderr.Done ? stderr.Result ?? "" : "";
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.OperationTimeout, Path.GetFileName(executable),
                            FormatCommandLine(executable, args) + " did not finish within " + limit.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) +
                            " s and was stopped." + (partial.Trim().Length > 0 ? " Error output: " + Shorten(partial.Trim()) : ""));
                    }

                    var failure = stdout.Error ?? stderr.Error;
                    if (failure != null)
                    {
                        // Reading a pipe failed: not expected, but report it as this command's failure.
                        KillTree(process);
                        throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.NotSpecified, Path.GetFileName(executable),
                            "Reading the output of " + FormatCommandLine(executable, args) + " failed: " + failure.Message, failure);
                    }

                    clock.Stop();
                    return new ProcessResult(executable, args.AsReadOnly(), process.ExitCode, stdout.Result ?? "", stderr.Result ?? "", clock.Elapsed);
                }
            }
        }

        /// <summary>
        /// One blocking pipe operation on a dedicated thread (or inline), signalling <c>pending</c> when it ends, whatever
        /// the outcome; the result or the exception is kept for the caller.
        /// </summary>
        private sealed class PipeWork
        {
            private volatile bool _done;

            public string? Result { get; private set; }
            public Exception? Error { get; private set; }
            public bool Done => _done;

            public static PipeWork Start(CountdownEvent pending, Func<string?> work, string name, bool inline = false)
            {
                var w = new PipeWork();
                void Body()
                {
                    try { w.Result = work(); }
                    catch (Exception ex) when (ex is IOException || ex is ObjectDisposedException || ex is InvalidOperationException || ex is DecoderFallbackException)
                    {
                        w.Error = ex;
                    }
                    finally
                    {
                        w._done = true;
                        pending.Signal();
                    }
                }
                if (inline)
                {
                    Body();
                    return w;
                }
                new Thread(Body, 256 * 1024) { IsBackground = true, Name = name }.Start();
                return w;
            }
        }

        /// <summary>True when <paramref name="handle"/> is set within what is left of <paramref name="limit"/>; throws when cancelled.</summary>
        private static bool Wait(WaitHandle handle, TimeSpan limit, Stopwatch clock, CancellationToken cancellationToken)
        {
            int index = WaitHandle.WaitAny(new[] { handle, cancellationToken.WaitHandle }, Remaining(limit, clock));
            if (index == 1) cancellationToken.ThrowIfCancellationRequested();
            return index == 0;
        }

        /// <summary>
        /// The program closed both output pipes, so it is exiting (or deliberately closed them and runs on): wait for the exit
        /// within what is left of the limit, in slices so that cancellation is seen.
        /// </summary>
        private static bool WaitForExit(Process process, TimeSpan limit, Stopwatch clock, CancellationToken cancellationToken)
        {
            while (true)
            {
                int left = Remaining(limit, clock);
                int slice = left == Timeout.Infinite ? 100 : Math.Min(100, left);
                if (process.WaitForExit(slice)) return true;
                cancellationToken.ThrowIfCancellationRequested();
                if (left != Timeout.Infinite && left <= slice) return false;
            }
        }

        private static int Remaining(TimeSpan limit, Stopwatch clock)
        {
            if (limit == Timeout.InfiniteTimeSpan) return Timeout.Infinite;
            return Milliseconds(limit - clock.Elapsed < TimeSpan.Zero ? TimeSpan.Zero : limit - clock.Elapsed);
        }

        /// <summary>Runs the program and throws <see cref="EnsureSuccess"/>'s exception when it exits with a non-zero code.</summary>
        public static ProcessResult RunChecked(
            string executable,
            IEnumerable<string> arguments,
            string? target,
            string? standardInput = null,
            TimeSpan? timeout = null,
            CancellationToken cancellationToken = default)
        {
            var result = Run(executable, arguments, standardInput, timeout, null, cancellationToken);
            EnsureSuccess(result, target);
            return result;
        }

        /// <summary>
        /// Returns <paramref name="result"/> when its exit code is 0; otherwise throws VirtualNetworksException
        /// (<paramref name="errorId"/>, default BackendOperationFailed; NotSpecified) naming the command line, the exit code
        /// and the error output.
        /// </summary>
        public static ProcessResult EnsureSuccess(ProcessResult result, string? target, string? errorId = null)
        {
            if (result == null) throw new ArgumentNullException(nameof(result));
            if (result.Succeeded) return result;
            throw Failure(result, target, errorId);
        }

        /// <summary>The exception <see cref="EnsureSuccess"/> throws, for callers that decide themselves.</summary>
        public static VirtualNetworksException Failure(ProcessResult result, string? target, string? errorId = null)
        {
            if (result == null) throw new ArgumentNullException(nameof(result));
            string detail = result.StdErr.Trim();
            if (detail.Length == 0) detail = result.StdOut.Trim();
            string message = "The command " + result.CommandLine + " failed with exit code " +
                             result.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) +
                             (detail.Length > 0 ? ": " + Shorten(detail) : " and wrote no error output.");
            return new VirtualNetworksException(errorId ?? ErrorIds.BackendOperationFailed, ErrorKind.NotSpecified, target, message);
        }

        // ------------------------------------------------------------------------------------------------ PATH lookup

        /// <summary>
        /// The full path of an executable: <paramref name="name"/> itself when it contains a directory part, else the first
        /// match in PATH (on Windows also trying PATHEXT extensions). Null when not found. On Unix a file counts only when
        /// it has an execute bit (checked where the runtime can tell).
        /// </summary>
        public static string? FindExecutable(string name) =>
            FindExecutable(name, Environment.GetEnvironmentVariable("PATH"));

        internal static string? FindExecutable(string name, string? pathVariable)
        {
            if (string.IsNullOrEmpty(name) || name.IndexOf('\0') >= 0) return null;
            bool windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
            var extensions = new List<string> { "" };
            if (windows && Path.GetExtension(name).Length == 0)
            {
                string pathExt = Environment.GetEnvironmentVariable("PATHEXT") ?? ".COM;.EXE;.BAT;.CMD";
                foreach (var e in pathExt.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries)) extensions.Add(e);
            }

            bool hasDirectory = name.IndexOf('/') >= 0 || (windows && (name.IndexOf('\\') >= 0 || name.IndexOf(':') >= 0));
            if (hasDirectory)
                return FirstExisting(name, extensions);

            foreach (var dir in (pathVariable ?? "").Split(Path.PathSeparator))
            {
                string d = dir.Trim().Trim('"');
                if (d.Length == 0) continue; // an empty entry would mean the current directory: not searched, on purpose
                string? hit;
                try
                {
                    hit = FirstExisting(Path.Combine(d, name), extensions);
                }
                catch (ArgumentException)
                {
                    continue; // invalid characters in a PATH entry
                }
                if (hit != null) return hit;
            }
            return null;
        }

        private static string? FirstExisting(string basePath, List<string> extensions)
        {
            foreach (var ext in extensions)
            {
                string candidate = basePath + ext;
                if (File.Exists(candidate) && IsExecutable(candidate)) return Path.GetFullPath(candidate);
            }
            return null;
        }

        // File.GetUnixFileMode exists from .NET 7; on older runtimes every existing file counts.
        private static readonly MethodInfo? GetUnixFileMode =
            typeof(File).GetMethod("GetUnixFileMode", BindingFlags.Public | BindingFlags.Static, null, new[] { typeof(string) }, null);

        private static bool IsExecutable(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) || GetUnixFileMode == null) return true;
            try
            {
                int mode = Convert.ToInt32(GetUnixFileMode.Invoke(null, new object[] { path }), System.Globalization.CultureInfo.InvariantCulture);
                return (mode & 0x49) != 0; // UserExecute 0x40 | GroupExecute 0x08 | OtherExecute 0x01
            }
            catch (TargetInvocationException)
            {
                return false;
            }
        }

        // ------------------------------------------------------------------------------------------------ quoting

        /// <summary>
        /// Quotes one argument so that the Windows rule (used by .NET to split ProcessStartInfo.Arguments on every OS)
        /// yields it back exactly.
        /// </summary>
        /// <remarks>
        /// The splitting rule: arguments are separated by spaces or tabs outside double quotes; a double quote toggles
        /// quoting; 2n backslashes before a double quote stand for n backslashes (and the quote is syntax), 2n+1 for n
        /// backslashes and a literal quote; backslashes not before a quote are literal. Hence the quoting rule used here:
        /// an argument that is non-empty and has no space, tab, newline, vertical tab or double quote is passed as it is
        /// (its backslashes are literal because no quote follows them); any other argument is wrapped in double quotes,
        /// where each run of n backslashes is doubled (2n) when a double quote (embedded or the closing one) follows it,
        /// each embedded double quote becomes \", and other characters are copied. The empty string becomes "".
        /// </remarks>
        public static string QuoteArgument(string argument)
        {
            if (argument == null) throw new ArgumentNullException(nameof(argument));
            if (argument.Length > 0 && argument.IndexOfAny(NeedsQuotes) < 0) return argument;

            var sb = new StringBuilder(argument.Length + 2);
            sb.Append('"');
            int backslashes = 0;
            foreach (char c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }
                if (c == '"')
                {
                    sb.Append('\\', backslashes * 2 + 1).Append('"');
                }
                else
                {
                    sb.Append('\\', backslashes).Append(c);
                }
                backslashes = 0;
            }
            sb.Append('\\', backslashes * 2).Append('"');
            return sb.ToString();
        }

        private static readonly char[] NeedsQuotes = { ' ', '\t', '\n', '\v', '"' };

        /// <summary>The arguments quoted with <see cref="QuoteArgument"/> and joined with spaces.</summary>
        public static string JoinArguments(IEnumerable<string> arguments)
        {
            var sb = new StringBuilder();
            foreach (var a in arguments)
            {
                if (sb.Length > 0) sb.Append(' ');
                sb.Append(QuoteArgument(a));
            }
            return sb.ToString();
        }

        /// <summary>
        /// A command line for display: each word in POSIX single quotes when it has anything but letters, digits and
        /// <c>_@%+=:,./-</c>. Only for messages; commands are never run through a shell.
        /// </summary>
        public static string FormatCommandLine(string executable, IEnumerable<string> arguments)
        {
            var sb = new StringBuilder(ShellQuote(executable));
            foreach (var a in arguments) sb.Append(' ').Append(ShellQuote(a));
            return sb.ToString();
        }

        private static string ShellQuote(string word)
        {
            if (word.Length > 0)
            {
                bool plain = true;
                foreach (char c in word)
                {
                    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "_@%+=:,./-".IndexOf(c) >= 0) continue;
                    plain = false;
                    break;
                }
                if (plain) return word;
            }
            var sb = new StringBuilder("'");
            foreach (char c in word)
            {
                if (c == '\'') sb.Append("'\\''");
                else if (c < ' ' || c == '\x7f') sb.Append("\\x").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                else sb.Append(c);
            }
            return sb.Append('\'').ToString();
        }

        // ------------------------------------------------------------------------------------------------ helpers

        private static string? WriteInput(StreamWriter input, string? text)
        {
            try
            {
                if (!string.IsNullOrEmpty(text))
                {
                    // Bytes straight to the pipe: the writer's own encoding (console default) might add a preamble.
                    byte[] bytes = Utf8.GetBytes(text);
                    input.BaseStream.Write(bytes, 0, bytes.Length);
                    input.BaseStream.Flush();
                }
            }
            catch (IOException)
            {
                // The program exited (or closed its input) without reading everything: not our failure.
            }
            catch (ObjectDisposedException)
            {
            }
            finally
            {
                try { input.Dispose(); } catch (IOException) { }
            }
            return null;
        }

        // Process.Kill(bool entireProcessTree) exists from .NET Core 3.0.
        private static readonly MethodInfo? KillEntireTree =
            typeof(Process).GetMethod("Kill", BindingFlags.Public | BindingFlags.Instance, null, new[] { typeof(bool) }, null);

        private static void KillTree(Process process)
        {
            try
            {
                if (process.HasExited) return;
                if (KillEntireTree != null)
                {
                    KillEntireTree.Invoke(process, new object[] { true });
                    return;
                }
                if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                {
                    // .NET Framework: taskkill knows the tree.
                    using (var killer = Process.Start(new ProcessStartInfo("taskkill",
                               "/PID " + process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + " /T /F")
                           { UseShellExecute = false, CreateNoWindow = true }))
                        killer?.WaitForExit((int)KillGrace.TotalMilliseconds);
                    if (process.HasExited) return;
                }
                process.Kill();
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is Win32Exception || ex is TargetInvocationException || ex is NotSupportedException)
            {
                // Already gone, or not ours to kill any more.
            }
        }

        private static int Milliseconds(TimeSpan t) =>
            t == Timeout.InfiniteTimeSpan ? Timeout.Infinite : (int)Math.Min(int.MaxValue - 1, Math.Ceiling(t.TotalMilliseconds));

        /// <summary>Long output is cut in the middle of a message: the end of an error output usually says the most.</summary>
        private static string Shorten(string text)
        {
            const int max = 2000;
            return text.Length <= max ? text : "..." + text.Substring(text.Length - max);
        }
    }
}
