using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    public abstract partial class VirtualNetworkCommandBase
    {
        /// <summary>The default of -TimeoutSec of Wait-VirtualRouter and of the -Wait of Deploy-, Start- and Resume-*.</summary>
        protected const int DefaultReadyTimeoutSec = 120;
        /// <summary>The largest -TimeoutSec accepted (one hour).</summary>
        protected const int MaximumReadyTimeoutSec = 3600;

        /// <summary>Progress activity id of the readiness wait (Wait-VirtualRouter and every -Wait).</summary>
        private const int ReadyActivityId = 21;

        private readonly List<(VirtualNetworkService Service, string Name)> _readyWaits = new List<(VirtualNetworkService, string)>();

        /// <summary>Remembers a router to wait for after the last pipeline record (<see cref="WaitForQueuedRouters"/>).</summary>
        protected void QueueReadyWait(VirtualNetworkService service, string routerName)
        {
            if (!_readyWaits.Any(p => ReferenceEquals(p.Service, service) && string.Equals(p.Name, routerName, StringComparison.OrdinalIgnoreCase)))
                _readyWaits.Add((service, routerName));
        }

        /// <summary>
        /// Waits for every router <see cref="QueueReadyWait"/> remembered, all at once per backend (one overall
        /// <paramref name="timeoutSec"/>), and writes the ready ones when <paramref name="passThru"/>.
        /// </summary>
        protected void WaitForQueuedRouters(int timeoutSec, bool passThru)
        {
            foreach (var group in _readyWaits.GroupBy(p => p.Service).ToList())
            {
                var ready = WaitForRouters(group.Key, group.Select(p => p.Name), timeoutSec);
                if (passThru) foreach (var router in ready) WriteObject(router);
            }
            _readyWaits.Clear();
        }

        /// <summary>
        /// Waits until the guests of <paramref name="names"/> on <paramref name="service"/> are ready, all at once, within
        /// <paramref name="timeoutSec"/> (the engine's <see cref="VirtualNetworkService.WaitUntilReady"/>), with progress.
        /// Each router that is not found, not running or not ready in time is a non-terminating error; a backend that cannot
        /// tell readiness ends the command. Returns the ready routers (with their guest's uptime), in the order given.
        /// </summary>
        protected IReadOnlyList<VirtualRouter> WaitForRouters(VirtualNetworkService service, IEnumerable<string> names, int timeoutSec)
        {
            var list = names.Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            if (list.Count == 0) return Array.Empty<VirtualRouter>();
            string activity = "Waiting for " + list.Count.ToString(CultureInfo.InvariantCulture) + " virtual router(s) to be ready";
            var progress = CreateProgress(ReadyActivityId, activity);
            IReadOnlyList<ReadinessOutcome> outcomes;
            try
            {
                outcomes = OrTerminate(() => service.WaitUntilReady(list, TimeSpan.FromSeconds(timeoutSec), progress, CancellationToken));
                progress.Drain();
            }
            finally
            {
                CompleteProgress(ReadyActivityId, activity);
            }
            var ready = new List<VirtualRouter>();
            foreach (var outcome in outcomes)
            {
                if (outcome.Error != null)
                {
                    WriteError(ToErrorRecord(outcome.Error));
                    continue;
                }
                var router = outcome.Router!;
                WriteVerbose(router.GuestUptime.HasValue
                    ? string.Format(CultureInfo.InvariantCulture, "Virtual router '{0}' is ready (guest up {1:0.0} s).", router.Name, router.GuestUptime.Value.TotalSeconds)
                    : "Virtual router '" + router.Name + "' is ready.");
                ready.Add(router);
            }
            return ready;
        }
    }
}
