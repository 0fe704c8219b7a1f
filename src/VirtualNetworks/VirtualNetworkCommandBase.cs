using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// The root base of every VirtualNetworks cmdlet. It owns backend resolution (lazily, one engine service per set of
    /// hosts), cancellation (a token cancelled in <see cref="StopProcessing"/> and passed to every engine call), error
    /// translation (engine exceptions to ErrorRecords with stable ids), selection by name and progress. Everything here
    /// runs on the pipeline thread; the engine is synchronous, so no Write* call ever happens elsewhere. Cmdlets that
    /// share a parameter block derive from one intermediate base instead (<see cref="RouterCommandBase"/>,
    /// <see cref="LinkCommandBase"/>, <see cref="NetworkSelectionCommandBase"/>); no chain is deeper than that.
    /// </summary>
    public abstract partial class VirtualNetworkCommandBase : PSCmdlet, IDisposable
    {
        /// <summary>Parameter set of the commands that take names (wildcards allowed).</summary>
        protected const string ByNameSet = "ByName";
        /// <summary>Parameter set of the commands that take the module's own objects from the pipeline.</summary>
        protected const string ByInputObjectSet = "ByInputObject";

        private readonly CancellationTokenSource _cancellation = new CancellationTokenSource();
        private readonly Dictionary<string, VirtualNetworkService> _services = new Dictionary<string, VirtualNetworkService>(StringComparer.Ordinal);
        private bool _disposed;

        /// <summary>
        /// CIM sessions to Hyper-V hosts (objects from New-CimSession). Their hosts join -ComputerName, the sessions are used
        /// as they are (authentication included) and never closed by the module. Binding it selects the Hyper-V backend.
        /// Typed as object so that no Microsoft.Management.Infrastructure type reaches the cmdlet layer; each element is
        /// checked to be a CimSession before anything is contacted.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public object[]? CimSession { get; set; }

        /// <summary>The account used to reach remote Hyper-V hosts over WS-Man (Negotiate: Kerberos, else NTLM).</summary>
        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped; pass it to every engine call.</summary>
        protected CancellationToken CancellationToken => _cancellation.Token;

        private PipelineProgress? _verboseLog;

        /// <summary>
        /// The engine's log (<see cref="VirtualNetworkService.Log"/>) as -Verbose output: written at once on the pipeline
        /// thread, queued from other threads until <see cref="DrainVerbose"/> (called after every engine call made through
        /// <see cref="TryItem"/> and <see cref="OrTerminate{T}"/>, and at the end of the command). Created on first use, which
        /// is always on the pipeline thread (backend resolution).
        /// </summary>
        private PipelineProgress VerboseLog => _verboseLog ??= new PipelineProgress(WriteVerbose);

        /// <summary>Writes the engine's log lines that other threads queued; call on the pipeline thread.</summary>
        protected void DrainVerbose() => _verboseLog?.Drain();

        // ============================================================================================ backend

        /// <summary>
        /// The engine service for <paramref name="computerName"/> (empty or null = the local machine), created on first
        /// use and reused for the rest of the command. No backend available is a terminating error.
        /// </summary>
        protected VirtualNetworkService GetService(IEnumerable<string>? computerName) => GetService(computerName, hostsMayNotExistYet: false);

        /// <summary>
        /// As <see cref="GetService(IEnumerable{string})"/>; with <paramref name="hostsMayNotExistYet"/> the backend accepts
        /// host names the command is about to create (the declared lab hosts of a topology file).
        /// </summary>
        protected VirtualNetworkService GetService(IEnumerable<string>? computerName, bool hostsMayNotExistYet)
        {
            var sessions = SessionObjects();
            var hosts = (computerName ?? Enumerable.Empty<string>())
                .Concat(sessions.Select(SessionComputerName))
                .Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim())
                .Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
            var canonical = hosts.Select(h => HostNames.Canonical(h).ToUpperInvariant()).Distinct().OrderBy(h => h, StringComparer.Ordinal).ToArray();
            string key = canonical.Length == 0 || (canonical.Length == 1 && HostNames.IsLocalHost(canonical[0]))
                ? ""
                : string.Join("\n", canonical);

            if (_services.TryGetValue(key, out var existing)) return existing;
            VirtualNetworkService service;
            try
            {
                BackendBootstrap.EnsureRegistered();
                var request = new BackendRequest
                {
                    ComputerName = hosts,
                    Kind = sessions.Count > 0 ? BackendBootstrap.HyperVKind : null,
                    HostsMayNotExistYet = hostsMayNotExistYet,
                };
                if (sessions.Count > 0) request.Options[BackendBootstrap.CimSessionOption] = sessions.ToArray();
                if (Credential != null && Credential != PSCredential.Empty)
                    request.Options[BackendBootstrap.CredentialOption] = Credential.GetNetworkCredential();
                var backend = BackendRegistry.Resolve(request);
                if (!string.Equals(backend.Kind, BackendBootstrap.HyperVKind, StringComparison.OrdinalIgnoreCase) &&
                    request.Options.ContainsKey(BackendBootstrap.CredentialOption))
                    WriteWarning("-Credential applies to Hyper-V hosts only; the " + backend.Kind + " backend ignores it.");
                service = new VirtualNetworkService(backend) { Log = VerboseLog };
            }
            catch (VirtualNetworksException ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex));
                throw; // not reached: ThrowTerminatingError always throws
            }
            _services[key] = service;
            WriteVerbose("Using the " + service.Backend.Kind + " backend (" +
                         (sessions.Count > 0 ? "selected by -CimSession" : "the default of this platform") + ") for " +
                         (hosts.Length == 0 ? "the local machine (" + HostNames.LocalName + ")" : "host(s) " + string.Join(", ", hosts)) + ".");
            foreach (var line in OrTerminate(() => service.DescribeBackend())) WriteVerbose(line + ".");
            return service;
        }

        /// <summary>
        /// The -CimSession objects, unwrapped. Anything that is not a Microsoft.Management.Infrastructure.CimSession is a
        /// terminating InvalidArgument error, raised before any host is contacted.
        /// </summary>
        private List<object> SessionObjects()
        {
            var result = new List<object>();
            foreach (var item in CimSession ?? Array.Empty<object>())
            {
                object? value = item is PSObject pso ? pso.BaseObject : item;
                if (value == null) continue;
                if (!string.Equals(value.GetType().FullName, "Microsoft.Management.Infrastructure.CimSession", StringComparison.Ordinal))
                {
                    var ex = new VirtualNetworksException(ErrorIds.CimSessionInvalid, ErrorKind.InvalidArgument, value.ToString(),
                        "-CimSession takes sessions created by New-CimSession; '" + value + "' is a " + value.GetType().FullName + ".");
                    ThrowTerminatingError(ToErrorRecord(ex));
                }
                result.Add(value);
            }
            return result;
        }

        private static string SessionComputerName(object session)
        {
            var name = PSObject.AsPSObject(session).Properties["ComputerName"]?.Value as string;
            return string.IsNullOrWhiteSpace(name) ? "" : name!;
        }

        // ============================================================================================ lifecycle

        protected override void EndProcessing()
        {
            try
            {
                EndRecords();
                DrainVerbose();
            }
            finally
            {
                ReleaseServices(onPipelineThread: true);
            }
        }

        /// <summary>Work that runs once after the last pipeline record (the base releases the backend afterwards).</summary>
        protected virtual void EndRecords()
        {
        }

        /// <summary>
        /// Cancels the running engine call. Disposal of the backend waits for <see cref="Dispose()"/>, which PowerShell calls
        /// once the pipeline thread has left the engine: disposing a backend under a call still unwinding is not safe.
        /// </summary>
        protected override void StopProcessing()
        {
            try
            {
                _cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            ReleaseServices(onPipelineThread: false);
            _cancellation.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>Disposes the backends; a failure to close one is only worth a verbose line, and only where writing is allowed.</summary>
        private void ReleaseServices(bool onPipelineThread)
        {
            foreach (var service in _services.Values)
            {
                try
                {
                    service.Dispose();
                }
                catch (VirtualNetworksException ex)
                {
                    if (onPipelineThread) WriteVerbose("Closing the backend failed: " + ex.Message);
                }
            }
            _services.Clear();
        }

        // ============================================================================================ errors

        /// <summary>The ErrorRecord for an engine exception: its id, its kind as the category, its target.</summary>
        protected static ErrorRecord ToErrorRecord(VirtualNetworksException ex)
        {
            var record = new ErrorRecord(ex, ex.ErrorId, Category(ex.Kind), ex.TargetName);
            if (!string.IsNullOrEmpty(ex.RecommendedAction))
                record.ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = ex.RecommendedAction };
            return record;
        }

        /// <summary>The ErrorRecord for one topology problem; the message names the JSON path and position when known.</summary>
        protected static ErrorRecord ToErrorRecord(TopologyError error)
        {
            string message = error.Message;
            if (!string.IsNullOrEmpty(error.JsonPath) && message.IndexOf(error.JsonPath, StringComparison.Ordinal) < 0)
                message = error.JsonPath + ": " + message;
            if (error.Line.HasValue && message.IndexOf("line " + error.Line.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal) < 0)
                message += " (line " + error.Line.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) +
                           (error.Column.HasValue ? ", column " + error.Column.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : "") + ")";
            var ex = new VirtualNetworksException(error.ErrorId, error.Kind, error.Target, message) { RecommendedAction = error.RecommendedAction };
            return ToErrorRecord(ex);
        }

        /// <summary>The record for a cancelled operation.</summary>
        protected static ErrorRecord ToErrorRecord(OperationCanceledException ex) =>
            new ErrorRecord(ex, ErrorIds.OperationCanceled, ErrorCategory.OperationStopped, null);

        /// <summary>Engine kinds are named after ErrorCategory members, so the mapping is by name.</summary>
        protected static ErrorCategory Category(ErrorKind kind) =>
            Enum.TryParse(kind.ToString(), out ErrorCategory category) ? category : ErrorCategory.NotSpecified;

        /// <summary>
        /// Reports topology problems: every one but the first as a non-terminating error, then the first as a terminating
        /// error when <paramref name="terminating"/>, else as one more non-terminating error.
        /// </summary>
        protected void ReportTopologyErrors(IReadOnlyList<TopologyError> errors, bool terminating)
        {
            if (errors.Count == 0) return;
            if (!terminating)
            {
                foreach (var e in errors) WriteError(ToErrorRecord(e));
                return;
            }
            for (int i = 1; i < errors.Count; i++) WriteError(ToErrorRecord(errors[i]));
            ThrowTerminatingError(ToErrorRecord(errors[0]));
        }

        /// <summary>
        /// Runs one item's engine work. An expected fault becomes a non-terminating error (one per topology problem) and
        /// false, so the caller carries on with the next item; cancellation ends the command.
        /// </summary>
        protected bool TryItem(Action work)
        {
            try
            {
                work();
                DrainVerbose();
                return true;
            }
            catch (OperationCanceledException ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex));
            }
            catch (TopologyValidationException ex)
            {
                DrainVerbose();
                ReportTopologyErrors(ex.Errors, terminating: false);
            }
            catch (VirtualNetworksException ex)
            {
                DrainVerbose();
                WriteError(ToErrorRecord(ex));
            }
            return false;
        }

        /// <summary>Runs work where any expected fault ends the command (a terminating error).</summary>
        protected T OrTerminate<T>(Func<T> work)
        {
            try
            {
                var result = work();
                DrainVerbose();
                return result;
            }
            catch (OperationCanceledException ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex));
            }
            catch (TopologyValidationException ex)
            {
                DrainVerbose();
                ReportTopologyErrors(ex.Errors, terminating: true);
            }
            catch (VirtualNetworksException ex)
            {
                DrainVerbose();
                ThrowTerminatingError(ToErrorRecord(ex));
            }
            throw new InvalidOperationException("unreachable");
        }

        // ============================================================================================ selection

        /// <summary>
        /// Observes the hosts of <paramref name="computerName"/> through their engine service. False after a
        /// non-terminating error when the observation fails; <paramref name="snapshot"/> is only set when true.
        /// </summary>
        protected bool TryObserve(IEnumerable<string>? computerName, out VirtualNetworkService service, out Snapshot snapshot)
        {
            var chosen = GetService(computerName);
            Snapshot? observed = null;
            bool ok = TryItem(() => observed = chosen.Observe(CancellationToken));
            service = chosen;
            snapshot = observed!;
            if (ok) WriteStateWarnings(snapshot);
            return ok;
        }

        private readonly HashSet<string> _stateWarnings = new HashSet<string>(StringComparer.Ordinal);

        /// <summary>
        /// The backend's warnings about state it could not read (a damaged record: the objects it describes are not shown),
        /// each once per command.
        /// </summary>
        protected void WriteStateWarnings(Snapshot snapshot)
        {
            foreach (var w in snapshot.Inventory.Warnings)
                if (_stateWarnings.Add(w)) WriteWarning(w);
        }

        /// <summary>
        /// The objects of <paramref name="kind"/> whose names match <paramref name="patterns"/> (all when none), without
        /// duplicates, sorted by name. A wildcard that matches nothing is silent; a literal that matches nothing is the
        /// kind's non-terminating not-found error.
        /// </summary>
        private protected List<T> SelectByName<T>(ObservedKind<T> kind, VirtualNetworkService service, Snapshot snapshot, IEnumerable<string>? patterns)
            where T : class
        {
            var all = kind.All(snapshot).ToList();
            var given = patterns?.Where(p => !string.IsNullOrEmpty(p)).ToList();
            if (given == null || given.Count == 0)
                return all.OrderBy(kind.NameOf, StringComparer.OrdinalIgnoreCase).ToList();

            var picked = new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase);
            foreach (var pattern in given)
            {
                if (WildcardPattern.ContainsWildcardCharacters(pattern))
                {
                    var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);
                    foreach (var item in all.Where(i => wildcard.IsMatch(kind.NameOf(i))))
                        picked[kind.NameOf(item)] = item;
                }
                else
                {
                    string literal = WildcardPattern.Unescape(pattern);
                    TryItem(() =>
                    {
                        var item = kind.Require(service, snapshot, literal);
                        picked[kind.NameOf(item)] = item;
                    });
                }
            }
            return picked.Values.OrderBy(kind.NameOf, StringComparer.OrdinalIgnoreCase).ToList();
        }

        /// <summary>True when the name filter is empty or one of its patterns (wildcards allowed) matches.</summary>
        protected static bool MatchesAny(string name, IEnumerable<string>? patterns)
        {
            var given = patterns?.Where(p => !string.IsNullOrEmpty(p)).ToList();
            if (given == null || given.Count == 0) return true;
            return given.Any(p => new WildcardPattern(p, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant).IsMatch(name));
        }

        /// <summary>
        /// Calls <paramref name="action"/> for each object of <paramref name="kind"/> named by <paramref name="names"/>
        /// (wildcards allowed) or given as <paramref name="inputObjects"/>, each freshly observed: a given object is looked
        /// up again by its name, on <paramref name="computerName"/> when bound, else on the hosts
        /// <paramref name="hostsOf"/> reads from it. An object that is not found, and a failing action, are
        /// non-terminating errors; the next object still runs.
        /// </summary>
        private protected void ForEachSelected<T>(ObservedKind<T> kind, string[]? names, T[]? inputObjects, string[]? computerName,
            Func<T, string[]> hostsOf, Action<VirtualNetworkService, T> action) where T : class
        {
            if (inputObjects != null)
            {
                foreach (var given in inputObjects.Where(o => o != null))
                {
                    var service = GetService(computerName ?? hostsOf(given));
                    T? current = null;
                    if (TryItem(() => current = kind.Require(service, service.Observe(CancellationToken), kind.NameOf(given))))
                        TryItem(() => action(service, current!));
                }
                return;
            }

            if (!TryObserve(computerName, out var byName, out var snapshot)) return;
            foreach (var item in SelectByName(kind, byName, snapshot, names))
                TryItem(() => action(byName, item));
        }

        // ============================================================================================ ShouldProcess

        /// <summary>True when -WhatIf is in effect (the parameter, else $WhatIfPreference).</summary>
        protected bool WhatIfRequested()
        {
            if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var bound)) return IsTrue(bound);
            return IsTrue(GetVariableValue("WhatIfPreference"));
        }

        /// <summary>
        /// True when the user is being asked to confirm changes of <paramref name="impact"/>: -Confirm, else
        /// $ConfirmPreference at or below the impact. An extra ShouldContinue question is only asked then, so scripts
        /// that turned confirmation off (-Confirm:$false, $ConfirmPreference = 'None') never block on a prompt.
        /// </summary>
        protected bool ConfirmationRequested(ConfirmImpact impact)
        {
            if (MyInvocation.BoundParameters.TryGetValue("Confirm", out var bound)) return IsTrue(bound);
            var preference = GetVariableValue("ConfirmPreference");
            if (preference is PSObject pso) preference = pso.BaseObject;
            ConfirmImpact level;
            if (preference is ConfirmImpact c) level = c;
            else if (preference == null || !Enum.TryParse(preference.ToString(), true, out level)) level = ConfirmImpact.High;
            return level != ConfirmImpact.None && impact >= level;
        }

        private static bool IsTrue(object? value)
        {
            if (value is PSObject pso) value = pso.BaseObject;
            if (value is SwitchParameter s) return s.IsPresent;
            return value != null && LanguagePrimitives.IsTrue(value);
        }

        // ============================================================================================ paths

        /// <summary>
        /// Resolves a PowerShell path (relative to the current location, drives, ~) to a file-system path that need not
        /// exist yet. False with the reason when it cannot be resolved or is not on the file system.
        /// </summary>
        protected bool TryResolveFileSystemPath(string path, out string resolved, out string problem)
        {
            resolved = "";
            problem = "";
            try
            {
                resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out ProviderInfo provider, out _);
                if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
                {
                    problem = "The path '" + path + "' is on the " + provider.Name + " provider, not the file system.";
                    return false;
                }
                return true;
            }
            catch (Exception ex) when (ex is RuntimeException || ex is ArgumentException || ex is NotSupportedException || ex is System.IO.IOException)
            {
                problem = "The path '" + path + "' cannot be resolved: " + ex.Message;
                return false;
            }
        }

        // ============================================================================================ progress

        /// <summary>Writes a progress record under the cmdlet's stable activity id; percent &lt; 0 means unknown.</summary>
        protected void WriteProgressStatus(int activityId, string activity, string status, int percentComplete = -1)
        {
            var record = new ProgressRecord(activityId, activity, string.IsNullOrEmpty(status) ? activity : status);
            if (percentComplete >= 0) record.PercentComplete = Math.Min(100, percentComplete);
            WriteProgress(record);
        }

        /// <summary>Ends the activity (a Completed record).</summary>
        protected void CompleteProgress(int activityId, string activity)
        {
            WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        }

        /// <summary>
        /// An <see cref="IProgress{T}"/> for the engine that writes progress on the pipeline thread: reports from other
        /// threads are queued and written by the next report on the pipeline thread or by <see cref="PipelineProgress.Drain"/>.
        /// </summary>
        protected PipelineProgress CreateProgress(int activityId, string activity) =>
            new PipelineProgress(message => WriteProgressStatus(activityId, activity, message));
    }
}
