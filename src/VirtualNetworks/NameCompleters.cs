using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Threading;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Tab completion of observed names. Resolves the backend for the -ComputerName already typed, observes once, and
    /// offers the names that start with what was typed. A completer must never throw: every failure gives no
    /// completions.
    /// </summary>
    public abstract class ObservedNameCompleter : IArgumentCompleter
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

        /// <summary>The names to offer from one observation.</summary>
        protected abstract IEnumerable<string> NamesOf(Snapshot snapshot);

        /// <summary>
        /// The names to offer from one observation, knowing the parameters already typed (<paramref name="fakeBoundParameters"/>;
        /// may be null). The default ignores them.
        /// </summary>
        protected virtual IEnumerable<string> NamesOf(Snapshot snapshot, IDictionary? fakeBoundParameters) => NamesOf(snapshot);

        /// <summary>
        /// The hosts to observe: the -ComputerName already typed (none = the local machine). A completer of host names
        /// overrides it: the value being completed is not a host to ask yet.
        /// </summary>
        protected virtual IReadOnlyList<string> HostsToObserve(IDictionary? fakeBoundParameters) => Strings(fakeBoundParameters, "ComputerName");

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            try
            {
                string word = wordToComplete ?? "";
                char quote = word.Length > 0 && (word[0] == '\'' || word[0] == '"') ? word[0] : '\0';
                string prefix = quote == '\0' ? word : word.Substring(1).TrimEnd(quote);
                prefix = prefix.TrimEnd('*');

                BackendBootstrap.EnsureRegistered();
                var request = new BackendRequest { ComputerName = HostsToObserve(fakeBoundParameters), Kind = null };
                using (var timeout = new CancellationTokenSource(Timeout))
                using (var service = new VirtualNetworkService(BackendRegistry.Resolve(request)))
                {
                    var snapshot = service.Observe(timeout.Token);
                    return NamesOf(snapshot, fakeBoundParameters)
                        .Where(n => !string.IsNullOrEmpty(n) && n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                        .Distinct(StringComparer.OrdinalIgnoreCase)
                        .OrderBy(n => n, StringComparer.OrdinalIgnoreCase)
                        .Select(n => new CompletionResult(quote == '\0' ? n : quote + n + quote, n, CompletionResultType.ParameterValue, n))
                        .ToList();
                }
            }
            catch (Exception)
            {
                return Array.Empty<CompletionResult>();
            }
        }

        /// <summary>The string values of an already typed parameter (none when it is not bound).</summary>
        protected static IReadOnlyList<string> Strings(IDictionary? bound, string parameter)
        {
            if (bound == null || !bound.Contains(parameter)) return Array.Empty<string>();
            object? value = bound[parameter];
            if (value is PSObject pso) value = pso.BaseObject;
            if (value is string s) return new[] { s };
            if (value is IEnumerable many)
                return many.Cast<object?>().Where(o => o != null).Select(o => o is PSObject p ? p.BaseObject.ToString() : o!.ToString()).ToArray()!;
            return value == null ? Array.Empty<string>() : new[] { value.ToString()! };
        }
    }

    /// <summary>Completes virtual router names.</summary>
    public sealed class RouterNameCompleter : ObservedNameCompleter
    {
        protected override IEnumerable<string> NamesOf(Snapshot snapshot) => snapshot.Routers.Select(r => r.Name);
    }

    /// <summary>Completes virtual link names.</summary>
    public sealed class LinkNameCompleter : ObservedNameCompleter
    {
        protected override IEnumerable<string> NamesOf(Snapshot snapshot) => snapshot.Links.Select(l => l.Name);
    }

    /// <summary>Completes virtual network names.</summary>
    public sealed class NetworkNameCompleter : ObservedNameCompleter
    {
        protected override IEnumerable<string> NamesOf(Snapshot snapshot) => snapshot.Networks.Select(n => n.Name);
    }

    /// <summary>Completes host names (the local machine and lab hosts, or the Hyper-V hosts reached).</summary>
    public sealed class HostNameCompleter : ObservedNameCompleter
    {
        protected override IEnumerable<string> NamesOf(Snapshot snapshot) => snapshot.Hosts.Select(h => h.Name);
    }

    /// <summary>
    /// Completes -ComputerName (and other parameters that name hosts): the hosts Get-VirtualHost observes on the local
    /// machine's backend, lab hosts included. The host names already typed are not asked.
    /// </summary>
    public sealed class ComputerNameCompleter : ObservedNameCompleter
    {
        protected override IReadOnlyList<string> HostsToObserve(IDictionary? fakeBoundParameters) => Array.Empty<string>();

        protected override IEnumerable<string> NamesOf(Snapshot snapshot) => snapshot.Hosts.Select(h => h.Name);
    }

    /// <summary>
    /// Completes Move-VirtualRouter -DestinationHost: the known hosts, without the one the router already runs on when
    /// -Name is typed (with several routers, or a wildcard, a host is left out only when every router named runs on it).
    /// </summary>
    public sealed class DestinationHostCompleter : ObservedNameCompleter
    {
        protected override IEnumerable<string> NamesOf(Snapshot snapshot) => snapshot.Hosts.Select(h => h.Name);

        protected override IEnumerable<string> NamesOf(Snapshot snapshot, IDictionary? fakeBoundParameters)
        {
            var patterns = Strings(fakeBoundParameters, "Name")
                .Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant)).ToList();
            var routers = patterns.Count == 0 ? new List<VirtualRouter>() : snapshot.Routers.Where(r => patterns.Any(p => p.IsMatch(r.Name))).ToList();
            return snapshot.Hosts.Select(h => h.Name).Where(host => routers.Count == 0 || routers.Any(r =>
                !string.Equals(HostNames.Canonical(r.ComputerName), HostNames.Canonical(host), StringComparison.OrdinalIgnoreCase)));
        }
    }
}
