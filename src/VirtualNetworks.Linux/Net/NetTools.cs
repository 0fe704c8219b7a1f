using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Util;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>
    /// Runs the iproute2 programs (ip, tc, bridge) through <see cref="ProcessRunner"/>: executable plus argument list, never a
    /// shell; optionally inside a named network namespace (<c>-netns NAME</c>, which all three understand and which is what
    /// <c>ip netns exec NAME tc ...</c> does, without the extra process). Failures become VirtualNetworksException with the
    /// command line and the tool's error output; "Operation not permitted" is reported as PermissionDenied.
    /// </summary>
    internal sealed class NetTools
    {
        /// <summary>Per-command time limit: these are netlink round trips, normally milliseconds.</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

        private static readonly string[] SystemDirectories = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
        private static readonly ConcurrentDictionary<string, string?> Resolved = new ConcurrentDictionary<string, string?>(StringComparer.Ordinal);

        /// <summary>
        /// TEST SEAM, not a feature: the commands of this flow of execution (an <see cref="AsyncLocal{T}"/>, so it reaches
        /// the threads the flow starts and nothing else) go through <see cref="ICommandInterceptor"/> first. Only tests
        /// set it (through InternalsVisibleTo), to run the paths this kernel cannot (bridge VLAN filtering) as far as it
        /// allows: everything the interceptor lets through runs for real. Nothing in the product sets it.
        /// </summary>
        private static readonly AsyncLocal<ICommandInterceptor?> Interceptor = new AsyncLocal<ICommandInterceptor?>();

        /// <summary>Test seam (see <see cref="Interceptor"/>): routes this flow's commands through <paramref name="interceptor"/> until disposed.</summary>
        internal static IDisposable InterceptCommands(ICommandInterceptor interceptor)
        {
            var previous = Interceptor.Value;
            Interceptor.Value = interceptor ?? throw new ArgumentNullException(nameof(interceptor));
            return new Restore(previous);
        }

        private sealed class Restore : IDisposable
        {
            private readonly ICommandInterceptor? _previous;
            public Restore(ICommandInterceptor? previous) => _previous = previous;
            public void Dispose() => Interceptor.Value = _previous;
        }

        public NetTools(string? networkNamespace, TimeSpan? timeout)
        {
            if (networkNamespace != null) InterfaceNames.EnsureValidNamespaceName(networkNamespace);
            NetworkNamespace = networkNamespace;
            Timeout = timeout ?? DefaultTimeout;
        }

        public string? NetworkNamespace { get; }
        public TimeSpan Timeout { get; }

        /// <summary>
        /// The full path of an iproute2 program: PATH first, then the system directories (a non-root PATH often lacks
        /// /usr/sbin). Null when not installed.
        /// </summary>
        public static string? Find(string tool)
        {
            return Resolved.GetOrAdd(tool, t =>
            {
                string? onPath = ProcessRunner.FindExecutable(t);
                if (onPath != null) return onPath;
                foreach (var dir in SystemDirectories)
                {
                    string candidate = Path.Combine(dir, t);
                    if (File.Exists(candidate)) return candidate;
                }
                return null;
            });
        }

        /// <summary>The path of <paramref name="tool"/>, or VirtualNetworksException (NotInstalled) naming the Debian package.</summary>
        public static string Require(string tool)
        {
            string? path = Find(tool);
            if (path != null) return path;
            throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, tool,
                "The program '" + tool + "' was not found (searched PATH and " + string.Join(", ", SystemDirectories) + "). " +
                "It is part of the Debian package iproute2.")
            {
                RecommendedAction = "Install iproute2: apt-get install -y iproute2",
            };
        }

        /// <summary>Runs <paramref name="tool"/> with the namespace option (when set) followed by <paramref name="arguments"/>.</summary>
        public ProcessResult Run(string tool, IEnumerable<string> arguments, CancellationToken cancellationToken) =>
            RunWithInput(tool, arguments, null, cancellationToken);

        /// <summary>The namespace option (when set) followed by <paramref name="arguments"/>.</summary>
        private List<string> InNamespace(IEnumerable<string> arguments)
        {
            var args = new List<string>();
            if (NetworkNamespace != null)
            {
                args.Add("-netns");
                args.Add(NetworkNamespace);
            }
            args.AddRange(arguments);
            return args;
        }

        /// <summary>
        /// Runs several ip commands as one process (<c>ip [-netns NS] -batch -</c>, the commands on its standard input; it
        /// stops at the first that fails). Used where a device must never exist without its ownership tag: creating and
        /// tagging in one process means a kill of this process cannot fall between the two (the ip process runs on).
        /// Every word was validated by the caller (names, numbers, addresses, tags: no white space, no quotes). With a test
        /// interceptor active the commands go one by one through <see cref="Run"/>, as the tests expect.
        /// </summary>
        public ProcessResult RunIpBatch(IReadOnlyList<IReadOnlyList<string>> commands, CancellationToken cancellationToken)
        {
            if (Interceptor.Value != null)
            {
                ProcessResult? last = null;
                foreach (var c in commands)
                {
                    last = Run("ip", c, cancellationToken);
                    if (!last.Succeeded) return last;
                }
                return last!;
            }
            var text = new System.Text.StringBuilder();
            foreach (var c in commands)
            {
                foreach (var word in c)
                    if (word.Length == 0 || word.Any(ch => char.IsWhiteSpace(ch) || ch == '"' || ch == '\\' || ch == '\'' || ch == '#'))
                        throw new ArgumentException("A word of an ip batch line is empty or holds white space or quotes: '" + word + "'.", nameof(commands));
                text.Append(string.Join(" ", c)).Append('\n');
            }
            var args = InNamespace(new[] { "-batch", "-" });
            return ProcessRunner.Run(Require("ip"), args, text.ToString(), Timeout, null, cancellationToken);
        }

        /// <summary>
        /// Runs <paramref name="tool"/> as <see cref="Run"/> does, with <paramref name="input"/> on its standard input (for
        /// <c>-batch -</c> reads). An interceptor sees it as one command (its arguments; the input is not shown to it).
        /// </summary>
        public ProcessResult RunWithInput(string tool, IEnumerable<string> arguments, string? input, CancellationToken cancellationToken)
        {
            var args = InNamespace(arguments);
            var answer = Interceptor.Value?.Intercept(tool, NetworkNamespace, args);
            if (answer != null) return answer;
            return ProcessRunner.Run(Require(tool), args, input, Timeout, null, cancellationToken);
        }

        /// <summary><see cref="Run"/>, throwing <see cref="Failure"/> on a non-zero exit code.</summary>
        public ProcessResult RunChecked(string tool, IEnumerable<string> arguments, string? target, CancellationToken cancellationToken)
        {
            var result = Run(tool, arguments, cancellationToken);
            if (!result.Succeeded) throw Failure(result, target);
            return result;
        }

        /// <summary>The exception for a failed command, with the kind derived from the error output.</summary>
        public static VirtualNetworksException Failure(ProcessResult result, string? target)
        {
            var basic = ProcessRunner.Failure(result, target);
            string err = result.StdErr;
            ErrorKind kind = ErrorKind.NotSpecified;
            string? action = null;
            if (err.IndexOf("Operation not permitted", StringComparison.OrdinalIgnoreCase) >= 0 ||
                err.IndexOf("Permission denied", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                kind = ErrorKind.PermissionDenied;
                action = "Run as root (the network changes need CAP_NET_ADMIN).";
            }
            else if (err.IndexOf("File exists", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                kind = ErrorKind.ResourceExists;
            }
            else if (err.IndexOf("does not exist", StringComparison.OrdinalIgnoreCase) >= 0 ||
                     err.IndexOf("Cannot find device", StringComparison.OrdinalIgnoreCase) >= 0 ||
                     err.IndexOf("Cannot open network namespace", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                kind = ErrorKind.ObjectNotFound;
            }
            else if (err.IndexOf("not supported", StringComparison.OrdinalIgnoreCase) >= 0 ||
                     err.IndexOf("Unknown device type", StringComparison.OrdinalIgnoreCase) >= 0 ||
                     err.IndexOf("qdisc kind is unknown", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                kind = ErrorKind.NotInstalled;
                action = "The running kernel (or iproute2) lacks this feature; the Linux capability probe lists what is missing and where it comes from.";
            }
            return new VirtualNetworksException(basic.ErrorId, kind, target, basic.Message) { RecommendedAction = action };
        }

        /// <summary>True when a failed command said the device does not exist.</summary>
        public static bool IsNoSuchDevice(ProcessResult result) =>
            !result.Succeeded &&
            (result.StdErr.IndexOf("does not exist", StringComparison.OrdinalIgnoreCase) >= 0 ||
             result.StdErr.IndexOf("Cannot find device", StringComparison.OrdinalIgnoreCase) >= 0 ||
             result.StdErr.IndexOf("No such device", StringComparison.OrdinalIgnoreCase) >= 0);
    }

    /// <summary>
    /// Test seam (<see cref="NetTools.InterceptCommands"/>): sees every ip/tc/bridge command before it runs. It may change
    /// <c>arguments</c> (the full list, <c>-netns NAME</c> included) and then return null to run it, or return a result to
    /// answer without running anything.
    /// </summary>
    internal interface ICommandInterceptor
    {
        ProcessResult? Intercept(string tool, string? networkNamespace, List<string> arguments);
    }
}
