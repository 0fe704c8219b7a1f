using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Util;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// A fact that needs root (real QEMU routers, taps, the image build). Not root and CI is not "true": skipped with the
    /// reason "requires root". Not root on CI: runs and fails, so a CI without privileges cannot pass silently.
    /// </summary>
    public sealed class VmRootFactAttribute : FactAttribute
    {
        public VmRootFactAttribute()
        {
            if (!VmTestHost.IsRoot && !VmTestHost.IsCi) Skip = "requires root";
        }
    }

    /// <summary>Real-VM tests run one at a time (2 cores; boot times are measured).</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class VmRealCollection
    {
        public const string Name = "Vm real QEMU routers";
    }

    internal static class VmTestHost
    {
        public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

        public static bool IsRoot => Environment.UserName == "root" || GetEuid() == 0;

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
        private static extern uint GetEuid();

        public static void RequireRoot()
        {
            if (IsRoot) return;
            Assert.Fail("This test needs root and CI=true is set, so it is not skipped: run the test suite as root.");
        }

        public static string Hex(int digits)
        {
            var b = new byte[(digits + 1) / 2];
            RandomNumberGenerator.Fill(b);
            return Convert.ToHexString(b).ToLowerInvariant().Substring(0, digits);
        }

        /// <summary>The repository root (the directory holding VirtualNetworks.sln).</summary>
        public static string RepoRoot
        {
            get
            {
                var d = new DirectoryInfo(AppContext.BaseDirectory);
                while (d != null && !File.Exists(Path.Combine(d.FullName, "VirtualNetworks.sln"))) d = d.Parent;
                return d?.FullName ?? throw new InvalidOperationException("VirtualNetworks.sln not found above " + AppContext.BaseDirectory);
            }
        }

        /// <summary>A fresh state root under /tmp with a short path (Unix socket paths are limited to 107 bytes).</summary>
        public static string NewStateRoot() => Path.Combine("/tmp", "vnst-" + Hex(8));

        public static void DeleteTree(string path)
        {
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        public static ProcessResult Run(string program, params string[] args)
        {
            string exe = ProcessRunner.FindExecutable(program) ?? "/usr/sbin/" + program;
            return ProcessRunner.Run(exe, args, null, TimeSpan.FromSeconds(30));
        }

        /// <summary>Every live process whose command line mentions <paramref name="text"/> (pid, command line).</summary>
        public static List<(int Pid, string CommandLine)> ProcessesMentioning(string text)
        {
            var found = new List<(int, string)>();
            int self = Environment.ProcessId;
            foreach (var dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == self) continue;
                string cmd;
                try
                {
                    cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                }
                catch (IOException)
                {
                    continue;
                }
                catch (UnauthorizedAccessException)
                {
                    continue;
                }
                if (cmd.Contains(text, StringComparison.Ordinal)) found.Add((pid, cmd));
            }
            return found;
        }
    }

    /// <summary>
    /// The router image under out/images/router, built with images/router/build.sh when missing (it installs what it needs
    /// with apt). Shared by the real-VM tests of one run.
    /// </summary>
    public sealed class VmImageFixture
    {
        private readonly object _sync = new object();
        private string? _error;
        private bool _done;

        public string ImageDirectory => Path.Combine(VmTestHost.RepoRoot, "out", "images", "router");
        public string Kernel => Path.Combine(ImageDirectory, "vmlinuz");
        public string Initrd => Path.Combine(ImageDirectory, "initramfs.cpio.gz");
        public string BuildLog { get; private set; } = "";

        public void EnsureBuilt()
        {
            lock (_sync)
            {
                if (!_done)
                {
                    _done = true;
                    if (!File.Exists(Kernel) || !File.Exists(Initrd))
                    {
                        var script = Path.Combine(VmTestHost.RepoRoot, "images", "router", "build.sh");
                        var r = ProcessRunner.Run("/bin/bash", new[] { script, ImageDirectory }, null, TimeSpan.FromMinutes(20));
                        BuildLog = r.StdErr;
                        if (!r.Succeeded) _error = "images/router/build.sh failed (" + r.ExitCode + "): " + r.StdErr;
                        else if (!File.Exists(Kernel) || !File.Exists(Initrd)) _error = "images/router/build.sh did not produce " + Kernel + " and " + Initrd;
                    }
                }
                if (_error != null) Assert.Fail(_error);
            }
        }
    }
}
