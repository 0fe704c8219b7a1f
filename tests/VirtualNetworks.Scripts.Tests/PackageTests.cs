using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// tools/Publish-Package.ps1 in the pinned pwsh (out/tools/pwsh) on the staged module, into a temporary repository and
    /// with a temporary HOME (PSResourceGet's repository list lives there: the user's is not touched): the .nupkg exists,
    /// holds the module's files and LICENSE, and its .nuspec carries what the PowerShell Gallery shows (license and project
    /// addresses, tags, release notes, authors, copyright). Needs `./build.sh build` first (the staged module and the
    /// restored pwsh); skipped with that reason otherwise.
    /// </summary>
    public sealed class PackageTests : IDisposable
    {
        public sealed class StagedFactAttribute : FactAttribute
        {
            public StagedFactAttribute()
            {
                if (!File.Exists(RepoPaths.StagedManifest) || !File.Exists(Pwsh.Path))
                    Skip = "needs the staged module and out/tools/pwsh: run ./build.sh build first.";
            }
        }


        private readonly ITestOutputHelper _output;
        private readonly string _dir = RepoPaths.NewTempDir();

        public PackageTests(ITestOutputHelper output) => _output = output;

        public void Dispose()
        {
            try { Directory.Delete(_dir, true); } catch (IOException) { }
        }

        private (int Exit, string Output) Publish(string repository, string home)
        {
            var psi = new ProcessStartInfo(Pwsh.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir };
            foreach (var a in new[] { "-NoProfile", "-NonInteractive", "-File", Path.Combine(RepoPaths.Root, "tools", "Publish-Package.ps1"),
                         "-ModulePath", RepoPaths.StagedModuleDir, "-RepositoryPath", repository })
                psi.ArgumentList.Add(a);
            psi.Environment["HOME"] = home;
            psi.Environment["XDG_DATA_HOME"] = Path.Combine(home, ".local", "share");
            psi.Environment["XDG_CONFIG_HOME"] = Path.Combine(home, ".config");
            psi.Environment["XDG_CACHE_HOME"] = Path.Combine(home, ".cache");
            psi.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["NO_COLOR"] = "1";
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(180_000), "Publish-Package.ps1 did not finish in 180 s");
            string text = stdout.Result + stderr.Result;
            _output.WriteLine("exit " + p.ExitCode + "\n" + text);
            return (p.ExitCode, text);
        }

        [StagedFact]
        public void Publish_writes_a_package_with_the_module_LICENSE_and_the_Gallery_metadata_and_can_run_again()
        {
            string home = Path.Combine(_dir, "home");
            // No .config: NuGet then writes NuGet/NuGet.Config under the current folder, which the script points into out/.
            foreach (var d in new[] { ".cache", ".local/share" }) Directory.CreateDirectory(Path.Combine(home, d));
            string repository = Path.Combine(_dir, "repository");
            string version = ManifestTests.VersionPrefix();

            var first = Publish(repository, home);
            Assert.True(first.Exit == 0, first.Output);
            string package = Path.Combine(repository, "VirtualNetworks." + version + ".nupkg");
            Assert.True(File.Exists(package), package + " was not written");
            // The registration is in the temporary HOME, pointing at the repository.
            string registry = File.ReadAllText(Path.Combine(home, ".local", "share", "PSResourceGet", "PSResourceRepository.xml"));
            Assert.Contains("VirtualNetworksLocal", registry);
            Assert.Contains(new Uri(repository).AbsoluteUri, registry);
            Assert.False(Directory.Exists(Path.Combine(_dir, "NuGet")), "NuGet wrote its configuration into the working folder");

            using (var zip = ZipFile.OpenRead(package))
            {
                var names = zip.Entries.Select(e => e.FullName).ToList();
                var staged = Directory.GetFiles(RepoPaths.StagedModuleDir, "*", SearchOption.AllDirectories)
                    .Select(f => Path.GetRelativePath(RepoPaths.StagedModuleDir, f).Replace('\\', '/'));
                foreach (var f in staged) Assert.Contains(f, names);
                Assert.Contains("LICENSE", names);
                using var nuspec = zip.Entries.Single(e => e.FullName == "VirtualNetworks.nuspec").Open();
                var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
                string Meta(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
                Assert.Equal("VirtualNetworks", Meta("id"));
                Assert.Equal(version, Meta("version"));
                Assert.Equal("VirtualNetworks contributors", Meta("authors"));
                Assert.Contains("2026", Meta("copyright"));
                Assert.EndsWith("/LICENSE", Meta("licenseUrl"));
                Assert.StartsWith("https://", Meta("projectUrl"));
                Assert.Equal(ManifestTests.ExpectedReleaseNotes(version).Trim(), Meta("releaseNotes"));
                var tags = Meta("tags").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                foreach (var tag in ManifestTests.RequiredTags) Assert.Contains(tag, tags);
            }

            // Again: the same version replaces the package; the registration is kept.
            var second = Publish(repository, home);
            Assert.True(second.Exit == 0, second.Output);
            Assert.Single(Directory.GetFiles(repository, "*.nupkg"));
        }
    }
}
