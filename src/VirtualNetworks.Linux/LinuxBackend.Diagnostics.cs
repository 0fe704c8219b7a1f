using System;
using System.Collections.Generic;
using VirtualNetworks.Backends;
using VirtualNetworks.Linux.State;

namespace VirtualNetworks.Linux
{
    /// <summary>What the Linux backend tells the engine's log (-Verbose): its state directory and the files an image resolves to. Read-only.</summary>
    public sealed partial class LinuxBackend : IBackendDiagnostics
    {
        public IReadOnlyList<string> DescribeSetup()
        {
            string source = string.IsNullOrEmpty(Environment.GetEnvironmentVariable(StateStore.RootEnvironmentVariable))
                ? ""
                : " (from $" + StateStore.RootEnvironmentVariable + ")";
            return new[] { "state directory " + Store.Root + source };
        }

        /// <summary>The image's kernel and initrd, or its base disk; lab hosts share the local machine's disk, so the host does not matter.</summary>
        public string? DescribeImage(string image, string host)
        {
            var found = _images.Find(image);
            if (found == null) return null;
            return found.Disk != null
                ? "the disk image " + found.Disk + " (each router boots a qcow2 overlay of it)"
                : "the kernel " + found.Kernel + " with the initrd " + found.Initrd;
        }
    }
}
