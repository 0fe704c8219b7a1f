using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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
    /// Finds router images by name. Search path: $VIRTUALNETWORKS_IMAGE_PATH (':'-separated), &lt;state&gt;/images,
    /// then the build's output next to the staged module (out/images). An image named N is either a folder N holding
    /// <c>vmlinuz</c> + <c>initramfs.cpio.gz</c> (kernel+initrd form) or a file <c>N.qcow2</c> (disk form).
    /// </summary>
    public sealed class ImageLocator
    {
        public const string PathVariable = "VIRTUALNETWORKS_IMAGE_PATH";
        public const string KernelFile = "vmlinuz";
        public const string InitrdFile = "initramfs.cpio.gz";

        public ImageLocator(string stateRoot)
        {
            var dirs = new List<string>();
            var env = Environment.GetEnvironmentVariable(PathVariable);
            if (!string.IsNullOrEmpty(env))
                dirs.AddRange(env!.Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries));
            dirs.Add(Path.Combine(stateRoot, "images"));
            var moduleDir = Path.GetDirectoryName(typeof(ImageLocator).Assembly.Location);
            if (!string.IsNullOrEmpty(moduleDir))
                dirs.Add(Path.GetFullPath(Path.Combine(moduleDir!, "..", "images")));
            SearchPath = dirs.Distinct(StringComparer.Ordinal).ToArray();
        }

        public IReadOnlyList<string> SearchPath { get; }

        /// <summary>The image, or null when no folder of the search path has it.</summary>
        public RouterImage? Find(string name)
        {
            if (NameRules.Check(name, "image") != null) return null;
            foreach (var dir in SearchPath)
            {
                var folder = Path.Combine(dir, name);
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
            }
            return null;
        }

        /// <summary>The image or an ImageNotFound error naming where it was looked for and how the build makes it.</summary>
        public RouterImage Require(string name, string router)
        {
            NameRules.Ensure(name, "image");
            return Find(name) ?? throw new VirtualNetworksException(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, name,
                $"Router image '{name}' (router '{router}') was not found in {string.Join(", ", SearchPath)}.")
            {
                RecommendedAction = "Build the project's image with 'images/router/build.sh' (./build.sh demo and ./build.sh test do it), " +
                                    $"or put a folder '{name}' with {KernelFile} and {InitrdFile}, or a file '{name}.qcow2', in one of those folders.",
            };
        }
    }
}
