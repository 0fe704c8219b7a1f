using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>The module manifests are plain data with explicit export lists (CONVENTIONS 14).</summary>
    public sealed class ManifestTests
    {
        private readonly ITestOutputHelper _output;

        public ManifestTests(ITestOutputHelper output) => _output = output;

        private static readonly string[] ExportKeys = { "CmdletsToExport", "FunctionsToExport", "AliasesToExport", "VariablesToExport" };

        internal static void AssertExplicitManifest(string path, Hashtable m)
        {
            string name = Path.GetRelativePath(RepoPaths.Root, path);
            Assert.True(string.Equals("VirtualNetworks.dll", m["RootModule"] as string, StringComparison.Ordinal), $"{name}: RootModule must be 'VirtualNetworks.dll'.");
            Assert.True(Version.TryParse(m["ModuleVersion"] as string, out _), $"{name}: ModuleVersion '{m["ModuleVersion"]}' is not a version.");
            Assert.True(Guid.TryParse(m["GUID"] as string, out _), $"{name}: GUID is missing or malformed.");
            foreach (string key in new[] { "Author", "CompanyName", "Copyright", "Description" })
                Assert.False(string.IsNullOrWhiteSpace(m[key] as string), $"{name}: {key} is empty.");
            Assert.Equal(new[] { "Core", "Desktop" }, ManifestData.Strings(m, "CompatiblePSEditions")!.OrderBy(x => x, StringComparer.Ordinal));
            Assert.Equal("5.1", m["PowerShellVersion"] as string);
            Assert.Equal(new[] { "VirtualNetworks.format.ps1xml" }, ManifestData.Strings(m, "FormatsToProcess"));

            foreach (string key in ExportKeys)
            {
                List<string>? values = ManifestData.Strings(m, key);
                Assert.True(values != null, $"{name}: {key} is missing; an absent list means '*' (export everything).");
                Assert.True(values!.All(v => v.IndexOfAny(new[] { '*', '?', '[' }) < 0), $"{name}: {key} has a wildcard: {string.Join(", ", values!)}");
            }
            Assert.True(ManifestData.Strings(m, "FunctionsToExport")!.Count == 0, $"{name}: FunctionsToExport must be @().");
            Assert.True(ManifestData.Strings(m, "AliasesToExport")!.Count == 0, $"{name}: AliasesToExport must be @().");
            Assert.True(ManifestData.Strings(m, "VariablesToExport")!.Count == 0, $"{name}: VariablesToExport must be @().");
            List<string> cmdlets = ManifestData.Strings(m, "CmdletsToExport")!;
            Assert.NotEmpty(cmdlets);
            Assert.True(cmdlets.Distinct(StringComparer.OrdinalIgnoreCase).Count() == cmdlets.Count, $"{name}: CmdletsToExport lists a name twice.");

            var psData = (m["PrivateData"] as Hashtable)?["PSData"] as Hashtable;
            Assert.True(psData != null, $"{name}: PrivateData.PSData is missing.");
            AssertGalleryMetadata(name, m, psData!);
        }

        /// <summary>Tags the PowerShell Gallery filters on (issue 12): editions, platforms, Hyper-V.</summary>
        internal static readonly string[] RequiredTags = { "PSEdition_Core", "PSEdition_Desktop", "Windows", "Linux", "Hyper-V" };

        /// <summary>What the Gallery shows and checks: license, project, tags, copyright, .NET Framework for Windows PowerShell.</summary>
        internal static void AssertGalleryMetadata(string name, Hashtable m, Hashtable psData)
        {
            List<string> tags = ManifestData.Strings(psData, "Tags") ?? new List<string>();
            foreach (string tag in RequiredTags)
                Assert.True(tags.Contains(tag, StringComparer.Ordinal), $"{name}: Tags lacks '{tag}': {string.Join(", ", tags)}");
            // The package's tag list is space-separated: a tag with a space (or a comma) would become several tags.
            Assert.True(tags.All(t => t.Length > 0 && !t.Any(c => char.IsWhiteSpace(c) || c == ',')),
                $"{name}: a tag is empty or holds a space or comma: {string.Join(" | ", tags)}");
            Assert.True(tags.Distinct(StringComparer.OrdinalIgnoreCase).Count() == tags.Count, $"{name}: a tag is listed twice.");
            foreach (string key in new[] { "ProjectUri", "LicenseUri" })
            {
                string? uri = psData[key] as string;
                Assert.True(Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed) && parsed!.Scheme == Uri.UriSchemeHttps,
                    $"{name}: PrivateData.PSData.{key} '{uri}' is not an absolute https address.");
            }
            Assert.StartsWith((string)psData["ProjectUri"]!, (string)psData["LicenseUri"]!);
            Assert.EndsWith("/LICENSE", (string)psData["LicenseUri"]!);
            Assert.False(string.IsNullOrWhiteSpace(psData["ReleaseNotes"] as string), $"{name}: PrivateData.PSData.ReleaseNotes is empty.");
            Assert.Contains("2026", (string)m["Copyright"]!);
            Assert.Contains("VirtualNetworks contributors", (string)m["Copyright"]!);
            Assert.Contains("MIT", (string)m["Copyright"]!);
            // netstandard2.0 assemblies need .NET Framework 4.7.2 under Windows PowerShell 5.1.
            Assert.Equal("4.7.2", m["DotNetFrameworkVersion"] as string);
        }

        /// <summary>The line the build replaces with the CHANGELOG section (build.sh stamp_release_notes, build.ps1).</summary>
        internal const string ReleaseNotesPlaceholder = "Stamped at staging from CHANGELOG.md.";

        /// <summary>
        /// The release notes the build stamps: the lines of CHANGELOG.md under "## [version]", else under "## [Unreleased]",
        /// up to the next "## " heading, without the blank lines around them, joined with "\n".
        /// </summary>
        internal static string ExpectedReleaseNotes(string version)
        {
            string[] lines = File.ReadAllText(Path.Combine(RepoPaths.Root, "CHANGELOG.md")).Replace("\r\n", "\n").Split('\n');
            foreach (string heading in new[] { "## [" + version + "]", "## [Unreleased]" })
            {
                int start = Array.FindIndex(lines, l => l.StartsWith(heading, StringComparison.Ordinal));
                if (start < 0) continue;
                var section = lines.Skip(start + 1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)).ToList();
                while (section.Count > 0 && string.IsNullOrWhiteSpace(section[0])) section.RemoveAt(0);
                while (section.Count > 0 && string.IsNullOrWhiteSpace(section[^1])) section.RemoveAt(section.Count - 1);
                if (section.Count > 0) return string.Join("\n", section);
            }
            throw new InvalidDataException("CHANGELOG.md has neither a section for " + version + " nor [Unreleased].");
        }

        [Fact]
        public void SourceManifestIsExplicitDataWithPlaceholderVersion()
        {
            Hashtable m = ManifestData.Read(RepoPaths.SourceManifest);
            AssertExplicitManifest(RepoPaths.SourceManifest, m);
            Assert.True("0.0.0" == m["ModuleVersion"] as string,
                "the source manifest keeps ModuleVersion '0.0.0'; the real version lives in Directory.Build.props and is stamped in at staging.");
        }

        [Fact]
        public void SourceManifestHoldsTheReleaseNotesPlaceholder()
        {
            Hashtable m = ManifestData.Read(RepoPaths.SourceManifest);
            var psData = (Hashtable)((Hashtable)m["PrivateData"]!)["PSData"]!;
            Assert.Equal(ReleaseNotesPlaceholder, psData["ReleaseNotes"] as string);
            Assert.Contains("### ", ExpectedReleaseNotes(VersionPrefix()));
        }

        [Fact]
        public void LicenseIsMitAtTheRootAndStagedWithTheModule()
        {
            string license = Path.Combine(RepoPaths.Root, "LICENSE");
            Assert.True(File.Exists(license), "LICENSE is missing at the repository root.");
            string text = File.ReadAllText(license);
            Assert.StartsWith("MIT License", text);
            Assert.Contains("Copyright (c) 2026 VirtualNetworks contributors", text);
            Assert.Contains("THE SOFTWARE IS PROVIDED \"AS IS\"", text);
            var expected = File.ReadAllLines(Path.Combine(RepoPaths.Root, "tools", "expected-files.txt")).Select(l => l.Trim());
            Assert.Contains("LICENSE", expected);
            string staged = Path.Combine(RepoPaths.StagedModuleDir, "LICENSE");
            if (!File.Exists(RepoPaths.StagedManifest))
            {
                _output.WriteLine($"SKIPPED (staged part): {RepoPaths.StagedManifest} does not exist (run ./build.sh build to stage the module).");
                return;
            }
            Assert.True(File.Exists(staged), staged + " is missing: the build stages LICENSE with the module.");
            Assert.Equal(text, File.ReadAllText(staged));
        }

        [Fact]
        public void StagedManifestCarriesTheChangelogSectionAsReleaseNotesAndPassesTestModuleManifest()
        {
            if (!File.Exists(RepoPaths.StagedManifest))
            {
                _output.WriteLine($"SKIPPED: {RepoPaths.StagedManifest} does not exist (run ./build.sh build to stage the module).");
                return;
            }
            Hashtable staged = ManifestData.Read(RepoPaths.StagedManifest);
            var psData = (Hashtable)((Hashtable)staged["PrivateData"]!)["PSData"]!;
            Assert.Equal(ExpectedReleaseNotes(VersionPrefix()), psData["ReleaseNotes"] as string);

            // What Publish-PSResource runs first: Test-ModuleManifest (files exist, versions parse, URIs are URIs).
            using var ps = PowerShell.Create(System.Management.Automation.Runspaces.InitialSessionState.CreateDefault2());
            ps.AddCommand("Test-ModuleManifest").AddParameter("Path", RepoPaths.StagedManifest);
            var info = ps.Invoke<PSModuleInfo>();
            Assert.True(ps.Streams.Error.Count == 0, "Test-ModuleManifest: " + string.Join("; ", ps.Streams.Error.Select(e => e.ToString())));
            var module = Assert.Single(info);
            Assert.Equal(VersionPrefix(), module.Version.ToString(3));
            Assert.Equal(new Version(4, 7, 2), module.DotNetFrameworkVersion);
            Assert.Equal(ExpectedReleaseNotes(VersionPrefix()), module.ReleaseNotes);
            Assert.Equal((string)psData["LicenseUri"]!, module.LicenseUri?.ToString());
            Assert.Equal((string)psData["ProjectUri"]!, module.ProjectUri?.ToString());
            foreach (string tag in RequiredTags) Assert.Contains(tag, module.Tags);
        }

        [Fact]
        public void StagedManifestIsTheSourceWithTheVersionStamped()
        {
            if (!File.Exists(RepoPaths.StagedManifest))
            {
                _output.WriteLine($"SKIPPED: {RepoPaths.StagedManifest} does not exist (run ./build.sh build to stage the module).");
                return;
            }
            Hashtable staged = ManifestData.Read(RepoPaths.StagedManifest);
            Hashtable source = ManifestData.Read(RepoPaths.SourceManifest);
            AssertExplicitManifest(RepoPaths.StagedManifest, staged);
            Assert.Equal(VersionPrefix(), staged["ModuleVersion"] as string);
            Assert.Equal(source["GUID"], staged["GUID"]);
            Assert.Equal(ManifestData.Strings(source, "CmdletsToExport"), ManifestData.Strings(staged, "CmdletsToExport"));
        }

        [Fact]
        public void CmdletsToExportMatchesTheCmdletClassesOfTheBuiltAssembly()
        {
            string? dll = RepoPaths.BuiltModuleDll();
            if (dll == null)
            {
                _output.WriteLine("SKIPPED: VirtualNetworks.dll is not built (neither out/VirtualNetworks/ nor src/VirtualNetworks/bin/); the export list was not compared.");
                return;
            }
            _output.WriteLine("Comparing with " + dll);
            List<string> inAssembly = CmdletNames(dll);
            foreach (string manifest in new[] { RepoPaths.SourceManifest, RepoPaths.StagedManifest }.Where(File.Exists))
            {
                List<string> exported = ManifestData.Strings(ManifestData.Read(manifest), "CmdletsToExport")!;
                var notExported = inAssembly.Except(exported, StringComparer.Ordinal).ToList();
                var notInAssembly = exported.Except(inAssembly, StringComparer.Ordinal).ToList();
                Assert.True(notExported.Count == 0 && notInAssembly.Count == 0,
                    $"{Path.GetRelativePath(RepoPaths.Root, manifest)} vs {Path.GetRelativePath(RepoPaths.Root, dll)}:\n" +
                    $"  cmdlet classes not in CmdletsToExport: {string.Join(", ", notExported)}\n" +
                    $"  CmdletsToExport entries with no cmdlet class: {string.Join(", ", notInAssembly)}");
            }
        }

        /// <summary>Verb-Noun of every public, non-abstract Cmdlet class with [Cmdlet], read in a throw-away load context.</summary>
        internal static List<string> CmdletNames(string dll)
        {
            var context = new AssemblyLoadContext("manifest-check-" + Guid.NewGuid().ToString("N"), isCollectible: true);
            string dir = Path.GetDirectoryName(dll)!;
            // System.Management.Automation comes from the default context (this process's engine), so the
            // Cmdlet base type is the same type; the module's own dependencies come from its directory.
            context.Resolving += (ctx, name) =>
            {
                string candidate = Path.Combine(dir, name.Name + ".dll");
                return File.Exists(candidate) ? ctx.LoadFromAssemblyPath(candidate) : null;
            };
            try
            {
                using var stream = File.OpenRead(dll); // from a stream: the file stays unlocked and un-cached
                Assembly a = context.LoadFromStream(stream);
                Type[] types;
                try { types = a.GetTypes(); }
                catch (ReflectionTypeLoadException e) { types = e.Types.Where(t => t != null).ToArray()!; }
                return types
                    .Where(t => t.IsPublic && !t.IsAbstract && typeof(Cmdlet).IsAssignableFrom(t))
                    .Select(t => t.GetCustomAttribute<CmdletAttribute>())
                    .Where(c => c != null)
                    .Select(c => c!.VerbName + "-" + c.NounName)
                    .OrderBy(n => n, StringComparer.Ordinal)
                    .ToList();
            }
            finally
            {
                context.Unload();
            }
        }

        internal static string VersionPrefix()
        {
            var doc = XDocument.Load(Path.Combine(RepoPaths.Root, "Directory.Build.props"));
            string? v = doc.Descendants("VersionPrefix").Select(e => e.Value.Trim()).FirstOrDefault();
            Assert.False(string.IsNullOrEmpty(v), "Directory.Build.props has no VersionPrefix.");
            return v!;
        }
    }
}
