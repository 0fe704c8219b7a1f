using System;
using System.Collections.Generic;
using VirtualNetworks.Backends;

namespace VirtualNetworks.HyperV
{
    /// <summary>What the Hyper-V backend tells the engine's log (-Verbose): where images are looked up and which file one resolves to. No CIM call.</summary>
    public sealed partial class HyperVBackend : IBackendDiagnostics
    {
        public IReadOnlyList<string> DescribeSetup() =>
            new[] { string.IsNullOrEmpty(Options.ImagePath) ? "no ImagePath option (images must be given as full .vhdx paths)" : "images in " + Options.ImagePath };

        public string? DescribeImage(string image, string host)
        {
            var path = ResolveImage(image);
            return path == null ? null : "the parent disk " + path + " (each router boots a differencing disk of it)";
        }
    }
}
