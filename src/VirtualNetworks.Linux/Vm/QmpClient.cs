using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// A QEMU Machine Protocol client on a router's QMP Unix socket: reads the greeting, negotiates capabilities, then
    /// runs commands one at a time (each with an id and a timeout), collecting asynchronous events on the side.
    /// </summary>
    /// <remarks>
    /// QEMU's QMP socket serves one client at a time; a second client waits in the listen backlog until the first
    /// disconnects. So: connect, do the work, dispose. Inside this process a per-socket lock serialises clients (held
    /// from <see cref="Connect"/> to <see cref="Dispose"/>); across processes the greeting timeout bounds the wait.
    /// Every failure is a VirtualNetworksException (BackendOperationFailed) naming the router.
    /// </remarks>
    public sealed class QmpClient : IDisposable
    {
        /// <summary>Default time for the connection and greeting, and for one command.</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

        private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new ConcurrentDictionary<string, SemaphoreSlim>(StringComparer.Ordinal);

        private readonly UnixLineConnection _connection;
        private readonly SemaphoreSlim _gate;
        private readonly List<JObject> _events = new List<JObject>();
        private int _nextId;
        private bool _disposed;

        private QmpClient(UnixLineConnection connection, SemaphoreSlim gate, string routerName, JObject greeting)
        {
            _connection = connection;
            _gate = gate;
            RouterName = routerName;
            Greeting = greeting;
        }

        public string RouterName { get; }
        /// <summary>The QMP greeting ({"QMP": {"version": ..., "capabilities": ...}}).</summary>
        public JObject Greeting { get; }
        /// <summary>Asynchronous events received so far (e.g. POWERDOWN, STOP, RESUME, SHUTDOWN).</summary>
        public IReadOnlyList<JObject> Events => _events;

        /// <summary>Connects to <paramref name="socketPath"/>, reads the greeting and runs qmp_capabilities.</summary>
        public static QmpClient Connect(string socketPath, string routerName, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            if (socketPath == null) throw new ArgumentNullException(nameof(socketPath));
            GuestTraffic.QmpSession();
            var limit = timeout ?? DefaultTimeout;
            var deadline = Deadline.After(limit);
            var gate = Gates.GetOrAdd(socketPath, _ => new SemaphoreSlim(1, 1));
            if (!gate.Wait(deadline.Remaining, cancellationToken))
                throw Fail(routerName, ErrorKind.OperationTimeout, "another QMP session of this process on " + socketPath + " did not end within " + Seconds(limit));
            UnixLineConnection? conn = null;
            try
            {
                conn = UnixLineConnection.TryConnect(socketPath, deadline, false, cancellationToken, out var failure, out var detail);
                if (conn == null)
                    throw Fail(routerName, ErrorKind.ConnectionError, failure == ConnectFailure.Missing
                        ? "its QMP socket " + socketPath + " does not exist (the router is not running)"
                        : "cannot connect to its QMP socket " + socketPath + " (" + detail + ")");
                JObject greeting;
                try
                {
                    greeting = ReadObject(conn, deadline, cancellationToken, routerName) ??
                               throw Fail(routerName, ErrorKind.ConnectionError, "QEMU closed the QMP connection before its greeting");
                }
                catch (TimeoutException)
                {
                    throw Fail(routerName, ErrorKind.OperationTimeout,
                        "no QMP greeting on " + socketPath + " within " + Seconds(limit) + " (another client may be connected to the monitor)");
                }
                if (greeting["QMP"] == null) throw Fail(routerName, ErrorKind.InvalidResult, "the QMP greeting is not what QEMU sends: " + Shorten(greeting.ToString(Formatting.None)));
                var client = new QmpClient(conn, gate, routerName, greeting);
                client.Execute("qmp_capabilities", null, deadline.Remaining, cancellationToken);
                conn = null;
                return client;
            }
            catch
            {
                conn?.Dispose();
                gate.Release();
                throw;
            }
        }

        /// <summary>
        /// Runs <paramref name="command"/> with <paramref name="arguments"/> and returns its "return" value. Events that
        /// arrive meanwhile are kept in <see cref="Events"/>. A QMP error, a timeout or a closed connection throws.
        /// </summary>
        public JToken Execute(string command, JObject? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(QmpClient));
            if (string.IsNullOrEmpty(command)) throw new ArgumentException("No QMP command.", nameof(command));
            GuestTraffic.QmpCommand();
            if (!command.StartsWith("query-", StringComparison.Ordinal) && command != "qmp_capabilities")
                VirtualNetworks.Util.CrashPoint.Hit("qmp " + command, RouterName);
            var limit = timeout ?? DefaultTimeout;
            var deadline = Deadline.After(limit);
            string id = "vn-" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
            var request = new JObject { ["execute"] = command, ["id"] = id };
            if (arguments != null) request["arguments"] = arguments;
            try
            {
                _connection.Write(request.ToString(Formatting.None) + "\n", deadline);
            }
            catch (TimeoutException)
            {
                throw Fail(RouterName, ErrorKind.OperationTimeout, "QEMU did not take QMP command '" + command + "' within " + Seconds(limit));
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException || ex is ObjectDisposedException)
            {
                throw Fail(RouterName, ErrorKind.ConnectionError, "sending QMP command '" + command + "' failed: " + ex.Message, ex);
            }
            while (true)
            {
                JObject? reply;
                try
                {
                    reply = ReadObject(_connection, deadline, cancellationToken, RouterName);
                }
                catch (TimeoutException)
                {
                    throw Fail(RouterName, ErrorKind.OperationTimeout, "QMP command '" + command + "' got no answer within " + Seconds(limit));
                }
                if (reply == null)
                    throw Fail(RouterName, ErrorKind.ConnectionError, "QEMU closed the QMP connection during '" + command + "'" +
                                                                       (command == "quit" ? "" : " (did the process exit?)"));
                if (reply["event"] != null)
                {
                    _events.Add(reply);
                    continue;
                }
                var rid = reply["id"];
                if (rid != null && (string?)rid != id) continue; // an answer to an earlier, timed-out command
                if (reply["error"] is JObject err)
                {
                    string cls = (string?)err["class"] ?? "Error";
                    string desc = (string?)err["desc"] ?? err.ToString(Formatting.None);
                    throw Fail(RouterName, ErrorKind.InvalidOperation, "QMP command '" + command + "' failed: " + cls + ": " + desc);
                }
                if (reply.TryGetValue("return", out var ret)) return ret;
            }
        }

        /// <summary>query-status: "running", "paused", "shutdown", "inmigrate", "postmigrate", "prelaunch", ...</summary>
        public string QueryStatus(CancellationToken cancellationToken = default)
        {
            var r = Execute("query-status", null, null, cancellationToken);
            return (string?)r["status"] ?? throw Fail(RouterName, ErrorKind.InvalidResult, "query-status returned no status: " + Shorten(r.ToString(Formatting.None)));
        }

        /// <summary>Pauses the vCPUs (QMP "stop"): the router forwards nothing until <see cref="Cont"/>.</summary>
        public void Stop(CancellationToken cancellationToken = default) => Execute("stop", null, null, cancellationToken);

        /// <summary>Resumes the vCPUs (QMP "cont").</summary>
        public void Cont(CancellationToken cancellationToken = default) => Execute("cont", null, null, cancellationToken);

        /// <summary>Presses the ACPI power button (QMP "system_powerdown"); the guest powers off by itself.</summary>
        public void SystemPowerdown(CancellationToken cancellationToken = default) => Execute("system_powerdown", null, null, cancellationToken);

        /// <summary>Ends QEMU at once (QMP "quit"); a closed connection right after counts as success.</summary>
        public void Quit(CancellationToken cancellationToken = default)
        {
            try
            {
                Execute("quit", null, null, cancellationToken);
            }
            catch (VirtualNetworksException ex) when (ex.Kind == ErrorKind.ConnectionError)
            {
                // QEMU exited before (or while) answering.
            }
        }

        /// <summary>Starts an outgoing live migration to <paramref name="uri"/> (e.g. "tcp:10.0.0.2:4444").</summary>
        public void Migrate(string uri, CancellationToken cancellationToken = default) =>
            Execute("migrate", new JObject { ["uri"] = uri }, null, cancellationToken);

        /// <summary>query-migrate: {"status": "active"|"completed"|"failed"|..., ...}.</summary>
        public JObject QueryMigrate(CancellationToken cancellationToken = default) =>
            Execute("query-migrate", null, null, cancellationToken) as JObject ?? new JObject();

        /// <summary>
        /// Destination side of a migration (QEMU started with "-incoming defer"): listens on <paramref name="uri"/>
        /// ("tcp:&lt;ip&gt;:&lt;port&gt;"; port 0 lets QEMU choose, see <see cref="IncomingPort"/>).
        /// </summary>
        public void MigrateIncoming(string uri, CancellationToken cancellationToken = default) =>
            Execute("migrate-incoming", new JObject { ["uri"] = uri }, null, cancellationToken);

        /// <summary>
        /// The TCP port a destination listens on after <see cref="MigrateIncoming"/> (query-migrate's "socket-address",
        /// QEMU 4.0 and later), or null when QEMU does not say.
        /// </summary>
        public int? IncomingPort(CancellationToken cancellationToken = default)
        {
            var r = QueryMigrate(cancellationToken);
            if (!(r["socket-address"] is JArray addrs)) return null;
            foreach (var a in addrs)
            {
                if (a is JObject o && (string?)o["type"] == "inet" &&
                    int.TryParse((string?)o["port"], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port > 0)
                    return port;
            }
            return null;
        }

        /// <summary>migrate-set-capabilities with each capability name set to its value.</summary>
        public void MigrateSetCapabilities(IEnumerable<KeyValuePair<string, bool>> capabilities, CancellationToken cancellationToken = default)
        {
            var list = new JArray();
            foreach (var c in capabilities) list.Add(new JObject { ["capability"] = c.Key, ["state"] = c.Value });
            if (list.Count == 0) return;
            Execute("migrate-set-capabilities", new JObject { ["capabilities"] = list }, null, cancellationToken);
        }

        /// <summary>migrate-set-parameters (e.g. {"downtime-limit": 50, "max-bandwidth": 1073741824}).</summary>
        public void MigrateSetParameters(JObject parameters, CancellationToken cancellationToken = default)
        {
            if (parameters == null) throw new ArgumentNullException(nameof(parameters));
            if (parameters.Count == 0) return;
            Execute("migrate-set-parameters", parameters, null, cancellationToken);
        }

        /// <summary>query-migrate-parameters.</summary>
        public JObject QueryMigrateParameters(CancellationToken cancellationToken = default) =>
            Execute("query-migrate-parameters", null, null, cancellationToken) as JObject ?? new JObject();

        /// <summary>Cancels the outgoing migration (QMP "migrate_cancel"); QEMU resumes a source it had stopped for the switch-over.</summary>
        public void MigrateCancel(CancellationToken cancellationToken = default) => Execute("migrate_cancel", null, null, cancellationToken);

        /// <summary>Lets a migration paused by the pause-before-switchover capability go on ("migrate-continue").</summary>
        public void MigrateContinue(string state = "pre-switchover", CancellationToken cancellationToken = default) =>
            Execute("migrate-continue", new JObject { ["state"] = state }, null, cancellationToken);

        /// <summary>
        /// Waits for an asynchronous event named <paramref name="name"/> (and matching <paramref name="match"/> when
        /// given) that is at index <paramref name="fromIndex"/> or later in <see cref="Events"/>, reading the socket
        /// without sending a command. Returns the event, or null when none arrived within <paramref name="timeout"/>
        /// (that is no error: the caller polls). A closed connection throws (ConnectionError).
        /// </summary>
        public JObject? WaitForEvent(string name, Func<JObject, bool>? match, int fromIndex, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(QmpClient));
            for (int i = Math.Max(0, fromIndex); i < _events.Count; i++)
                if (IsEvent(_events[i], name, match)) return _events[i];
            var deadline = Deadline.After(timeout);
            while (true)
            {
                JObject? msg;
                try
                {
                    msg = ReadObject(_connection, deadline, cancellationToken, RouterName);
                }
                catch (TimeoutException)
                {
                    return null;
                }
                if (msg == null)
                    throw Fail(RouterName, ErrorKind.ConnectionError, "QEMU closed the QMP connection while waiting for event " + name + " (did the process exit?)");
                if (msg["event"] == null) continue; // a late answer to a command that timed out
                _events.Add(msg);
                if (IsEvent(msg, name, match)) return msg;
            }
        }

        private static bool IsEvent(JObject e, string name, Func<JObject, bool>? match) =>
            string.Equals((string?)e["event"], name, StringComparison.Ordinal) && (match == null || match(e));

        private static JObject? ReadObject(UnixLineConnection conn, Deadline deadline, CancellationToken ct, string router)
        {
            while (true)
            {
                string? line;
                try
                {
                    line = conn.ReadLine(deadline, ct);
                }
                catch (System.IO.IOException ex)
                {
                    throw Fail(router, ErrorKind.ConnectionError, "reading from the QMP socket failed: " + ex.Message, ex);
                }
                catch (System.Net.Sockets.SocketException ex)
                {
                    throw Fail(router, ErrorKind.ConnectionError, "reading from the QMP socket failed: " + ex.Message, ex);
                }
                if (line == null) return null;
                if (line.Trim().Length == 0) continue;
                try
                {
                    return JObject.Parse(line);
                }
                catch (JsonException ex)
                {
                    throw Fail(router, ErrorKind.InvalidResult, "QEMU sent something that is not a QMP message: " + Shorten(line), ex);
                }
            }
        }

        internal static VirtualNetworksException Fail(string router, ErrorKind kind, string what, Exception? inner = null) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, kind, router, "Router '" + router + "': " + what + ".", inner);

        private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";

        private static string Shorten(string s) => s.Length <= 300 ? s : s.Substring(0, 300) + "...";

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _connection.Dispose();
            _gate.Release();
        }
    }
}
