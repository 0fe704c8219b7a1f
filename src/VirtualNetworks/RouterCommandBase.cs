using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Engine;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The base of the cmdlets that change existing virtual routers (Start-, Stop-, Suspend-, Resume-, Remove- and
    /// Move-VirtualRouter). It declares their shared parameters: the routers by -Name (wildcards allowed) or as
    /// -InputObject from the pipeline, -ComputerName and -PassThru.
    /// <para>A leaf that changes routers together (<see cref="ChangesTogether"/>: Start-, Stop-, Suspend-, Resume-) gathers
    /// the whole pipeline and works at its end: one observation per backend selects every router (in input order, each
    /// once), each router passes ShouldProcess with the leaf's action text (and the leaf's further question, <see cref="ShouldContinueWith"/>), then one engine call changes all the approved
    /// ones (<see cref="ChangeRouters"/>), and -PassThru writes them in input order. So N piped routers cost O(N) host
    /// work, not an observation of everything per router. The other leaves run router by router as each record arrives:
    /// the router freshly observed, ShouldProcess, <see cref="ChangeRouter"/>, -PassThru.</para>
    /// A router that is not found, and a router whose change fails, are non-terminating errors naming it; the others
    /// still change.
    /// </summary>
    public abstract class RouterCommandBase : VirtualNetworkCommandBase
    {
        [Parameter(ParameterSetName = ByNameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RouterNameCompleter))]
        public string[]? Name { get; set; }

        [Parameter(ParameterSetName = ByInputObjectSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public VirtualRouter[]? InputObject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(ComputerNameCompleter))]
        public string[]? ComputerName { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>What the pipeline asked for, in input order: name patterns or a given router, with the engine service of its hosts.</summary>
        private readonly List<(VirtualNetworkService Service, string[]? Patterns, VirtualRouter? Given)> _gathered =
            new List<(VirtualNetworkService, string[]?, VirtualRouter?)>();

        protected sealed override void ProcessRecord()
        {
            if (!ChangesTogether)
            {
                ForEachSelected(ObservedKinds.Routers, Name, InputObject, ComputerName, router => new[] { router.ComputerName }, (service, router) =>
                {
                    if (!ShouldProcess(router.Name, ActionText(router))) return;
                    var result = ChangeRouter(service, router);
                    if (PassThru && result != null) WriteObject(result);
                });
                return;
            }
            if (InputObject != null)
            {
                foreach (var given in InputObject.Where(o => o != null))
                    _gathered.Add((GetService(ComputerName ?? new[] { given.ComputerName }), null, given));
            }
            else
            {
                _gathered.Add((GetService(ComputerName), Name?.ToArray(), null));
            }
        }

        protected sealed override void EndRecords()
        {
            if (ChangesTogether) ChangeGathered();
            EndChanges();
        }

        /// <summary>Work after the last router was changed (a leaf's -Wait).</summary>
        protected virtual void EndChanges()
        {
        }

        /// <summary>
        /// Selects, asks and changes the gathered routers: per engine service (in the order the pipeline first named it),
        /// one observation, the routers in input order without duplicates, ShouldProcess for each, one
        /// <see cref="ChangeRouters"/> call, then each outcome: an error record naming the router, or the router for -PassThru.
        /// </summary>
        private void ChangeGathered()
        {
            foreach (var group in _gathered.GroupBy(g => g.Service).ToList())
            {
                var service = group.Key;
                Snapshot? snapshot = null;
                if (!TryItem(() => snapshot = service.Observe(CancellationToken))) continue;
                WriteStateWarnings(snapshot!);
                var selected = new List<VirtualRouter>();
                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                void Add(VirtualRouter router)
                {
                    if (seen.Add(router.Name)) selected.Add(router);
                }
                foreach (var (_, patterns, given) in group)
                {
                    if (given != null)
                    {
                        VirtualRouter? found = null;
                        if (TryItem(() => found = service.RequireRouter(snapshot!, given.Name))) Add(found!);
                    }
                    else
                    {
                        foreach (var router in SelectByName(ObservedKinds.Routers, service, snapshot!, patterns)) Add(router);
                    }
                }
                var approved = selected.Where(r => ShouldProcess(r.Name, ActionText(r)) && ShouldContinueWith(r)).ToList();
                if (approved.Count == 0) continue;
                IReadOnlyList<RouterChangeOutcome>? outcomes = null;
                if (!TryItem(() => outcomes = ChangeRouters(service, approved))) continue;
                foreach (var outcome in outcomes!)
                {
                    if (outcome.Error != null) WriteError(ToErrorRecord(outcome.Error));
                    else if (PassThru && outcome.Router != null) WriteObject(outcome.Router);
                }
            }
            _gathered.Clear();
        }

        /// <summary>
        /// With <paramref name="wait"/>: every changed router of <paramref name="outcomes"/> queued for the readiness wait
        /// after the last router (<see cref="VirtualNetworkCommandBase.WaitForQueuedRouters"/> writes them for -PassThru once
        /// ready), and the outcomes without routers, so nothing is written before then; errors stay. Without: the outcomes.
        /// </summary>
        private protected IReadOnlyList<RouterChangeOutcome> WaitLater(VirtualNetworkService service, IReadOnlyList<RouterChangeOutcome> outcomes, bool wait)
        {
            if (!wait) return outcomes;
            foreach (var o in outcomes.Where(o => o.Router != null)) QueueReadyWait(service, o.Router!.Name);
            return outcomes.Select(o => o.Router == null ? o : new RouterChangeOutcome(o.Name, null, null)).ToList();
        }

        /// <summary>The ShouldProcess action for <paramref name="router"/> (the target is the router's name).</summary>
        protected abstract string ActionText(VirtualRouter router);

        /// <summary>
        /// A leaf's further question for a router that passed ShouldProcess (Remove-VirtualRouter's ShouldContinue for a
        /// running router), asked router by router in input order before the engine call; false leaves the router alone.
        /// </summary>
        private protected virtual bool ShouldContinueWith(VirtualRouter router) => true;

        /// <summary>True for a leaf that gathers the pipeline and changes its routers in one engine call (<see cref="ChangeRouters"/>).</summary>
        private protected virtual bool ChangesTogether => false;

        /// <summary>
        /// The engine call for one router that ShouldProcess allowed, as each record arrives (leaves that do not change
        /// routers together). Returns the router -PassThru writes, or null when the router was left alone.
        /// </summary>
        protected virtual VirtualRouter? ChangeRouter(VirtualNetworkService service, VirtualRouter router) =>
            throw new InvalidOperationException(GetType().Name + " changes its routers together (ChangeRouters).");

        /// <summary>
        /// The engine call for every router of the pipeline that ShouldProcess allowed (leaves with
        /// <see cref="ChangesTogether"/>), in input order. Returns one outcome per router, in that order: the router
        /// -PassThru writes (null to write nothing), or the router's error.
        /// </summary>
        private protected virtual IReadOnlyList<RouterChangeOutcome> ChangeRouters(VirtualNetworkService service, IReadOnlyList<VirtualRouter> routers) =>
            throw new InvalidOperationException(GetType().Name + " changes its routers one by one (ChangeRouter).");
    }
}
