using System;
using System.Collections.Generic;
using System.Linq;
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

        /// <summary>
        /// Reads only the interfaces named <paramref name="devices"/> and their qdiscs: two processes (one <c>ip -batch</c>
        /// with a <c>link show dev</c> line per name, one <c>tc -batch</c> with a <c>qdisc show dev</c> line per interface
        /// found) whatever else the host has, so checking one router's links costs O(its devices), not a listing of every
        /// interface and qdisc of the host. <see cref="Link"/> of a name not asked for is null, as for one that does not
        /// exist: ask for every name the caller will look at. An interface that vanishes between the two reads (its tc line
        /// missing) makes it fall back to <see cref="Read"/>.
        /// </summary>
        public static HostDeviceView ReadDevices(IpCommand ip, IEnumerable<string> devices, CancellationToken cancellationToken)
        {
            var links = ip.GetLinks(devices, cancellationToken);
            var roots = new Dictionary<string, QdiscInfo>(StringComparer.Ordinal);
            var clsact = new HashSet<string>(StringComparer.Ordinal);
            var present = links.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList();
            if (present.Count == 0) return new HostDeviceView(links, roots, clsact);
            // tc's JSON for one device names no device: its lines are matched to the commands by order, one line each.
            var input = string.Concat(present.Select(n => "qdisc show dev " + n + "\n"));
            var result = ip.Tools.RunWithInput("tc", new[] { "-force", "-j", "-batch", "-" }, input, cancellationToken);
            var lines = result.StdOut.Split('\n').Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
            if (!result.Succeeded || lines.Count != present.Count) return Read(ip, cancellationToken);
            for (int k = 0; k < present.Count; k++)
            {
                foreach (var q in QdiscInfo.ParseRoots(present[k], lines[k])) roots[present[k]] = q;
                if (SilentDrop.ParseClsactDevices(lines[k], present[k]).Contains(present[k])) clsact.Add(present[k]);
            }
            return new HostDeviceView(links, roots, clsact);
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
        private readonly IReadOnlyCollection<string>? _devices;
        private readonly Dictionary<string, HostDeviceView> _views = new Dictionary<string, HostDeviceView>(StringComparer.OrdinalIgnoreCase);

        /// <param name="ipFor">The ip command of a host.</param>
        /// <param name="devices">
        /// Null: each host's view lists all its interfaces and qdiscs (<see cref="HostDeviceView.Read"/>; for a batch over
        /// many links). Else only these interfaces are read (<see cref="HostDeviceView.ReadDevices"/>; for the links of one
        /// router): the caller must not look at any other.
        /// </param>
        public HostDeviceViews(Func<string, IpCommand> ipFor, IReadOnlyCollection<string>? devices = null)
        {
            _ipFor = ipFor ?? throw new ArgumentNullException(nameof(ipFor));
            _devices = devices;
        }

        /// <summary>The view of <paramref name="host"/>, read on first use (and after <see cref="Invalidate"/>).</summary>
        public HostDeviceView Of(string host, CancellationToken cancellationToken)
        {
            if (_views.TryGetValue(host, out var v)) return v;
            return _views[host] = _devices == null
                ? HostDeviceView.Read(_ipFor(host), cancellationToken)
                : HostDeviceView.ReadDevices(_ipFor(host), _devices, cancellationToken);
        }

        /// <summary>Forgets <paramref name="host"/>'s view: something there changed.</summary>
        public void Invalidate(string host) => _views.Remove(host);

        /// <summary>Forgets every view.</summary>
        public void Clear() => _views.Clear();
    }
}
