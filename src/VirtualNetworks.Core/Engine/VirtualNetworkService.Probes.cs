using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Engine
{
    public sealed partial class VirtualNetworkService
    {
        /// <summary>True when the backend can send probe streams from inside a router (<see cref="IProbeStream"/>).</summary>
        public bool SupportsProbeStreams => Backend is IProbeStream;

        /// <summary>
        /// Sends <paramref name="count"/> probes from inside <paramref name="source"/>, one every
        /// <paramref name="intervalMilliseconds"/>, to <paramref name="targetAddress"/> or, when a router name is given as
        /// <paramref name="targetName"/>, to that router's address of the source's address family; returns the summary.
        /// Checks every argument before the backend is asked (<see cref="ProbeStreamLimits"/>). Takes no exclusive access and
        /// observes nothing beyond the two routers' recorded addresses, so it runs alongside a change of other routers (a live
        /// migration of the router the probes cross).
        /// </summary>
        public ConnectionTestResult TestConnection(string source, string? targetName, string? targetAddress, int count, int intervalMilliseconds, CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(source)) throw new ArgumentException("The source router is required.", nameof(source));
            CheckProbeStream(source, count, intervalMilliseconds);
            if (!(Backend is IProbeStream stream))
                throw new VirtualNetworksException(ErrorIds.OperationNotSupported, ErrorKind.NotImplemented, source,
                    $"The {Backend.Kind} backend cannot send probe streams from inside a router.")
                { RecommendedAction = "Use Test-VirtualNetwork for reachability." };
            string address;
            if (!string.IsNullOrEmpty(targetName))
            {
                address = PickAddress(stream, source, targetName!);
            }
            else
            {
                address = ParseAddress(targetAddress, source);
            }
            var clock = Stopwatch.StartNew();
            var answer = stream.ProbeStream(source, address, count, TimeSpan.FromMilliseconds(intervalMilliseconds), cancellationToken);
            clock.Stop();
            var result = Summarize(answer, intervalMilliseconds);
            result.Source = source;
            result.Target = string.IsNullOrEmpty(targetName) ? null : targetName;
            result.Address = address;
            result.Duration = clock.Elapsed;
            return result;
        }

        /// <summary>Throws InvalidProbe unless count, interval and their product are within <see cref="ProbeStreamLimits"/>.</summary>
        public static void CheckProbeStream(string source, int count, int intervalMilliseconds)
        {
            if (count < ProbeStreamLimits.MinimumCount || count > ProbeStreamLimits.MaximumCount)
                throw new VirtualNetworksException(ErrorIds.InvalidProbe, ErrorKind.InvalidArgument, source,
                    $"The probe count must be from {ProbeStreamLimits.MinimumCount} to {ProbeStreamLimits.MaximumCount}; it is {count}.");
            if (intervalMilliseconds < ProbeStreamLimits.MinimumIntervalMilliseconds || intervalMilliseconds > ProbeStreamLimits.MaximumIntervalMilliseconds)
                throw new VirtualNetworksException(ErrorIds.InvalidProbe, ErrorKind.InvalidArgument, source,
                    $"The probe interval must be from {ProbeStreamLimits.MinimumIntervalMilliseconds} to {ProbeStreamLimits.MaximumIntervalMilliseconds} ms; it is {intervalMilliseconds} ms.");
            if ((long)count * intervalMilliseconds > ProbeStreamLimits.MaximumDurationSeconds * 1000L)
                throw new VirtualNetworksException(ErrorIds.InvalidProbe, ErrorKind.InvalidArgument, source,
                    $"{count} probes every {intervalMilliseconds} ms take {count * (long)intervalMilliseconds / 1000.0:0.#} s; a probe stream may last at most " +
                    $"{ProbeStreamLimits.MaximumDurationSeconds} s. Send fewer probes or shorten the interval.");
        }

        private static string ParseAddress(string? text, string source)
        {
            var t = (text ?? "").Trim();
            if (t.Length == 0 || t.Length > 45 || t.IndexOfAny(new[] { '/', '%', ' ' }) >= 0 || !IPAddress.TryParse(t, out var ip) ||
                (ip.AddressFamily == AddressFamily.InterNetwork && t.Count(c => c == '.') != 3))
                throw new VirtualNetworksException(ErrorIds.InvalidAddress, ErrorKind.InvalidArgument, text,
                    $"Cannot probe from router '{source}': '{text}' is not an IPv4 or IPv6 address (no prefix length, no zone).");
            return ip.ToString();
        }

        /// <summary>The target router's address in the source's address family (the first one, by interface order).</summary>
        private static string PickAddress(IProbeStream stream, string source, string target)
        {
            var sourceAddresses = stream.AddressesOf(source);
            var targetAddresses = stream.AddressesOf(target).Select(a => a.Split('/')[0]).Where(a => IPAddress.TryParse(a, out _)).ToList();
            if (targetAddresses.Count == 0)
                throw new VirtualNetworksException(ErrorIds.InvalidAddress, ErrorKind.InvalidOperation, target,
                    $"Virtual router '{target}' has no address to probe: it has no configured link yet.");
            var family = sourceAddresses.Select(a => a.Split('/')[0]).Select(a => IPAddress.TryParse(a, out var ip) ? ip.AddressFamily : (AddressFamily?)null)
                .FirstOrDefault(f => f != null);
            var chosen = family == null ? targetAddresses[0]
                : targetAddresses.FirstOrDefault(a => IPAddress.Parse(a).AddressFamily == family) ?? targetAddresses[0];
            return IPAddress.Parse(chosen).ToString();
        }

        /// <summary>Sent, received, lost, the longest run of lost probes and the round trips, from what the backend saw.</summary>
        public static ConnectionTestResult Summarize(ProbeStreamAnswer answer, int intervalMilliseconds)
        {
            if (answer == null) throw new ArgumentNullException(nameof(answer));
            int sent = Math.Max(0, answer.Sent);
            var answered = answer.RoundTrips.Where(kv => kv.Key >= 0 && kv.Key < sent).ToList();
            int longest = 0, run = 0;
            for (int seq = 0; seq < sent; seq++)
            {
                if (answer.RoundTrips.ContainsKey(seq)) run = 0;
                else longest = Math.Max(longest, ++run);
            }
            return new ConnectionTestResult
            {
                Sent = sent,
                Received = answered.Count,
                Lost = sent - answered.Count,
                LongestLossRun = longest,
                LongestGapMilliseconds = (double)longest * intervalMilliseconds,
                MaximumRoundTripMilliseconds = answered.Count == 0 ? (double?)null : answered.Max(kv => kv.Value),
                AverageRoundTripMilliseconds = answered.Count == 0 ? (double?)null : Math.Round(answered.Average(kv => kv.Value), 3),
                IntervalMilliseconds = intervalMilliseconds,
                Detail = answer.Detail,
            };
        }
    }
}
