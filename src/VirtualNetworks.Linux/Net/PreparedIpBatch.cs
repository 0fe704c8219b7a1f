using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using VirtualNetworks.Util;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>
    /// An <c>ip [-netns NS] -force -batch -</c> process started ahead of a time-critical moment and blocked on its standard
    /// input; <see cref="Run"/> writes the prepared commands and closes the input, so they take effect within a fraction of a
    /// millisecond instead of after a process start (several milliseconds, more under load). Used for the switch-over of a
    /// live migration, while the guest is stopped (docs/migration.md).
    /// <para>No shell is involved: the program gets an argument list, and <c>ip</c>'s batch reader splits each line at
    /// blanks. Every word of every command is therefore checked to be a plain token (letters, digits, <c>._:-</c>): interface
    /// names are ours and validated, the verbs are fixed.</para>
    /// </summary>
    internal sealed class PreparedIpBatch : IDisposable
    {
        private static readonly Regex Word = new Regex("^[A-Za-z0-9._:-]{1,64}$", RegexOptions.CultureInvariant);

        private readonly Process _process;
        private readonly string _commandLine;
        private readonly Task<string> _stderr;
        private readonly Task<string> _stdout;
        private bool _ran;
        private bool _failedToSend;

        public string? NetworkNamespace { get; }
        public IReadOnlyList<string> Commands { get; }

        private PreparedIpBatch(Process process, string commandLine, string? ns, IReadOnlyList<string> commands)
        {
            _process = process;
            _commandLine = commandLine;
            NetworkNamespace = ns;
            Commands = commands;
            _stdout = process.StandardOutput.ReadToEndAsync();
            _stderr = process.StandardError.ReadToEndAsync();
        }

        /// <summary>
        /// Starts the process for <paramref name="commands"/> (each a list of words, e.g. <c>link set dev X up</c>) in
        /// <paramref name="networkNamespace"/> (null = this one). Nothing runs until <see cref="Run"/>.
        /// </summary>
        /// <exception cref="ArgumentException">A word is not a plain token.</exception>
        public static PreparedIpBatch Start(string? networkNamespace, IEnumerable<IReadOnlyList<string>> commands)
        {
            if (networkNamespace != null) InterfaceNames.EnsureValidNamespaceName(networkNamespace);
            var lines = new List<string>();
            foreach (var c in commands)
            {
                if (c.Count == 0) throw new ArgumentException("An empty command was given.", nameof(commands));
                foreach (var w in c)
                    if (w == null || !Word.IsMatch(w))
                        throw new ArgumentException("'" + w + "' cannot be part of a prepared ip command (letters, digits and ._:- only).", nameof(commands));
                lines.Add(string.Join(" ", c));
            }
            var args = new List<string>();
            if (networkNamespace != null) { args.Add("-netns"); args.Add(networkNamespace); }
            args.AddRange(new[] { "-force", "-batch", "-" });
            string exe = NetTools.Require("ip");
            var psi = new ProcessStartInfo(exe, ProcessRunner.JoinArguments(args))
            {
                UseShellExecute = false,
                CreateNoWindow = true,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
                StandardErrorEncoding = Encoding.UTF8,
            };
            var p = new Process { StartInfo = psi };
            try
            {
                p.Start();
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception || ex is System.IO.IOException)
            {
                p.Dispose();
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.NotInstalled, "ip",
                    "Cannot run " + ProcessRunner.FormatCommandLine(exe, args) + ": " + ex.Message, ex);
            }
            return new PreparedIpBatch(p, ProcessRunner.FormatCommandLine(exe, args), networkNamespace, lines);
        }

        /// <summary>
        /// Runs the prepared commands (once) and waits up to <paramref name="timeout"/> for them. Returns null when all
        /// succeeded, otherwise what went wrong (<c>-force</c>: a failed command does not stop the ones after it).
        /// </summary>
        public string? Run(TimeSpan timeout) => Send() ?? Wait(timeout);

        /// <summary>
        /// Hands the prepared commands over (once) without waiting for them: several batches (one per host) then run at the
        /// same time; <see cref="Wait"/> collects each. Returns an error text when they could not be handed over.
        /// </summary>
        public string? Send()
        {
            if (_ran) throw new InvalidOperationException("The prepared batch ran already.");
            _ran = true;
            try
            {
                var input = _process.StandardInput;
                foreach (var l in Commands) input.Write(l + "\n");
                input.Close();
                return null;
            }
            catch (Exception ex) when (ex is System.IO.IOException || ex is ObjectDisposedException)
            {
                _failedToSend = true;
                return _commandLine + ": writing its commands failed: " + ex.Message + Tail();
            }
        }

        /// <summary>After <see cref="Send"/>: waits up to <paramref name="timeout"/>; null when every command succeeded.</summary>
        public string? Wait(TimeSpan timeout)
        {
            if (!_ran) throw new InvalidOperationException("The prepared batch was not sent.");
            if (_failedToSend) return _commandLine + ": its commands were not handed over.";
            if (!_process.WaitForExit((int)Math.Min(int.MaxValue, Math.Max(0, timeout.TotalMilliseconds))))
            {
                Kill();
                return _commandLine + " did not finish within " + timeout.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms and was stopped.";
            }
            _process.WaitForExit(); // output pipes drained
            return _process.ExitCode == 0 ? null : _commandLine + " exited with " + _process.ExitCode.ToString(CultureInfo.InvariantCulture) + Tail();
        }

        private string Tail()
        {
            try
            {
                string e = _stderr.Wait(200) ? _stderr.Result.Trim() : "";
                return e.Length == 0 ? "" : ": " + e;
            }
            catch (AggregateException)
            {
                return "";
            }
        }

        private void Kill()
        {
            try
            {
                if (!_process.HasExited) _process.Kill();
                _process.WaitForExit(2000);
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is System.ComponentModel.Win32Exception)
            {
                // gone already
            }
        }

        /// <summary>Ends the process without running anything when <see cref="Run"/> was not called.</summary>
        public void Dispose()
        {
            if (!_ran)
            {
                _ran = true;
                Kill();
            }
            GC.KeepAlive(_stdout);
            _process.Dispose();
        }
    }
}
