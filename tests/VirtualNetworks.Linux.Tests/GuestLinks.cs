using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.Vm;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>What a guest itself reports of its adapters (the "# links" part of its `show`).</summary>
    internal static class GuestLinks
    {
        /// <summary>The guest's "ip link" entry of its adapter on the link (from "show", "# links"), found by the adapter's MAC.</summary>
        public static string Adapter(LinuxBackend backend, string router, string link, ITestOutputHelper output)
        {
            var rec = backend.Store.ReadRouter(router)!;
            var mac = MacAddresses.Normalize(rec.Macs[link]);
            var paths = backend.Store.RunPaths(router, rec.RunSlot);
            string show = "";
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    show = new GuestChannel(paths.ChannelSocket, router).Show(TimeSpan.FromSeconds(20), CancellationToken.None);
                    break;
                }
                catch (VirtualNetworksException ex) when (attempt < 3 && ex.Message.Contains("exit code 124", StringComparison.Ordinal))
                {
                    // The guest bounds each command; a TCG guest starved of CPU by other VMs on this machine can run over it.
                    output.WriteLine($"show on {router} timed out in the guest (attempt {attempt}); again");
                }
            }
            var links = LinuxBackend.GuestLinks(show);
            // Entries start with "<n>: <name>:"; the MAC is on the entry's "link/ether" line.
            var entries = new List<string>();
            foreach (var line in links.Split('\n'))
            {
                if (line.Length > 0 && char.IsDigit(line[0])) entries.Add(line);
                else if (entries.Count > 0) entries[entries.Count - 1] += "\n" + line;
            }
            var entry = entries.FirstOrDefault(e => e.IndexOf(mac, StringComparison.OrdinalIgnoreCase) >= 0);
            Assert.True(entry != null, $"{router}'s guest lists no adapter with MAC {mac}:\n{links}");
            return entry!;
        }

        /// <summary>True when the guest's adapter on <paramref name="link"/> reports NO-CARRIER.</summary>
        public static bool CarrierDown(LinuxBackend backend, string router, string link, ITestOutputHelper output) =>
            Adapter(backend, router, link, output).Contains("NO-CARRIER", StringComparison.Ordinal);
    }
}
