using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// images/router/build.sh --install --from BUILT_DIR IMAGES_DIR (no build: it copies a built image) and --uninstall,
    /// on stand-in image files in temporary folders: a root-owned 0644 version folder, the link 'router' switched to it,
    /// the previous version kept, older ones removed. Needs root (the files are made root-owned); skipped otherwise.
    /// </summary>
    public sealed class ImageInstallTests : IDisposable
    {
        /// <summary>Skipped with its reason when not root (CI runs as root).</summary>
        public sealed class RootFactAttribute : FactAttribute
        {
            public RootFactAttribute()
            {
                if (!IsRoot) Skip = "requires root: the installed image files are made root-owned (run as root; CI does).";
            }
        }

        private readonly ITestOutputHelper _output;
        private readonly string _dir = RepoPaths.NewTempDir();

        public ImageInstallTests(ITestOutputHelper output) => _output = output;

        public void Dispose()
        {
            try { Directory.Delete(_dir, true); } catch (IOException) { }
        }

        private static bool IsRoot => Environment.UserName == "root" || Environment.GetEnvironmentVariable("CI") == "true";

        private string Built(string name, string content)
        {
            string d = Path.Combine(_dir, name);
            Directory.CreateDirectory(d);
            foreach (var f in new[] { "vmlinuz", "initramfs.cpio.gz", "manifest.json" }) File.WriteAllText(Path.Combine(d, f), content + " " + f);
            return d;
        }

        private (int Exit, string Output) Run(params string[] args)
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(RepoPaths.Root, "images", "router", "build.sh"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(60_000), "build.sh " + string.Join(" ", args) + " did not finish in 60 s");
            string text = stdout.Result + stderr.Result;
            _output.WriteLine("build.sh " + string.Join(" ", args) + " -> " + p.ExitCode + "\n" + text);
            return (p.ExitCode, text);
        }

        private static string? LinkTarget(string path) => new FileInfo(path).LinkTarget;

        [RootFact]
        public void Install_switches_a_link_to_a_root_owned_copy_keeps_the_previous_and_uninstall_removes_it()
        {
            string images = Path.Combine(_dir, "images");
            string v1 = Built("v1", "one"), v2 = Built("v2", "two"), v3 = Built("v3", "three");

            Assert.Equal(0, Run("--install", "--from", v1, images).Exit);
            string router = Path.Combine(images, "router");
            string? first = LinkTarget(router);
            Assert.NotNull(first);
            Assert.Matches("^\\.router-[0-9a-f]{16}$", first);
            foreach (var f in new[] { "vmlinuz", "initramfs.cpio.gz", "manifest.json" })
            {
                string installed = Path.Combine(images, first!, f);
                Assert.Equal("one " + f, File.ReadAllText(Path.Combine(router, f)));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(installed));
            }
            Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Path.Combine(images, first!)) & (UnixFileMode)0x1FF); // 0755

            // The same image again changes nothing.
            Assert.Equal(0, Run("--install", "--from", v1, images).Exit);
            Assert.Equal(first, LinkTarget(router));

            Assert.Equal(0, Run("--install", "--from", v2, images).Exit);
            string? second = LinkTarget(router);
            Assert.NotEqual(first, second);
            Assert.Equal("two vmlinuz", File.ReadAllText(Path.Combine(router, "vmlinuz")));
            Assert.True(Directory.Exists(Path.Combine(images, first!)), "the previous version is kept");

            Assert.Equal(0, Run("--install", "--from", v3, images).Exit);
            Assert.Equal("three vmlinuz", File.ReadAllText(Path.Combine(router, "vmlinuz")));
            Assert.False(Directory.Exists(Path.Combine(images, first!)), "versions older than the previous one are removed");
            Assert.True(Directory.Exists(Path.Combine(images, second!)));
            Assert.Equal(new[] { ".router-", ".router-", "router" },
                Directory.EnumerateFileSystemEntries(images).Select(Path.GetFileName).Select(n => n!.StartsWith(".router-", StringComparison.Ordinal) ? ".router-" : n).OrderBy(n => n, StringComparer.Ordinal));

            // An incomplete image is refused and the installed one stays.
            File.Delete(Path.Combine(v1, "initramfs.cpio.gz"));
            var refused = Run("--install", "--from", v1, images);
            Assert.NotEqual(0, refused.Exit);
            Assert.Contains("initramfs.cpio.gz is missing", refused.Output);
            Assert.Equal("three vmlinuz", File.ReadAllText(Path.Combine(router, "vmlinuz")));

            Assert.Equal(0, Run("--uninstall", images).Exit);
            Assert.False(Directory.Exists(images), "an emptied images folder is removed");
        }

        [Fact]
        public void An_unknown_option_is_refused_and_help_documents_install()
        {
            var bad = Run("--frobnicate");
            Assert.Equal(2, bad.Exit);
            Assert.Contains("unknown option --frobnicate", bad.Output);
            var help = Run("--help");
            Assert.Equal(0, help.Exit);
            Assert.Contains("--install [--from BUILT_DIR] [IMAGES_DIR]", help.Output);
            Assert.Contains("/var/lib/virtualnetworks/images", help.Output);
        }
    }
}
