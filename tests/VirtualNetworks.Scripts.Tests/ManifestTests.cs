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
            Assert.NotEmpty(ManifestData.Strings(psData!, "Tags") ?? new List<string>());
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
