using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// The real pwsh the build restores: $VIRTUALNETWORKS_PWSH when set, else &lt;repo&gt;/out/tools/pwsh (the launcher
    /// ./build.sh build writes). Scripts run as a child process with -NoProfile -NonInteractive, stdin closed, like CI.
    /// </summary>
    internal static class Pwsh
    {
        public const string Variable = "VIRTUALNETWORKS_PWSH";

        public static string Path
        {
            get
            {
                var fromEnvironment = Environment.GetEnvironmentVariable(Variable);
                return string.IsNullOrEmpty(fromEnvironment) ? System.IO.Path.Combine(RepoPaths.Root, "out", "tools", "pwsh") : fromEnvironment!;
            }
        }

        /// <summary>Why pwsh tests cannot run here, or null when they can.</summary>
        public static string? MissingReason
        {
            get
            {
                if (!File.Exists(Path)) return $"pwsh is not restored ({Path} does not exist; ./build.sh build restores it, or set {Variable})";
                if (!File.Exists(RepoPaths.StagedManifest)) return $"the module is not staged ({RepoPaths.StagedManifest}; run ./build.sh build)";
                return null;
            }
        }

        /// <summary>True on CI (CI=true), where a missing pwsh is a failure, not a skip.</summary>
        public static bool OnCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

        /// <summary>Runs <paramref name="script"/> (written to a temporary .ps1 file) in pwsh; fails the test when pwsh is missing.</summary>
        public static ProcessResult RunScript(string script, IEnumerable<string>? args = null, IDictionary<string, string?>? env = null, int timeoutMs = 180_000)
        {
            var missing = MissingReason;
            if (missing != null) throw new InvalidOperationException("Cannot run pwsh: " + missing + ".");
            string dir = RepoPaths.NewTempDir();
            try
            {
                string file = System.IO.Path.Combine(dir, "script.ps1");
                File.WriteAllText(file, script);
                var psi = new ProcessStartInfo(Path)
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                    WorkingDirectory = dir,
                };
                foreach (var a in new[] { "-NoProfile", "-NonInteractive", "-File", file }) psi.ArgumentList.Add(a);
                foreach (var a in args ?? Array.Empty<string>()) psi.ArgumentList.Add(a);
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
                    throw new TimeoutException($"pwsh {file} did not finish in {timeoutMs} ms");
                }
                p.WaitForExit();
                return new ProcessResult { ExitCode = p.ExitCode, Stdout = stdout.Result, Stderr = stderr.Result };
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>A test that runs real pwsh: skipped with the reason when pwsh is not restored, except on CI (CI=true), where it runs and fails.</summary>
    public sealed class PwshFactAttribute : FactAttribute
    {
        public PwshFactAttribute()
        {
            var missing = Pwsh.MissingReason;
            if (missing != null && !Pwsh.OnCi) Skip = missing;
        }
    }
}
