using System;
using System.Collections.Generic;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>
    /// One read of a host's (namespace's) interfaces and root qdiscs: <c>ip -j -d link show</c> and <c>tc -j qdisc show</c>,
    /// two processes whatever the number of devices. Used to decide, under the state lock, which links need no rewiring;
    /// it is a snapshot, so the holder drops it (<see cref="HostDeviceViews.Invalidate"/>) as soon as it changes a device on
    /// that host.
    /// </summary>
    internal sealed class HostDeviceView
    {
        private readonly Dictionary<string, LinkInfo> _links;
        private readonly Dictionary<string, QdiscInfo> _roots;
        private readonly HashSet<string> _clsact;

        private HostDeviceView(Dictionary<string, LinkInfo> links, Dictionary<string, QdiscInfo> roots, HashSet<string> clsact)
        {
            _links = links;
            _roots = roots;
            _clsact = clsact;
        }

        /// <summary>Reads the interfaces and root qdiscs <paramref name="ip"/> sees.</summary>
        public static HostDeviceView Read(IpCommand ip, CancellationToken cancellationToken)
        {
            var links = new Dictionary<string, LinkInfo>(StringComparer.Ordinal);
            foreach (var l in ip.ListLinks(cancellationToken)) links[l.Name] = l;
            var tc = ip.Tools.RunChecked("tc", new[] { "-j", "qdisc", "show" }, ip.NetworkNamespace ?? "tc", cancellationToken);
            return new HostDeviceView(links, ParseRoots(tc.StdOut), SilentDrop.ParseClsactDevices(tc.StdOut));
        }

        /// <summary>The interface, or null when it does not exist.</summary>
        public LinkInfo? Link(string name) => _links.TryGetValue(name, out var l) ? l : null;

        /// <summary>The root qdisc of <paramref name="device"/>, or null when it has none.</summary>
        public QdiscInfo? Root(string device) => _roots.TryGetValue(device, out var q) ? q : null;

        /// <summary>True when <paramref name="device"/> has a clsact qdisc (a silent link failure's drop filter lives there, <see cref="SilentDrop"/>).</summary>
        public bool HasClsact(string device) => _clsact.Contains(device);

        /// <summary>Root qdiscs by device from <c>tc -j qdisc show</c> (all devices).</summary>
        internal static Dictionary<string, QdiscInfo> ParseRoots(string json)
        {
            var roots = new Dictionary<string, QdiscInfo>(StringComparer.Ordinal);
            if (string.IsNullOrWhiteSpace(json)) return roots;
            JArray array;
            try
            {
                array = JArray.Parse(json);
            }
            catch (JsonException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, "tc",
                    "The output of 'tc -j qdisc show' is not the expected JSON array: " + ex.Message, ex);
            }
            foreach (var token in array)
            {
                if (!(token is JObject o) || !((bool?)o["root"] ?? false)) continue;
                string? dev = (string?)o["dev"];
                if (string.IsNullOrEmpty(dev)) continue;
                var options = o["options"] as JObject;
                roots[dev!] = new QdiscInfo(dev!, (string?)o["kind"] ?? "", (string?)o["handle"] ?? "",
                    options != null ? (long?)options["rate"] : null,
                    options != null ? (long?)options["burst"] : null,
                    options != null ? (long?)options["lat"] : null);
            }
            return roots;
        }
    }

    /// <summary>Lazily read <see cref="HostDeviceView"/>s by host, for one operation under the state lock.</summary>
    internal sealed class HostDeviceViews
    {
        private readonly Func<string, IpCommand> _ipFor;
        private readonly Dictionary<string, HostDeviceView> _views = new Dictionary<string, HostDeviceView>(StringComparer.OrdinalIgnoreCase);

        public HostDeviceViews(Func<string, IpCommand> ipFor)
        {
            _ipFor = ipFor ?? throw new ArgumentNullException(nameof(ipFor));
        }

        /// <summary>The view of <paramref name="host"/>, read on first use (and after <see cref="Invalidate"/>).</summary>
        public HostDeviceView Of(string host, CancellationToken cancellationToken)
        {
            if (_views.TryGetValue(host, out var v)) return v;
            return _views[host] = HostDeviceView.Read(_ipFor(host), cancellationToken);
        }

        /// <summary>Forgets <paramref name="host"/>'s view: something there changed.</summary>
        public void Invalidate(string host) => _views.Remove(host);

        /// <summary>Forgets every view.</summary>
        public void Clear() => _views.Clear();
    }
}
