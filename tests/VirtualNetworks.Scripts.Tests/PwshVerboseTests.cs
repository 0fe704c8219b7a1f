using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// -Verbose in real pwsh with the real Linux backend (4>&amp;1, as users capture it): the backend chosen, its state
    /// directory, the image a new router resolves to (real files) and each change as it is made. New-VirtualRouter without
    /// -Start only writes a record in a fresh state directory (no QEMU, no interface), and the script removes it again.
    /// </summary>
    public sealed class PwshVerboseTests
    {
        private const string Script = @"
param([string] $Manifest, [string] $Name)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module $Manifest
try {
    $records = & { New-VirtualRouter -Name $Name -Verbose | Out-Null; Remove-VirtualRouter -Name $Name -Confirm:$false -Verbose } 4>&1
} finally {
    Get-VirtualRouter -Name $Name -ErrorAction SilentlyContinue | Remove-VirtualRouter -Confirm:$false -ErrorAction SilentlyContinue
}
foreach ($r in $records) {
    if ($r -is [System.Management.Automation.VerboseRecord]) { 'VERBOSE: ' + $r.Message } else { 'OUTPUT: ' + $r }
}
";

        /// <summary>Runs only as root on Linux with the router image built (out/images/router), like the end-to-end suites.</summary>
        public sealed class LinuxPwshFactAttribute : FactAttribute
        {
            public LinuxPwshFactAttribute()
            {
                var missing = Pwsh.MissingReason;
                if (missing != null && !Pwsh.OnCi) Skip = missing;
                else if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || Environment.UserName != "root")
                    Skip = "needs the Linux backend: run as root on Linux";
                else if (!File.Exists(Path.Combine(RepoPaths.Root, "out", "images", "router", "vmlinuz")) && !Pwsh.OnCi)
                    Skip = "the router image is not built (out/images/router; images/router/build.sh)";
            }
        }

        [LinuxPwshFact]
        public void Verbose_TellsBackendStateDirectoryImageAndEachChange_InPwsh()
        {
            string state = RepoPaths.NewTempDir();
            string name = "vnv" + Guid.NewGuid().ToString("N").Substring(0, 6);
            try
            {
                var r = Pwsh.RunScript(Script, new[] { "-Manifest", RepoPaths.StagedManifest, "-Name", name },
                    new Dictionary<string, string?> { ["VIRTUALNETWORKS_STATE_DIR"] = state });
                Assert.True(r.ExitCode == 0, r.ToString());
                var verbose = r.Stdout.Replace("\r", "").Split('\n').Where(l => l.StartsWith("VERBOSE: ", StringComparison.Ordinal))
                    .Select(l => l.Substring("VERBOSE: ".Length)).ToList();
                string all = r.ToString();
                Assert.True(verbose.Any(l => l.StartsWith("Using the Linux backend (the default of this platform) for the local machine", StringComparison.Ordinal)), all);
                Assert.True(verbose.Contains("Linux backend: state directory " + state + " (from $VIRTUALNETWORKS_STATE_DIR)."), all);
                Assert.True(verbose.Any(l => l.StartsWith("Creating virtual router '" + name + "' on ", StringComparison.Ordinal)), all);

                string prefix = "Router '" + name + "': image 'router' is the kernel ";
                var image = verbose.SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                Assert.True(image != null, all);
                var files = image!.Substring(prefix.Length).Split(" with the initrd ");
                Assert.Equal(2, files.Length);
                Assert.True(File.Exists(files[0]) && Path.GetFileName(files[0]) == "vmlinuz", image);
                Assert.True(File.Exists(files[1]) && Path.GetFileName(files[1]) == "initramfs.cpio.gz", image);

                Assert.True(verbose.Any(l => l.StartsWith("Removing virtual router '" + name + "' from ", StringComparison.Ordinal)), all);
                Assert.Empty(Directory.GetFiles(Path.Combine(state, "routers"), name + "*"));
            }
            finally
            {
                try { Directory.Delete(state, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }
}
