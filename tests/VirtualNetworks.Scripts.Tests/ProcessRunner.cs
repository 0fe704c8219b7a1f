using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace VirtualNetworks.Scripts.Tests
{
    internal sealed class ProcessResult
    {
        public int ExitCode;
        public string Stdout = string.Empty;
        public string Stderr = string.Empty;
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>Runs a program (no shell) with stdin closed (like CI) and captures both streams.</summary>
    internal static class ProcessRunner
    {
        /// <summary>`dotnet &lt;dll&gt; args`, without the caller's VIRTUALNETWORKS_MODULE unless <paramref name="env"/> sets it.</summary>
        public static ProcessResult RunDll(string dll, IEnumerable<string> args, IDictionary<string, string?>? env = null, string? workingDirectory = null, int timeoutMs = 120_000)
        {
            var all = new Dictionary<string, string?> { ["VIRTUALNETWORKS_MODULE"] = null };
            if (env != null) foreach (var kv in env) all[kv.Key] = kv.Value;
            return Run("dotnet", new[] { dll }.Concat(args), all, workingDirectory, timeoutMs);
        }

        /// <summary>
        /// <paramref name="program"/> with <paramref name="args"/> (each one argv entry), NO_COLOR=1, and <paramref name="env"/>
        /// applied on top of this process's environment (a null value removes the variable).
        /// </summary>
        public static ProcessResult Run(string program, IEnumerable<string> args, IDictionary<string, string?>? env = null, string? workingDirectory = null, int timeoutMs = 120_000)
        {
            var psi = new ProcessStartInfo(program)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
            };
            foreach (string a in args) psi.ArgumentList.Add(a);
            psi.Environment["NO_COLOR"] = "1";
            if (env != null)
                foreach (var kv in env)
                {
                    if (kv.Value == null) psi.Environment.Remove(kv.Key);
                    else psi.Environment[kv.Key] = kv.Value;
                }
            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} {string.Join(" ", psi.ArgumentList)} did not finish in {timeoutMs} ms");
            }
            p.WaitForExit();
            return new ProcessResult { ExitCode = p.ExitCode, Stdout = stdout.Result, Stderr = stderr.Result };
        }
    }
}
