using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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

        /// <summary>The pwsh launcher; fails the test clearly when pwsh or the staged module is missing.</summary>
        public static string Require()
        {
            var missing = MissingReason;
            if (missing != null) throw new InvalidOperationException("Cannot run pwsh: " + missing + ".");
            return Path;
        }

        /// <summary>Runs a .ps1 file in pwsh (-NoProfile -NonInteractive -File), without the caller's VIRTUALNETWORKS_MODULE.</summary>
        public static ProcessResult RunFile(string file, IEnumerable<string>? args = null, IDictionary<string, string?>? env = null, string? workingDirectory = null, int timeoutMs = 180_000)
        {
            var all = new Dictionary<string, string?> { ["VIRTUALNETWORKS_MODULE"] = null };
            if (env != null) foreach (var kv in env) all[kv.Key] = kv.Value;
            return ProcessRunner.Run(Require(), new[] { "-NoProfile", "-NonInteractive", "-File", file }.Concat(args ?? Array.Empty<string>()),
                all, workingDirectory, timeoutMs);
        }

        /// <summary>Runs <paramref name="script"/> (written to a temporary .ps1 file) in pwsh; fails the test when pwsh is missing.</summary>
        public static ProcessResult RunScript(string script, IEnumerable<string>? args = null, IDictionary<string, string?>? env = null, int timeoutMs = 180_000)
        {
            Require();
            string dir = RepoPaths.NewTempDir();
            try
            {
                string file = System.IO.Path.Combine(dir, "script.ps1");
                File.WriteAllText(file, script);
                return RunFile(file, args, env, dir, timeoutMs);
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }

        /// <summary>pwsh -Command: imports <paramref name="module"/> (a manifest; null: none), then runs <paramref name="command"/>.</summary>
        public static ProcessResult RunCommand(string? module, string command, int timeoutMs = 120_000) =>
            ProcessRunner.Run(Require(), new[]
            {
                "-NoProfile", "-NonInteractive", "-Command",
                (module == null ? "" : "Import-Module -Name '" + module.Replace("'", "''") + "' -ErrorAction Stop" + Environment.NewLine) + command,
            }, new Dictionary<string, string?> { ["VIRTUALNETWORKS_MODULE"] = null }, null, timeoutMs);
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
