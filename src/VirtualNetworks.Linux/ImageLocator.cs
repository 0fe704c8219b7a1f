using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux
{
    /// <summary>A router image found on disk.</summary>
    public sealed class RouterImage
    {
        public string Name { get; set; } = "";
        /// <summary>Kernel of a kernel+initrd image; null for a disk image.</summary>
        public string? Kernel { get; set; }
        public string? Initrd { get; set; }
        /// <summary>Base qcow2 of a disk image (used through a per-router overlay); null for kernel+initrd.</summary>
        public string? Disk { get; set; }
        public string Directory { get; set; } = "";
        /// <summary>True for the project's own image, which takes the project's kernel command line.</summary>
        public bool IsProjectImage { get; set; }
    }

    /// <summary>
    /// Finds router images by name. The search path, in order (the first folder that has the image wins):
    /// <list type="number">
    /// <item>the folders of $VIRTUALNETWORKS_IMAGE_PATH (':'-separated);</item>
    /// <item>the per-machine folder /var/lib/virtualnetworks/images (always, wherever the state directory is), where
    /// <c>images/router/build.sh --install</c> puts the project's image;</item>
    /// <item>&lt;state directory&gt;/images;</item>
    /// <item>next to the module: &lt;module folder&gt;/images (an installed copy), then &lt;module folder&gt;/../images (the
    /// build's out/images beside the staged out/VirtualNetworks).</item>
    /// </list>
    /// An image named N is either a folder N holding <c>vmlinuz</c> + <c>initramfs.cpio.gz</c> (kernel+initrd form) or a file
    /// <c>N.qcow2</c> (disk form). docs/install.md documents the order.
    /// </summary>
    public sealed class ImageLocator
    {
        public const string PathVariable = "VIRTUALNETWORKS_IMAGE_PATH";
        public const string KernelFile = "vmlinuz";
        public const string InitrdFile = "initramfs.cpio.gz";
        /// <summary>The per-machine image folder, searched whatever the state directory is.</summary>
        public const string MachineDirectory = StateStore.DefaultRoot + "/images";
        /// <summary>How the project's image is built and installed into <see cref="MachineDirectory"/>.</summary>
        public const string InstallCommand = "sudo images/router/build.sh --install";

        private readonly List<(string Directory, string Origin)> _entries = new List<(string, string)>();
        private readonly bool _pathVariableSet;

        /// <summary>The search path of a backend whose state directory is <paramref name="stateRoot"/>.</summary>
        public ImageLocator(string stateRoot)
            : this(stateRoot, Environment.GetEnvironmentVariable(PathVariable), MachineDirectory, ModuleDirectory())
        {
        }

        /// <summary>
        /// The search path from explicit parts (tests): <paramref name="pathVariable"/> is the value of
        /// $VIRTUALNETWORKS_IMAGE_PATH (null or empty: not set), <paramref name="moduleDirectory"/> the folder of the module's
        /// assemblies (null: unknown).
        /// </summary>
        public ImageLocator(string stateRoot, string? pathVariable, string machineDirectory, string? moduleDirectory)
        {
            if (!string.IsNullOrEmpty(pathVariable))
            {
                _pathVariableSet = true;
                foreach (var part in pathVariable!.Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries))
                    if (part.Trim().Length > 0) Add(part.Trim(), "$" + PathVariable);
            }
            Add(machineDirectory, "per machine");
            Add(Path.Combine(stateRoot, "images"), "state directory");
            if (!string.IsNullOrEmpty(moduleDirectory))
            {
                Add(Path.Combine(moduleDirectory!, "images"), "next to the module");
                Add(Path.Combine(moduleDirectory!, "..", "images"), "beside the module's folder");
            }
            SearchPath = _entries.Select(e => e.Directory).ToArray();
        }

        /// <summary>The folders searched, in order, absolute and without duplicates.</summary>
        public IReadOnlyList<string> SearchPath { get; }

        private void Add(string directory, string origin)
        {
            string full;
            try { full = Path.GetFullPath(directory); }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException) { return; }
            full = full.Length > 1 ? full.TrimEnd('/') : full;
            if (_entries.Any(e => string.Equals(e.Directory, full, StringComparison.Ordinal))) return;
            _entries.Add((full, origin));
        }

        /// <summary>The folder of this assembly (the module's folder once staged or installed); null when unknown.</summary>
        private static string? ModuleDirectory()
        {
            try
            {
                string location = typeof(ImageLocator).Assembly.Location;
                return string.IsNullOrEmpty(location) ? null : Path.GetDirectoryName(location);
            }
            catch (NotSupportedException)
            {
                return null;
            }
        }

        /// <summary>The image, or null when no folder of the search path has it.</summary>
        public RouterImage? Find(string name)
        {
            if (NameRules.Check(name, "image") != null) return null;
            foreach (var dir in SearchPath)
            {
                var image = Probe(dir, name);
                if (image != null) return image;
            }
            return null;
        }

        private static RouterImage? Probe(string dir, string name)
        {
            var folder = Path.Combine(dir, name);
            // An installed image is a symbolic link to a versioned folder (replaced atomically by images/router/build.sh
            // --install): resolve it once, so the kernel and the initramfs come from the same version.
            folder = Resolve(folder);
            var kernel = Path.Combine(folder, KernelFile);
            var initrd = Path.Combine(folder, InitrdFile);
            if (File.Exists(kernel) && File.Exists(initrd))
                return new RouterImage
                {
                    Name = name, Kernel = kernel, Initrd = initrd, Directory = folder,
                    IsProjectImage = File.Exists(Path.Combine(folder, "manifest.json")),
                };
            var disk = Path.Combine(dir, name + ".qcow2");
            if (File.Exists(disk))
                return new RouterImage { Name = name, Disk = disk, Directory = dir };
            return null;
        }

        /// <summary><paramref name="folder"/>, or the folder its symbolic link names (one level, relative to its parent).</summary>
        private static string Resolve(string folder)
        {
            try
            {
                string? target = Posix.ReadLink(folder);
                if (string.IsNullOrEmpty(target)) return folder;
                return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(folder) ?? "/", target));
            }
            catch (Exception ex) when (ex is IOException || ex is ArgumentException || ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return folder;
            }
        }

        /// <summary>
        /// Every image the search path holds, by name (the first folder that has a name wins, as for <see cref="Find"/>),
        /// with the folder or file it is in; sorted by name. Unreadable folders are skipped; never throws for what is on disk.
        /// </summary>
        public IReadOnlyList<KeyValuePair<string, string>> List()
        {
            var found = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var dir in SearchPath)
            {
                IEnumerable<string> entries;
                try
                {
                    if (!System.IO.Directory.Exists(dir)) continue;
                    entries = System.IO.Directory.EnumerateFileSystemEntries(dir).ToList();
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
                {
                    continue;
                }
                foreach (var entry in entries)
                {
                    string leaf = Path.GetFileName(entry);
                    string name = leaf.EndsWith(".qcow2", StringComparison.Ordinal) ? leaf.Substring(0, leaf.Length - ".qcow2".Length) : leaf;
                    if (found.ContainsKey(name) || !NameRules.IsValid(name)) continue;
                    var image = Probe(dir, name);
                    if (image != null) found[name] = image.Disk ?? image.Directory;
                }
            }
            return found.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase).ToList();
        }

        /// <summary>
        /// Where <paramref name="name"/> was looked for: every folder of the search path, in order, with where it comes from,
        /// e.g. "searched, in order: /var/lib/virtualnetworks/images (per machine), ... ($VIRTUALNETWORKS_IMAGE_PATH is not set)".
        /// </summary>
        public string DescribeSearch(string name)
        {
            string folders = string.Join(", ", _entries.Select(e => e.Directory + " (" + e.Origin + ")"));
            return "searched, in order: " + folders + (_pathVariableSet ? "" : " ($" + PathVariable + " is not set)") +
                   "; an image '" + name + "' is a folder '" + name + "' holding " + KernelFile + " and " + InitrdFile +
                   ", or a file '" + name + ".qcow2'";
        }

        /// <summary>How to build or install an image (the RecommendedAction of ImageNotFound).</summary>
        public static string HowToInstall(string name) =>
            (string.Equals(name, TopologyDefaults.Image, StringComparison.Ordinal)
                ? "Build and install the project's router image for this machine with '" + InstallCommand + "' (from a checkout of the " +
                  "VirtualNetworks sources; it installs into " + MachineDirectory + "/" + name + "), or point $" + PathVariable +
                  " at a folder that holds '" + name + "/" + KernelFile + "' and '" + name + "/" + InitrdFile + "' (e.g. the build's out/images). "
                : "Put a folder '" + name + "' with " + KernelFile + " and " + InitrdFile + ", or a file '" + name + ".qcow2', into " +
                  MachineDirectory + " or a folder named in $" + PathVariable + " (the project's own image 'router' is built and " +
                  "installed with '" + InstallCommand + "'). ") +
            "See docs/install.md.";

        /// <summary>The ImageNotFound error for <paramref name="name"/>: what was searched and how to build or install an image.</summary>
        public VirtualNetworksException NotFound(string name, string? router)
        {
            string subject = router == null ? "" : " of router '" + router + "'";
            return new VirtualNetworksException(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, name,
                "The router image '" + name + "'" + subject + " was not found; " + DescribeSearch(name) + ".")
            {
                RecommendedAction = HowToInstall(name),
            };
        }

        /// <summary>The image or an ImageNotFound error naming where it was looked for and how to build or install it.</summary>
        public RouterImage Require(string name, string router)
        {
            NameRules.Ensure(name, "image");
            return Find(name) ?? throw NotFound(name, router);
        }

        /// <summary>The report the topology validator puts into its ImageNotFound error.</summary>
        public ImageSearchReport Report(string name) => new ImageSearchReport(DescribeSearch(name), HowToInstall(name));
    }
}
