using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>A root qdisc as <c>tc -j qdisc show</c> reports it.</summary>
    public sealed class QdiscInfo
    {
        public QdiscInfo(string device, string kind, string handle, long? rateBytesPerSecond, long? burstBytes, long? latencyMicroseconds)
        {
            Device = device;
            Kind = kind;
            Handle = handle;
            RateBytesPerSecond = rateBytesPerSecond;
            BurstBytes = burstBytes;
            LatencyMicroseconds = latencyMicroseconds;
        }

        public string Device { get; }
        /// <summary>"tbf", "pfifo_fast", "noqueue", "fq_codel", ...</summary>
        public string Kind { get; }
        /// <summary>"766e:" for ours, "0:" for the kernel's default.</summary>
        public string Handle { get; }
        /// <summary>tbf: the configured rate in bytes/s (layer-2 bytes, see <see cref="TrafficShaper"/>).</summary>
        public long? RateBytesPerSecond { get; }
        /// <summary>tbf: the bucket size in bytes, as the kernel stores it (rounded through timer ticks).</summary>
        public long? BurstBytes { get; }
        /// <summary>tbf: the longest time a packet can wait in the queue, µs (derived by tc from limit, burst and rate).</summary>
        public long? LatencyMicroseconds { get; }

        /// <summary>The rate in bits/s (<see cref="RateBytesPerSecond"/> × 8).</summary>
        public long? RateBitsPerSecond => RateBytesPerSecond * 8;
        /// <summary>True for the shaper this module installs: tbf with handle <see cref="TrafficShaper.Handle"/>.</summary>
        public bool IsOurs => Kind == "tbf" && Handle == TrafficShaper.Handle;
        /// <summary>True for a qdisc the kernel attached by itself (handle 0:), which may be replaced.</summary>
        public bool IsDefault => Handle == "0:";

        public override string ToString() =>
            Device + ": " + Kind + " " + Handle + (RateBitsPerSecond.HasValue ? " rate " + RateBitsPerSecond.Value.ToString(CultureInfo.InvariantCulture) + "bit" : "") +
            (BurstBytes.HasValue ? " burst " + BurstBytes.Value.ToString(CultureInfo.InvariantCulture) : "");

        /// <summary>Parses <c>tc -j qdisc show dev X</c>; only root qdiscs are returned.</summary>
        internal static List<QdiscInfo> ParseRoots(string device, string json)
        {
            var list = new List<QdiscInfo>();
            if (string.IsNullOrWhiteSpace(json)) return list;
            JArray array;
            try
            {
                array = JArray.Parse(json);
            }
            catch (JsonException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, device,
                    "The output of 'tc -j qdisc show dev " + device + "' is not the expected JSON array: " + ex.Message, ex);
            }
            foreach (var token in array)
            {
                if (!(token is JObject o)) continue;
                if (!((bool?)o["root"] ?? false)) continue;
                var options = o["options"] as JObject;
                list.Add(new QdiscInfo(device, (string?)o["kind"] ?? "", (string?)o["handle"] ?? "",
                    options != null ? (long?)options["rate"] : null,
                    options != null ? (long?)options["burst"] : null,
                    options != null ? (long?)options["lat"] : null));
            }
            return list;
        }
    }

    /// <summary>Counters of a root qdisc (<c>tc -s -j qdisc show</c>): what it sent and dropped since it was installed.</summary>
    public sealed class QdiscStatistics
    {
        public QdiscStatistics(string kind, string handle, long bytes, long packets, long drops, long overlimits, long backlogBytes, long queueLength)
        {
            Kind = kind;
            Handle = handle;
            Bytes = bytes;
            Packets = packets;
            Drops = drops;
            Overlimits = overlimits;
            BacklogBytes = backlogBytes;
            QueueLength = queueLength;
        }

        public string Kind { get; }
        public string Handle { get; }
        /// <summary>Layer-2 bytes sent (dequeued), the unit the rate limits.</summary>
        public long Bytes { get; }
        public long Packets { get; }
        public long Drops { get; }
        /// <summary>Times a packet had to wait for tokens.</summary>
        public long Overlimits { get; }
        /// <summary>Bytes waiting in the queue now.</summary>
        public long BacklogBytes { get; }
        /// <summary>Packets waiting in the queue now.</summary>
        public long QueueLength { get; }

        internal static QdiscStatistics? ParseRoot(string device, string json)
        {
            JArray array;
            try
            {
                array = string.IsNullOrWhiteSpace(json) ? new JArray() : JArray.Parse(json);
            }
            catch (JsonException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, device,
                    "The output of 'tc -s -j qdisc show dev " + device + "' is not the expected JSON array: " + ex.Message, ex);
            }
            foreach (var token in array)
            {
                if (!(token is JObject o) || !((bool?)o["root"] ?? false)) continue;
                return new QdiscStatistics((string?)o["kind"] ?? "", (string?)o["handle"] ?? "", (long?)o["bytes"] ?? 0, (long?)o["packets"] ?? 0,
                    (long?)o["drops"] ?? 0, (long?)o["overlimits"] ?? 0, (long?)o["backlog"] ?? 0, (long?)o["qlen"] ?? 0);
            }
            return null;
        }
    }

    /// <summary>The tbf parameters the shaper applies for one rate (see <see cref="TrafficShaper.ComputeParameters"/>).</summary>
    public sealed class TbfParameters
    {
        public TbfParameters(long rateBitsPerSecond, long burstBytes, long limitBytes)
        {
            RateBitsPerSecond = rateBitsPerSecond;
            BurstBytes = burstBytes;
            LimitBytes = limitBytes;
        }

        /// <summary>The rate, bits/s, a multiple of 8 (the kernel keeps bytes/s).</summary>
        public long RateBitsPerSecond { get; }
        public long BurstBytes { get; }
        /// <summary>Bytes that may wait in the queue (tbf "limit"), including the burst.</summary>
        public long LimitBytes { get; }

        public override string ToString() =>
            "rate " + RateBitsPerSecond.ToString(CultureInfo.InvariantCulture) + "bit burst " + BurstBytes.ToString(CultureInfo.InvariantCulture) +
            " limit " + LimitBytes.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>What <see cref="TrafficShaper.SetRate"/> did.</summary>
    public enum ShaperAction
    {
        /// <summary>The device had no shaper; one was added.</summary>
        Added,
        /// <summary>The shaper's rate was changed in place (<c>tc qdisc change</c>).</summary>
        Changed,
        /// <summary>The shaper already had this rate: nothing was run.</summary>
        Unchanged,
    }

    /// <summary>Result of <see cref="TrafficShaper.SetRate"/>: what was done and the shaper as read back afterwards.</summary>
    public sealed class ShaperChange
    {
        public ShaperChange(ShaperAction action, QdiscInfo state, TbfParameters requested)
        {
            Action = action;
            State = state;
            Requested = requested;
        }

        public ShaperAction Action { get; }
        /// <summary>The root qdisc read back from the kernel after the change.</summary>
        public QdiscInfo State { get; }
        public TbfParameters Requested { get; }
    }

    /// <summary>
    /// Egress rate limits on the module's own devices (taps), with tbf, changed in place.
    /// </summary>
    /// <remarks>
    /// <para><b>tbf, not htb.</b> Both were tried on this machine kind and both accept an in-place rate change
    /// (<c>tc qdisc change ... tbf</c>, <c>tc class change ... htb</c>). tbf is chosen because it is one root qdisc and
    /// one command per change (htb needs a qdisc, a default class and per-class quantum/r2q care — the kernel warns "quantum
    /// of class is big" at ordinary rates); because <c>tc -j</c> reports tbf's rate and burst as JSON (iproute2 6.1 prints
    /// htb classes as plain text even with -j); and because a point-to-point link needs no classes. In the kernel,
    /// tbf_change keeps the existing inner queue (it only adjusts its limit) and refills the bucket, so a change drops no
    /// queued packet. Our qdisc is recognised by its handle, <c>766e:</c> ("vn"), on a device that carries our
    /// <see cref="OwnershipTag"/>; a root qdisc anyone else installed is never replaced or removed.</para>
    /// <para><b>What the rate means.</b> MaximumBandwidth is the layer-2 frame rate the shaper lets through, bits/s: tc
    /// counts every byte of the Ethernet frame from the destination MAC on (header 14 bytes, no preamble, no FCS) and
    /// nothing else. TCP goodput over a 1500-byte MTU link is therefore lower by the headers: 1448 payload bytes per
    /// 1514-byte frame with TCP timestamps (≈ 4.4 % less), 1460/1514 without (≈ 3.6 %). To compare a TCP measurement
    /// with the limit, scale goodput by frame/payload (e.g. × 1514/1448), or count frame bytes.</para>
    /// <para><b>Direction.</b> A qdisc shapes a device's egress. A tap's egress is the traffic the host hands to the guest,
    /// i.e. the traffic going INTO that router. To limit both directions of a link, shape both taps of the link: router
    /// A→B traffic is limited at B's tap, B→A at A's tap.</para>
    /// <para><b>Burst.</b> burst = max(rate/8 × 5 ms, 2 × (MTU + 18)) bytes. The 5 ms term covers a late timer or softirq
    /// of up to a 250 Hz jiffy (4 ms) without the bucket overflowing and losing tokens, so the long-run rate stays exact;
    /// the 2-frame floor lets one full frame (MTU + 14-byte Ethernet header + 4-byte VLAN tag) leave while the tokens for
    /// the next accrue — tbf drops (or, for GSO, splits) anything bigger than the bucket. The burst lets at most that many
    /// extra bytes through after an idle period: over a measurement of T seconds at most 5 ms/T above the rate (0.1 % over
    /// 5 s), or 2 frames at low rates (0.5 % at 1 Mbit/s over 5 s).</para>
    /// <para><b>Queue.</b> limit = burst + max(rate/8 × 50 ms, 10 frames): room for about 50 ms of traffic (at least ten
    /// full frames), enough for TCP between routers on one host to keep the link full without building a long standing
    /// queue.</para>
    /// </remarks>
    public sealed class TrafficShaper
    {
        /// <summary>The handle of the module's tbf root qdisc: 0x766e = "vn".</summary>
        public const string Handle = "766e:";
        /// <summary>Smallest rate the shaper applies, bits/s.</summary>
        public const long MinimumRate = 8_000;
        /// <summary>Largest rate the shaper applies, bits/s.</summary>
        public const long MaximumRate = 100_000_000_000;
        /// <summary>Ethernet header plus one 802.1Q tag: what a frame adds to the MTU.</summary>
        public const int FrameOverhead = 18;
        /// <summary>The bucket holds at least this much time at the rate.</summary>
        public static readonly TimeSpan BurstTime = TimeSpan.FromMilliseconds(5);
        /// <summary>The queue holds about this much time at the rate (at least <see cref="MinimumQueueFrames"/> frames).</summary>
        public static readonly TimeSpan QueueTime = TimeSpan.FromMilliseconds(50);
        public const int MinimumQueueFrames = 10;

        private readonly IpCommand _ip;

        /// <param name="ip">The namespace and ownership checks come from here.</param>
        public TrafficShaper(IpCommand ip)
        {
            _ip = ip ?? throw new ArgumentNullException(nameof(ip));
        }

        /// <summary>The tbf parameters for <paramref name="bitsPerSecond"/> on a device with <paramref name="mtu"/>.</summary>
        public static TbfParameters ComputeParameters(long bitsPerSecond, int mtu)
        {
            if (bitsPerSecond < MinimumRate || bitsPerSecond > MaximumRate)
            {
                throw new VirtualNetworksException(ErrorIds.BandwidthOutOfRange, ErrorKind.InvalidArgument, null,
                    "The bandwidth limit " + bitsPerSecond.ToString(CultureInfo.InvariantCulture) + " bit/s is outside what the Linux shaper applies (" +
                    MinimumRate.ToString(CultureInfo.InvariantCulture) + " to " + MaximumRate.ToString(CultureInfo.InvariantCulture) + " bit/s).");
            }
            if (mtu < 68) mtu = 1500;
            long bytesPerSecond = bitsPerSecond / 8;
            long frame = mtu + FrameOverhead;
            long burst = Math.Max(CeilingBytes(bytesPerSecond, BurstTime), 2 * frame);
            long queue = Math.Max(CeilingBytes(bytesPerSecond, QueueTime), MinimumQueueFrames * frame);
            return new TbfParameters(bytesPerSecond * 8, burst, burst + queue);
        }

        /// <summary>The root qdisc of <paramref name="device"/>; null when the device has none (it is down).</summary>
        public QdiscInfo? GetRoot(string device, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(device);
            var result = _ip.Tools.Run("tc", new[] { "-j", "qdisc", "show", "dev", device }, cancellationToken);
            if (!result.Succeeded)
            {
                if (NetTools.IsNoSuchDevice(result))
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ObjectNotFound, device,
                        "Cannot read the qdisc of interface '" + device + "': it does not exist.");
                throw NetTools.Failure(result, device);
            }
            var roots = QdiscInfo.ParseRoots(device, result.StdOut);
            return roots.Count > 0 ? roots[0] : null;
        }

        /// <summary>The counters of <paramref name="device"/>'s root qdisc; null when it has none. Read-only, any device.</summary>
        public QdiscStatistics? GetStatistics(string device, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(device);
            var result = _ip.Tools.RunChecked("tc", new[] { "-s", "-j", "qdisc", "show", "dev", device }, device, cancellationToken);
            return QdiscStatistics.ParseRoot(device, result.StdOut);
        }

        /// <summary>The module's shaper on <paramref name="device"/>; null when there is none.</summary>
        public QdiscInfo? Get(string device, CancellationToken cancellationToken = default)
        {
            var root = GetRoot(device, cancellationToken);
            return root != null && root.IsOurs ? root : null;
        }

        /// <summary>
        /// Limits the egress of <paramref name="device"/> (ours) to <paramref name="bitsPerSecond"/>: adds the tbf the first
        /// time, changes it in place afterwards (never delete-and-re-add), does nothing when the rate is already applied.
        /// A root qdisc someone else installed is left alone (error). <paramref name="ownedDeviceMtu"/>: the caller has just
        /// checked that the device is ours and knows its MTU (saves reading the device again).
        /// </summary>
        public ShaperChange SetRate(string device, long bitsPerSecond, CancellationToken cancellationToken = default, int? ownedDeviceMtu = null)
        {
            int mtu = ownedDeviceMtu ?? _ip.RequireOwned(device, "shape", cancellationToken).Mtu;
            var wanted = ComputeParameters(bitsPerSecond, mtu);
            var root = GetRoot(device, cancellationToken);
            ShaperAction action;
            if (root != null && root.IsOurs)
            {
                if (root.RateBitsPerSecond == wanted.RateBitsPerSecond && root.BurstBytes.HasValue &&
                    Math.Abs(root.BurstBytes.Value - wanted.BurstBytes) <= wanted.BurstBytes / 50)
                {
                    return new ShaperChange(ShaperAction.Unchanged, root, wanted);
                }
                RunTbf("change", device, wanted, cancellationToken);
                action = ShaperAction.Changed;
            }
            else if (root == null || root.IsDefault)
            {
                RunTbf("add", device, wanted, cancellationToken);
                action = ShaperAction.Added;
            }
            else
            {
                throw ForeignQdisc(root, "shape");
            }

            var after = GetRoot(device, cancellationToken);
            if (after == null || !after.IsOurs || after.RateBitsPerSecond != wanted.RateBitsPerSecond)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, device,
                    "The shaper on '" + device + "' did not take: asked for " + wanted + ", the kernel reports " + (after?.ToString() ?? "no qdisc") + ".");
            }
            return new ShaperChange(action, after, wanted);
        }

        /// <summary>
        /// Removes the module's shaper from <paramref name="device"/> (ours). Returns false when there is none or the device
        /// no longer exists; a root qdisc someone else installed is left alone (error). <paramref name="ownershipChecked"/>:
        /// the caller has just checked that the device exists and is ours.
        /// </summary>
        public bool Remove(string device, CancellationToken cancellationToken = default, bool ownershipChecked = false)
        {
            if (!ownershipChecked)
            {
                var link = _ip.GetLink(device, cancellationToken);
                if (link == null) return false;
                if (!link.IsOwned) throw _ip.NotOwned(link, "remove the shaper of");
            }
            var root = GetRoot(device, cancellationToken);
            if (root == null || root.IsDefault) return false;
            if (!root.IsOurs) throw ForeignQdisc(root, "remove the shaper of");
            _ip.Tools.RunChecked("tc", new[] { "qdisc", "del", "dev", device, "root", "handle", Handle }, device, cancellationToken);
            return true;
        }

        private void RunTbf(string verb, string device, TbfParameters p, CancellationToken cancellationToken)
        {
            _ip.Tools.RunChecked("tc", new[]
            {
                "qdisc", verb, "dev", device, "root", "handle", Handle, "tbf",
                "rate", p.RateBitsPerSecond.ToString(CultureInfo.InvariantCulture) + "bit",
                "burst", p.BurstBytes.ToString(CultureInfo.InvariantCulture),
                "limit", p.LimitBytes.ToString(CultureInfo.InvariantCulture),
            }, device, cancellationToken);
        }

        private VirtualNetworksException ForeignQdisc(QdiscInfo root, string action) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, root.Device,
                "Refusing to " + action + " '" + root.Device + "'" + (_ip.NetworkNamespace == null ? "" : " in network namespace '" + _ip.NetworkNamespace + "'") +
                ": its root qdisc (" + root.Kind + " " + root.Handle + ") was not installed by VirtualNetworks.")
            {
                RecommendedAction = "Remove that qdisc by hand ('tc qdisc del dev " + root.Device + " root') if it is not needed.",
            };

        private static long CeilingBytes(long bytesPerSecond, TimeSpan time) =>
            (long)Math.Ceiling(bytesPerSecond * time.TotalSeconds);
    }
}
