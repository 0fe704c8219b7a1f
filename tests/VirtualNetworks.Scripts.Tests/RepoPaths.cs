using System;
using System.IO;
using System.Linq;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>Where things are: the repository root and the build outputs of sibling projects.</summary>
    internal static class RepoPaths
    {
        private static readonly Lazy<string> RootLazy = new Lazy<string>(() =>
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "VirtualNetworks.sln")) || Directory.Exists(Path.Combine(d.FullName, ".git")))
                    return d.FullName;
            }
            throw new InvalidOperationException($"no repository root (VirtualNetworks.sln or .git) above {AppContext.BaseDirectory}");
        });

        public static string Root => RootLazy.Value;

        /// <summary>Debug or Release: the configuration this test assembly was built in (bin/&lt;Configuration&gt;/net10.0).</summary>
        public static string Configuration =>
            new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name ?? "Debug";

        public static string StagedModuleDir => Path.Combine(Root, "out", "VirtualNetworks");
        public static string StagedManifest => Path.Combine(StagedModuleDir, "VirtualNetworks.psd1");
        public static string SourceManifest => Path.Combine(Root, "VirtualNetworks.psd1");

        /// <summary>A file in a project's bin/&lt;Configuration&gt;/&lt;tfm&gt; folder; fails clearly when it was not built.</summary>
        public static string BuildOutput(string projectDir, string tfm, string file)
        {
            string path = Path.Combine(Root, projectDir, "bin", Configuration, tfm, file);
            if (!File.Exists(path))
                throw new FileNotFoundException($"{path} is missing; build the solution ({Configuration}) first.", path);
            return path;
        }

        public static string HelpGenDll => BuildOutput(Path.Combine("tools", "HelpGen"), "net10.0", "HelpGen.dll");
        public static string SampleCmdletsDll =>
            BuildOutput(Path.Combine("tests", "VirtualNetworks.Scripts.Tests", "SampleCmdlets"), "netstandard2.0", "SampleCmdlets.dll");
        public static string SampleHelpDir => Path.Combine(AppContext.BaseDirectory, "SampleHelp");

        /// <summary>The built cmdlet assembly: the staged copy when there is one, else the newest bin/*/netstandard2.0 build; null when none.</summary>
        public static string? BuiltModuleDll()
        {
            string staged = Path.Combine(StagedModuleDir, "VirtualNetworks.dll");
            if (File.Exists(staged)) return staged;
            string bin = Path.Combine(Root, "src", "VirtualNetworks", "bin");
            if (!Directory.Exists(bin)) return null;
            return Directory.GetFiles(bin, "VirtualNetworks.dll", SearchOption.AllDirectories)
                .Where(f => !f.Contains(Path.DirectorySeparatorChar + "ref" + Path.DirectorySeparatorChar))
                .OrderByDescending(File.GetLastWriteTimeUtc)
                .FirstOrDefault();
        }

        public static string NewTempDir()
        {
            string dir = Path.Combine(Path.GetTempPath(), "vn-scripts-tests-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(dir);
            return dir;
        }
    }
}
