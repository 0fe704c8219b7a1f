using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Linux.Vm;

namespace VirtualNetworks.Linux
{
    /// <summary>
    /// Throughput through a link, measured inside the guests with the channel's nc-listen / nc-send / nc-result
    /// (docs/guest-contract.md): TCP goodput counted by the receiver, converted to the unit the limit is expressed in.
    /// </summary>
    /// <remarks>
    /// "The rate" of a link is what tbf enforces: layer-2 frame bytes as the kernel sees them on the tap (Ethernet
    /// header included, no FCS/preamble). A full TCP segment at MTU 1500 carries 1448 payload bytes (20 IP + 32 TCP
    /// with timestamps) in a 1514-byte frame, so MeasuredBandwidth = goodput x 1514 / 1448.
    /// </remarks>
    internal static class LinkMeter
    {
        public const double FrameBytes = 1514;
        public const double PayloadBytes = 1448;
        /// <summary>Assumed rate of an unlimited link under TCG when sizing the transfer (measured 36-47 Mbit/s).</summary>
        private const long UnlimitedGuess = 60_000_000;
        private static int _port = 5201 + (System.Diagnostics.Process.GetCurrentProcess().Id % 1000);

        public static LinkMeasurement Measure(LinkRecord link, RouterRecord sender, RouterRecord receiver, string receiverAddress,
            GuestChannel senderChannel, GuestChannel receiverChannel, TimeSpan duration, TimeSpan readyTimeout, CancellationToken ct)
        {
            if (duration < TimeSpan.FromSeconds(1)) duration = TimeSpan.FromSeconds(1);
            senderChannel.WaitReady(readyTimeout, ct);
            receiverChannel.WaitReady(readyTimeout, ct);
            long rate = link.MaximumBandwidth ?? UnlimitedGuess;
            long bytes = (long)(rate / 8.0 * duration.TotalSeconds * PayloadBytes / FrameBytes);
            bytes = Math.Max(64 * 1024, Math.Min(bytes, 512L * 1024 * 1024));
            int port = 5201 + (Interlocked.Increment(ref _port) % 2000);
            int limit = (int)Math.Ceiling(duration.TotalSeconds * 4 + 30);
            string P(long v) => v.ToString(CultureInfo.InvariantCulture);

            var listen = receiverChannel.Run("nc-listen", new[] { P(port), P(limit) }, TimeSpan.FromSeconds(30), ct);
            if (!listen.Succeeded) throw Fail(link.Name, "the receiver could not listen: " + listen.Output);
            var send = senderChannel.Run("nc-send", new[] { receiverAddress, P(port), P(bytes), P(limit) }, TimeSpan.FromSeconds(limit + 30), ct);
            var result = receiverChannel.Run("nc-result", new[] { P(port), P(limit) }, TimeSpan.FromSeconds(limit + 30), ct);
            if (!result.Succeeded) throw Fail(link.Name, "the transfer did not complete (sender: " + send.Output + "; receiver: " + result.Output + ")");
            long got = Value(result, "bytes");
            long ms = Value(result, "elapsed_ms");
            long bps = Value(result, "bits_per_second");
            if (got <= 0 || ms <= 0) throw Fail(link.Name, "the receiver counted no data: " + result.Output);
            return new LinkMeasurement
            {
                Name = link.Name,
                From = sender.Name,
                To = receiver.Name,
                MaximumBandwidth = link.MaximumBandwidth,
                Goodput = bps,
                MeasuredBandwidth = (long)Math.Round(bps * FrameBytes / PayloadBytes),
                Bytes = got,
                Duration = TimeSpan.FromMilliseconds(ms),
            };
        }

        private static long Value(GuestCommandResult r, string key)
        {
            var line = r.Lines.FirstOrDefault(l => l.StartsWith(key + " ", StringComparison.Ordinal));
            return line != null && long.TryParse(line.Substring(key.Length + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
        }

        private static VirtualNetworksException Fail(string link, string message) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, link, $"Measuring link '{link}' failed: {message}");
    }
}
