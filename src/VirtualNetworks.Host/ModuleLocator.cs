using System;
using System.IO;

namespace VirtualNetworks.Host
{
    /// <summary>
    /// Finds the module manifest vnpwsh imports. The rule, first match wins:
    /// 1. the -Module argument;
    /// 2. the environment variable VIRTUALNETWORKS_MODULE (when set and not empty);
    /// 3. the first ancestor of vnpwsh's own directory that contains
    ///    out/VirtualNetworks/VirtualNetworks.psd1 (the tree build.sh/build.ps1 stage).
    /// A path given in 1 or 2 may name the .psd1 itself or a directory holding VirtualNetworks.psd1.
    /// </summary>
    internal static class ModuleLocator
    {
        public const string EnvironmentVariable = "VIRTUALNETWORKS_MODULE";
        public const string ModuleName = "VirtualNetworks";
        public static readonly string StagedRelativePath = Path.Combine("out", ModuleName, ModuleName + ".psd1");

        /// <summary>Returns the full path of the manifest to import, or throws with a message saying what was tried.</summary>
        public static string Locate(string? explicitPath, string? environmentValue, string startDirectory)
        {
            if (!string.IsNullOrEmpty(explicitPath))
                return Resolve(explicitPath!, "-Module");
            if (!string.IsNullOrEmpty(environmentValue))
                return Resolve(environmentValue!, "$" + EnvironmentVariable);

            for (var dir = new DirectoryInfo(startDirectory); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, StagedRelativePath);
                if (File.Exists(candidate))
                    return candidate;
            }
            throw new FileNotFoundException(
                $"Cannot find the staged module: no ancestor of '{startDirectory}' contains {StagedRelativePath}. " +
                $"Run './build.sh build' first, or pass -Module <path>, set ${EnvironmentVariable}, or use -NoModule.");
        }

        private static string Resolve(string path, string source)
        {
            string full = Path.GetFullPath(path);
            if (Directory.Exists(full))
            {
                string inDir = Path.Combine(full, ModuleName + ".psd1");
                if (File.Exists(inDir))
                    return inDir;
                throw new FileNotFoundException($"{source}: directory '{full}' holds no {ModuleName}.psd1.");
            }
            if (File.Exists(full))
                return full;
            throw new FileNotFoundException($"{source}: '{full}' does not exist.");
        }
    }
}
