using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Routing;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// Guest commands over KVP (<see cref="KvpCommand"/>; docs/hyperv-backend.md §4): batched reachability probes
    /// (<see cref="IBatchProbe"/>) and the guest's routing (<see cref="IRoutingReader"/>). One exchange per call: every
    /// request item goes to the guest in one AddKvpItems call (at most 128 items per call), the answers are polled from
    /// <c>Msvm_KvpExchangeComponent.GuestExchangeItems</c>, and the request items are removed in one RemoveKvpItems call.
    /// No state lock is held; calls for different routers run side by side.
    /// </summary>
    public sealed partial class HyperVBackend : IBatchProbe, IRoutingReader
    {
        /// <summary>The guest's time limit for <c>routes</c> and <c>routing</c> (guest contract §3: 10 s).</summary>
        private static readonly TimeSpan RoutingCommandBound = TimeSpan.FromSeconds(10);

        /// <summary>The outcome of one request: the guest's answer, or why there is none.</summary>
        private sealed class KvpOutcome
        {
            public KvpCommand.Answer? Answer;
            public string? Failure;
            public bool TimedOut;
        }

        private static string NewCommandKey() => KvpConfig.ProbePrefix + Guid.NewGuid().ToString("N").Substring(0, 12);

        /// <summary>
        /// Sends <paramref name="requests"/> (command texts, each within <see cref="KvpCommand.ValueBudget"/>) to the guest of
        /// <paramref name="vm"/> in one exchange and waits for all answers at most <paramref name="wait"/>. Returns one
        /// outcome per request, in order.
        /// </summary>
        private List<KvpOutcome> KvpExchange(HyperVHost host, HostOp op, VmRecord vm, string router, IReadOnlyList<string> requests, TimeSpan wait, CancellationToken ct)
        {
            foreach (var r in requests)
                if (r.Length > KvpCommand.ValueBudget)
                    throw new InvalidOperationException($"a KVP command of {r.Length} characters (at most {KvpCommand.ValueBudget})");
            var keys = requests.Select(_ => NewCommandKey()).ToList();
            var items = keys.Select((k, i) => new KeyValuePair<string, string>(k, requests[i])).ToList();
            var vmRef = host.VmRef(vm.Guid);
            var outcomes = requests.Select(_ => new KvpOutcome()).ToList();
            Kvp(host, op, vmRef, "AddKvpItems", items, ct);
            try
            {
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    var comp = host.Query(op, "SELECT * FROM Msvm_KvpExchangeComponent WHERE SystemName = '" + HyperVNames.Wql(vm.Guid) + "'", ct).FirstOrDefault();
                    var guest = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var item in comp?.GetStrings("GuestExchangeItems") ?? Array.Empty<string>())
                    {
                        CimObject o;
                        try { o = CimXml.Read(item); } catch (FormatException) { continue; }
                        if (o.GetString("Name") is string name && name.StartsWith(KvpConfig.ProbePrefix, StringComparison.Ordinal)) guest[name] = o.GetString("Data") ?? "";
                    }
                    bool pending = false;
                    for (int i = 0; i < keys.Count; i++)
                    {
                        if (outcomes[i].Answer != null || outcomes[i].Failure != null) continue;
                        try
                        {
                            outcomes[i].Answer = KvpCommand.TryAnswer(guest, keys[i]);
                            if (outcomes[i].Answer == null) pending = true;
                        }
                        catch (FormatException ex)
                        {
                            outcomes[i].Failure = $"the guest agent of '{router}' answered '{KvpCommand.Shorten(requests[i])}' with something that is not a KVP command answer ({ex.Message})";
                        }
                    }
                    if (!pending) return outcomes;
                    if (clock.Elapsed > wait)
                    {
                        foreach (var o in outcomes.Where(o => o.Answer == null && o.Failure == null))
                        {
                            o.TimedOut = true;
                            o.Failure = string.Format(CultureInfo.InvariantCulture,
                                "no answer from the guest agent of '{0}' within {1:0.#} s (the image needs hv_kvp_daemon and the vn agent with KVP commands; docs/hyperv-backend.md §4)",
                                router, wait.TotalSeconds);
                        }
                        return outcomes;
                    }
                    if (ct.WaitHandle.WaitOne(Options.PollInterval)) ct.ThrowIfCancellationRequested();
                }
            }
            finally
            {
                try { Kvp(host, op, vmRef, "RemoveKvpItems", items, CancellationToken.None); }
                catch (VirtualNetworksException) { }
            }
        }

        /// <summary>The time the host waits for a guest's answers: ProbeTimeout plus the guest's own bounds for the requests.</summary>
        private TimeSpan CommandWait(TimeSpan guestBound) => Options.ProbeTimeout + (Options.WaitIncludesGuestBound ? guestBound : TimeSpan.Zero);

        // ================================================================================================ batched probes

        public IReadOnlyList<ProbeResult> ProbeMany(string fromRouter, IReadOnlyList<string> addresses, CancellationToken cancellationToken)
        {
            if (addresses == null) throw new ArgumentNullException(nameof(addresses));
            var ct = cancellationToken;
            // Addresses reach the guest's command line: checked here whatever the caller checked.
            foreach (var a in addresses)
                if (a == null || !KvpConfig.IsAddress(a) || a.IndexOf('%') >= 0)
                    throw new VirtualNetworksException(ErrorIds.InvalidAddress, ErrorKind.InvalidArgument, a, $"'{a}' is not an IP address.");
            var operation = $"Probing {addresses.Count} address(es) from router '{fromRouter}'";
            var (host, _, vm) = FindRouter(fromRouter, operation, ct)!.Value;
            if (addresses.Count == 0) return Array.Empty<ProbeResult>();
            if (vm.EnabledState != 2)
                return addresses.Select(_ => new ProbeResult { Reachable = false, Detail = $"router '{fromRouter}' is not running ({MapState(vm.EnabledState)})" }).ToArray();
            var op = host.Op(operation, fromRouter);
            var requests = KvpCommand.ProbeRequests(addresses);
            var bound = TimeSpan.FromTicks(requests.Sum(r => KvpCommand.ProbeGuestBound(r.Count).Ticks));
            var wait = CommandWait(bound);
            var outcomes = KvpExchange(host, op, vm, fromRouter, requests.Select(r => r.Request).ToList(), wait, ct);

            var results = new ProbeResult?[addresses.Count];
            var failures = new List<(KvpOutcome Outcome, string Message)>();
            int unknown = 0;
            for (int k = 0; k < requests.Count; k++)
            {
                var (_, first, count) = requests[k];
                var asked = addresses.Skip(first).Take(count).ToList();
                var o = outcomes[k];
                string? failure = o.Failure;
                if (o.Answer is KvpCommand.Answer answer)
                {
                    if (KvpCommand.IsUnknownCommand(answer)) { unknown++; continue; }
                    if (answer.Code == 0 || answer.Code == 1)
                    {
                        try
                        {
                            var parsed = KvpCommand.ParseProbeLines(asked, answer.Output);
                            for (int j = 0; j < count; j++) results[first + j] = parsed[j];
                            continue;
                        }
                        catch (FormatException ex)
                        {
                            failure = $"the guest agent of '{fromRouter}' answered a probe of {count} address(es) with something that is not a probe answer ({ex.Message})";
                        }
                    }
                    else
                    {
                        var said = answer.Lines.FirstOrDefault() ?? answer.Legacy ?? "";
                        failure = answer.Code == 124
                            ? $"the guest agent of '{fromRouter}' stopped a probe of {count} address(es) at its time limit (code 124)"
                            : $"the guest agent of '{fromRouter}' failed a probe of {count} address(es) with code {answer.Code}: {KvpCommand.Shorten(said)}";
                    }
                }
                failures.Add((o, failure!));
                for (int j = 0; j < count; j++) results[first + j] = new ProbeResult { Reachable = false, Detail = "probe failed: " + failure };
            }

            if (unknown > 0)
            {
                // An image whose agent answers only `ping` (older than batched probes): one single probe per address.
                for (int k = 0; k < requests.Count; k++)
                {
                    if (outcomes[k].Answer is not KvpCommand.Answer a || !KvpCommand.IsUnknownCommand(a)) continue;
                    for (int j = 0; j < requests[k].Count; j++)
                    {
                        int i = requests[k].First + j;
                        try { results[i] = Probe(fromRouter, addresses[i], ct); }
                        catch (VirtualNetworksException ex) { results[i] = new ProbeResult { Reachable = false, Detail = "probe failed: " + ex.Message }; }
                    }
                }
            }
            if (failures.Count == requests.Count)
            {
                // Nothing could be probed at all: one error naming the router (IBatchProbe).
                bool timedOut = failures.All(f => f.Outcome.TimedOut);
                throw HyperVErrors.Error(timedOut ? HyperVErrorIds.GuestNoAnswer : HyperVErrorIds.GuestAnswerInvalid,
                    timedOut ? ErrorKind.OperationTimeout : ErrorKind.InvalidResult, fromRouter,
                    $"{operation}: {failures[0].Message}.",
                    timedOut ? $"Check that router '{fromRouter}' runs the project's router.vhdx (its KVP agent answers probes) and that its guest has booted." : null);
            }
            return results.Select(r => r!).ToArray();
        }

        // ================================================================================================ routing (contract 2)

        public IReadOnlyList<VirtualRoute> GetRoutes(string routerName, CancellationToken cancellationToken)
        {
            var (vm, answer) = RunRoutingCommand(routerName, "routes", cancellationToken);
            return GuestRouting.ParseRoutes(routerName, answer.Lines, LinksByMac(vm));
        }

        public RoutingStatus GetRoutingStatus(string routerName, CancellationToken cancellationToken)
        {
            var (vm, answer) = RunRoutingCommand(routerName, "routing", cancellationToken);
            return GuestRouting.ParseRoutingStatus(routerName, answer.Lines, LinksByMac(vm));
        }

        private static Dictionary<string, string> LinksByMac(VmRecord vm)
        {
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var n in vm.Nics) if (!string.IsNullOrEmpty(n.Link)) map[GuestRouting.MacKey(n.Mac)] = n.Link;
            return map;
        }

        /// <summary>
        /// Runs a contract-2 read-only command (<c>routes</c>, <c>routing</c>) in a running router's guest over KVP. Not
        /// running: RouterNotRunning; no answer: HyperVGuestNoAnswer; an agent that does not know the command (code 127, or
        /// an agent older than KVP commands): GuestContractTooOld; any other failure: BackendOperationFailed.
        /// </summary>
        private (VmRecord Vm, KvpCommand.Answer Answer) RunRoutingCommand(string routerName, string command, CancellationToken ct)
        {
            var operation = $"Reading the routing of router '{routerName}' ('{command}')";
            var (host, _, vm) = FindRouter(routerName, operation, ct)!.Value;
            if (vm.EnabledState != 2)
            {
                var state = MapState(vm.EnabledState);
                throw new VirtualNetworksException(ErrorIds.RouterNotRunning, ErrorKind.InvalidOperation, routerName,
                    $"Cannot read the routing of virtual router '{routerName}': it is not running ({state}).")
                { RecommendedAction = (state == RouterState.Paused ? "Resume-VirtualRouter -Name " : "Start-VirtualRouter -Name ") + routerName };
            }
            var op = host.Op(operation, routerName);
            var o = KvpExchange(host, op, vm, routerName, new[] { command }, CommandWait(RoutingCommandBound), ct)[0];
            if (o.Answer == null)
                throw HyperVErrors.Error(o.TimedOut ? HyperVErrorIds.GuestNoAnswer : HyperVErrorIds.GuestAnswerInvalid,
                    o.TimedOut ? ErrorKind.OperationTimeout : ErrorKind.InvalidResult, routerName, $"{operation}: {o.Failure}.",
                    o.TimedOut ? $"Check that router '{routerName}' runs the project's router.vhdx and that its guest has booted." : null);
            var answer = o.Answer;
            if (KvpCommand.IsUnknownCommand(answer))
                throw new VirtualNetworksException(ErrorIds.GuestContractTooOld, ErrorKind.NotImplemented, routerName,
                    $"Router '{routerName}': the '{command}' command needs guest contract 2 with KVP commands, but the KVP agent of its image " +
                    "does not know it (an image built before dynamic routing, or before its KVP agent answered routing commands). " +
                    "Rebuild router.vhdx with images/router/build-vhdx.sh, then re-create the router.")
                { RecommendedAction = "Run images/router/build-vhdx.sh and deploy the routers again with the new image." };
            if (answer.Code != 0)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, routerName,
                    $"Router '{routerName}': the guest's '{command}' failed with exit code {answer.Code.ToString(CultureInfo.InvariantCulture)}" +
                    (answer.Code == 124 ? " (timed out in the guest)" : "") + ": " + string.Join(" | ", answer.Lines.Take(5)));
            return (vm, answer);
        }
    }
}
