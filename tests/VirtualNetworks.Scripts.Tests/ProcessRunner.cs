using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;

namespace VirtualNetworks.Scripts.Tests
{
    internal sealed class ProcessResult
    {
        public int ExitCode;
        public string Stdout = string.Empty;
        public string Stderr = string.Empty;
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>Runs `dotnet &lt;dll&gt; args` with stdin closed (like CI) and captures both streams.</summary>
    internal static class ProcessRunner
    {
        public static ProcessResult RunDll(string dll, IEnumerable<string> args, IDictionary<string, string?>? env = null, string? workingDirectory = null, int timeoutMs = 120_000)
        {
            var psi = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
            };
            psi.ArgumentList.Add(dll);
            foreach (string a in args) psi.ArgumentList.Add(a);
            psi.Environment["NO_COLOR"] = "1";
            psi.Environment.Remove("VIRTUALNETWORKS_MODULE");
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
                throw new TimeoutException($"dotnet {dll} {string.Join(" ", psi.ArgumentList)} did not finish in {timeoutMs} ms");
            }
            p.WaitForExit();
            return new ProcessResult { ExitCode = p.ExitCode, Stdout = stdout.Result, Stderr = stderr.Result };
        }
    }
}
