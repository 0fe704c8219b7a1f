using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// The Linux backend's state directory.
    /// <code>
    /// &lt;root&gt;/                  default /var/lib/virtualnetworks (or VIRTUALNETWORKS_STATE_DIR, or an explicit path)
    ///   lock, lock.holder        <see cref="StateLock"/>
    ///   kvm-probe.json           cached KVM probe outcome
    ///   state-id                 this state directory's id in the interfaces' ownership tags (<see cref="StateId"/>)
    ///   routers/&lt;name&gt;.json     <see cref="RouterRecord"/>
    ///   links/&lt;name&gt;.json       <see cref="LinkRecord"/>
    ///   hosts/&lt;name&gt;.json       <see cref="HostRecord"/> (lab hosts, and the local machine once it has an underlay address)
    ///   physical-links/&lt;a&gt;--&lt;b&gt;.json  <see cref="PhysicalLinkRecord"/>
    ///   run/      (0700)         per router: .pid .qmp .chan .console .cfg (<see cref="RouterRunPaths"/>)
    ///   disks/    (0700)         per-router qcow2 overlays
    /// </code>
    /// Every JSON file carries <c>"owner": "virtualnetworks"</c> and a schema version; files without the marker are never
    /// read as records, rewritten or deleted. Writes are atomic (<see cref="AtomicFile"/>). Record file names are the
    /// lower-case name (names compare case-insensitively), validated with <see cref="NameRules.Ensure"/> before any
    /// path is built. Callers hold <see cref="Lock"/> around read-modify-write sequences.
    /// </summary>
    public sealed class StateStore
    {
        public const string DefaultRoot = "/var/lib/virtualnetworks";
        public const string RootEnvironmentVariable = "VIRTUALNETWORKS_STATE_DIR";

        private static readonly JsonSerializerSettings JsonSettings = new JsonSerializerSettings
        {
            Formatting = Formatting.Indented,
            DateTimeZoneHandling = DateTimeZoneHandling.Utc,
            DateParseHandling = DateParseHandling.DateTime,
            MissingMemberHandling = MissingMemberHandling.Ignore,
            NullValueHandling = NullValueHandling.Include,
        };

        /// <summary>Uses <paramref name="root"/>, else VIRTUALNETWORKS_STATE_DIR, else /var/lib/virtualnetworks.</summary>
        public StateStore(string? root = null)
        {
            Root = ResolveRoot(root);
            RoutersDirectory = Path.Combine(Root, "routers");
            LinksDirectory = Path.Combine(Root, "links");
            HostsDirectory = Path.Combine(Root, "hosts");
            PhysicalLinksDirectory = Path.Combine(Root, "physical-links");
            RunDirectory = Path.Combine(Root, "run");
            DisksDirectory = Path.Combine(Root, "disks");
            LockPath = Path.Combine(Root, "lock");
        }

        /// <summary>The root: <paramref name="explicitRoot"/>, else the environment variable, else the default; made absolute.</summary>
        public static string ResolveRoot(string? explicitRoot)
        {
            string? r = explicitRoot;
            if (string.IsNullOrWhiteSpace(r)) r = Environment.GetEnvironmentVariable(RootEnvironmentVariable);
            if (string.IsNullOrWhiteSpace(r)) r = DefaultRoot;
            foreach (char c in r!)
            {
                if (c < ' ' || c == '\x7f')
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, r,
                        "The state directory path contains a control character.");
            }
            string full = Path.GetFullPath(r);
            return full.Length > 1 ? full.TrimEnd('/') : full;
        }

        public string Root { get; }
        public string RoutersDirectory { get; }
        public string LinksDirectory { get; }
        public string HostsDirectory { get; }
        public string PhysicalLinksDirectory { get; }
        public string RunDirectory { get; }
        public string DisksDirectory { get; }
        public string LockPath { get; }
        public string KvmProbePath => Path.Combine(Root, "kvm-probe.json");
        /// <summary>state-id: the state directory's id (8 lowercase hex, random, written once), see <see cref="StateId"/>.</summary>
        public string StateIdPath => Path.Combine(Root, "state-id");

        private string? _stateId;

        /// <summary>
        /// The id of this state directory, carried in the ownership tag of every interface it creates
        /// (<c>virtualnetworks:v2:&lt;id&gt;:...</c>) so that orphan clean-up never takes another state directory's
        /// devices. Random (8 lowercase hex) and stored in <see cref="StateIdPath"/> the first time it is needed, so moving
        /// or renaming the directory keeps it. Creates the layout when missing.
        /// </summary>
        public string StateId
        {
            get
            {
                if (_stateId != null) return _stateId;
                var existing = ExistingStateId;
                if (existing != null) return existing;
                EnsureLayout();
                var bytes = new byte[4];
                using (var rng = System.Security.Cryptography.RandomNumberGenerator.Create()) rng.GetBytes(bytes);
                string id = BitConverter.ToString(bytes).Replace("-", "").ToLowerInvariant();
                try
                {
                    // CreateNew: the first writer wins; a concurrent one reads the winner's id below.
                    using (var fs = new FileStream(StateIdPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                    {
                        var data = System.Text.Encoding.ASCII.GetBytes(id + "\n");
                        fs.Write(data, 0, data.Length);
                        fs.Flush(flushToDisk: true);
                    }
                    Posix.Chmod(StateIdPath, 0x1A4);
                    return _stateId = id;
                }
                catch (IOException) when (File.Exists(StateIdPath))
                {
                    for (int i = 0; i < 50; i++)
                    {
                        var other = ExistingStateId;
                        if (other != null) return other;
                        Thread.Sleep(20);
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, StateIdPath,
                        "Cannot write the state directory's id file " + StateIdPath + ": " + ex.Message, ex);
                }
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, StateIdPath,
                    "The state directory's id file " + StateIdPath + " does not hold a valid id (1 to 32 characters of [0-9a-z]). " +
                    "Restore it, or delete it if nothing of this state directory exists any more.");
            }
        }

        /// <summary>The stored id of this state directory; null when none was stored yet (so nothing of it is tagged) or the file is unreadable.</summary>
        public string? ExistingStateId
        {
            get
            {
                if (_stateId != null) return _stateId;
                string text;
                try { text = File.ReadAllText(StateIdPath).Trim(); }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return null; }
                if (!Net.OwnershipTag.IsValidStateId(text)) return null;
                return _stateId = text;
            }
        }

        /// <summary>Creates the directories (root 0755, routers/links 0755, run/disks 0700) when missing and enforces the modes.</summary>
        public void EnsureLayout()
        {
            try
            {
                CreateDirectory(Root, 0x1ED);
                CreateDirectory(RoutersDirectory, 0x1ED);
                CreateDirectory(LinksDirectory, 0x1ED);
                CreateDirectory(HostsDirectory, 0x1ED);
                CreateDirectory(PhysicalLinksDirectory, 0x1ED);
                CreateDirectory(RunDirectory, 0x1C0);
                CreateDirectory(DisksDirectory, 0x1C0);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, Root,
                    "Cannot create the VirtualNetworks state directory " + Root + ": " + ex.Message, ex);
            }
        }

        private static void CreateDirectory(string path, int mode)
        {
            Directory.CreateDirectory(path);
            Posix.Chmod(path, mode);
        }

        private readonly object _lockGate = new object();
        private StateLock? _held;
        private int _heldDepth;

        /// <summary>
        /// Takes the exclusive state lock (creating the layout first); dispose to release. Re-entrant on this store
        /// instance: while it holds the lock (an outer scope, e.g. a whole Deploy-VirtualNetwork holding it from planning to
        /// the last step), further calls return at once and only the outermost release lets go of the lock. Other store
        /// instances (other commands, other runspaces, other processes) wait for it.
        /// </summary>
        public IDisposable Lock(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            lock (_lockGate)
            {
                if (_held != null)
                {
                    _heldDepth++;
                    return new Held(this);
                }
            }
            EnsureLayout();
            var acquired = StateLock.Acquire(LockPath, timeout ?? StateLock.DefaultTimeout, cancellationToken);
            lock (_lockGate)
            {
                _held = acquired;
                _heldDepth = 1;
            }
            return new Held(this);
        }

        /// <summary>True while this store instance holds the state lock.</summary>
        public bool HoldsLock
        {
            get { lock (_lockGate) return _held != null; }
        }

        private void Release()
        {
            StateLock? release = null;
            lock (_lockGate)
            {
                if (_heldDepth <= 0) return;
                if (--_heldDepth == 0)
                {
                    release = _held;
                    _held = null;
                }
            }
            release?.Dispose();
        }

        /// <summary>One acquisition of the (re-entrant) lock; disposing it twice releases once.</summary>
        private sealed class Held : IDisposable
        {
            private StateStore? _store;
            public Held(StateStore store) => _store = store;
            public void Dispose() => Interlocked.Exchange(ref _store, null)?.Release();
        }

        // ------------------------------------------------------------------------------------------------ paths

        /// <summary>routers/&lt;name&gt;.json (name validated).</summary>
        public string RouterPath(string name)
        {
            NameRules.Ensure(name, "router");
            return Path.Combine(RoutersDirectory, name.ToLowerInvariant() + ".json");
        }

        /// <summary>links/&lt;name&gt;.json (name validated).</summary>
        public string LinkPath(string name)
        {
            NameRules.Ensure(name, "link");
            return Path.Combine(LinksDirectory, name.ToLowerInvariant() + ".json");
        }

        /// <summary>disks/&lt;name&gt;.qcow2 (name validated): the router's overlay disk.</summary>
        public string DiskPath(string routerName)
        {
            NameRules.Ensure(routerName, "router");
            return Path.Combine(DisksDirectory, routerName.ToLowerInvariant() + ".qcow2");
        }

        /// <summary>The run slot a live migration's destination uses while the source's instance is in run/ (and back).</summary>
        public const string MigrationSlot = "m";

        /// <summary>
        /// The run-time files of a router's active instance (name validated): in run/, or in the run slot its record names
        /// (<see cref="RouterRecord.RunSlot"/>, after a live migration). An unreadable or missing record means run/.
        /// </summary>
        public RouterRunPaths RunPaths(string routerName)
        {
            string? slot = null;
            try { slot = ReadRouter(routerName)?.RunSlot; }
            catch (VirtualNetworksException) { }
            return RunPaths(routerName, slot);
        }

        /// <summary>The run-time files of a router's instance in <paramref name="slot"/> (null = run/).</summary>
        public RouterRunPaths RunPaths(string routerName, string? slot) => new RouterRunPaths(RunSlotDirectory(slot), routerName);

        /// <summary>run/ for slot null, run/&lt;slot&gt;/ otherwise (only <see cref="MigrationSlot"/> is used).</summary>
        public string RunSlotDirectory(string? slot)
        {
            if (string.IsNullOrEmpty(slot)) return RunDirectory;
            if (slot != MigrationSlot) throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidData, slot!,
                "Unknown run slot '" + slot + "' in a router record.");
            return Path.Combine(RunDirectory, slot);
        }

        /// <summary>The other run slot: where a live migration's destination instance starts.</summary>
        public static string? OtherRunSlot(string? slot) => string.IsNullOrEmpty(slot) ? MigrationSlot : null;

        // ------------------------------------------------------------------------------------------------ routers

        public RouterRecord? ReadRouter(string name) => Read<RouterRecord>(RouterPath(name), "router");

        public void WriteRouter(RouterRecord record)
        {
            if (record == null) throw new ArgumentNullException(nameof(record));
            Write(RouterPath(record.Name), record);
        }

        /// <summary>Deletes the router's record; false when there was none. Refuses files without the ownership marker.</summary>
        public bool DeleteRouter(string name) => Delete(RouterPath(name), "router");

        /// <summary>Every router record; files without the marker or not parseable are skipped and listed in <paramref name="problems"/>.</summary>
        public List<RouterRecord> ListRouters(List<string>? problems = null) => List<RouterRecord>(RoutersDirectory, "router", problems);

        // ------------------------------------------------------------------------------------------------ links

        public LinkRecord? ReadLink(string name) => Read<LinkRecord>(LinkPath(name), "link");

        public void WriteLink(LinkRecord record)
        {
            if (record == null) throw new ArgumentNullException(nameof(record));
            Write(LinkPath(record.Name), record);
        }

        public bool DeleteLink(string name) => Delete(LinkPath(name), "link");

        public List<LinkRecord> ListLinks(List<string>? problems = null) => List<LinkRecord>(LinksDirectory, "link", problems);

        // ------------------------------------------------------------------------------------------------ hosts

        /// <summary>hosts/&lt;name&gt;.json (name validated).</summary>
        public string HostPath(string name)
        {
            NameRules.Ensure(name, "host");
            return Path.Combine(HostsDirectory, name.ToLowerInvariant() + ".json");
        }

        public HostRecord? ReadHost(string name) => Read<HostRecord>(HostPath(name), "host");

        public void WriteHost(HostRecord record)
        {
            if (record == null) throw new ArgumentNullException(nameof(record));
            Write(HostPath(record.Name), record);
        }

        public bool DeleteHost(string name) => Delete(HostPath(name), "host");

        public List<HostRecord> ListHosts(List<string>? problems = null) => List<HostRecord>(HostsDirectory, "host", problems);

        // ------------------------------------------------------------------------------------------------ physical links

        /// <summary>The canonical (from, to) order of two host names: ordinal case-insensitive.</summary>
        public static (string From, string To) PhysicalLinkEnds(string a, string b) =>
            string.Compare(a, b, StringComparison.OrdinalIgnoreCase) <= 0 ? (a, b) : (b, a);

        /// <summary>physical-links/&lt;a&gt;--&lt;b&gt;.json with the two host names in canonical order (validated).</summary>
        public string PhysicalLinkPath(string a, string b)
        {
            NameRules.Ensure(a, "host");
            NameRules.Ensure(b, "host");
            var (f, t) = PhysicalLinkEnds(a, b);
            return Path.Combine(PhysicalLinksDirectory, f.ToLowerInvariant() + "--" + t.ToLowerInvariant() + ".json");
        }

        public PhysicalLinkRecord? ReadPhysicalLink(string a, string b) => Read<PhysicalLinkRecord>(PhysicalLinkPath(a, b), "physical-link");

        public void WritePhysicalLink(PhysicalLinkRecord record)
        {
            if (record == null) throw new ArgumentNullException(nameof(record));
            Write(PhysicalLinkPath(record.From, record.To), record);
        }

        public bool DeletePhysicalLink(string a, string b) => Delete(PhysicalLinkPath(a, b), "physical-link");

        public List<PhysicalLinkRecord> ListPhysicalLinks(List<string>? problems = null) =>
            List<PhysicalLinkRecord>(PhysicalLinksDirectory, "physical-link", problems);

        // ------------------------------------------------------------------------------------------------ KVM probe cache

        public KvmProbeRecord? ReadKvmProbe()
        {
            try
            {
                return Read<KvmProbeRecord>(KvmProbePath, "kvm-probe");
            }
            catch (VirtualNetworksException)
            {
                return null; // a cache: a bad file is simply not used
            }
        }

        public void WriteKvmProbe(KvmProbeRecord record)
        {
            EnsureLayout();
            Write(KvmProbePath, record);
        }

        // ------------------------------------------------------------------------------------------------ stale files

        /// <summary>Temporary files left by a writer that crashed (see <see cref="AtomicFile"/>), in the record directories and root.</summary>
        public List<string> FindStaleTemporaryFiles()
        {
            var found = new List<string>();
            foreach (var dir in new[] { Root, RoutersDirectory, LinksDirectory, HostsDirectory, PhysicalLinksDirectory, RunDirectory })
            {
                if (!Directory.Exists(dir)) continue;
                foreach (var f in Directory.GetFiles(dir))
                    if (AtomicFile.IsTemporaryName(Path.GetFileName(f))) found.Add(f);
            }
            found.Sort(StringComparer.Ordinal);
            return found;
        }

        // ------------------------------------------------------------------------------------------------ generic

        /// <summary>True when the JSON text carries the ownership marker.</summary>
        public static bool HasOwnerMarker(JObject o) =>
            o.TryGetValue("owner", out var v) && v.Type == JTokenType.String && (string?)v == StateRecord.OwnerMarker;

        private T? Read<T>(string path, string kind) where T : StateRecord
        {
            string text;
            try
            {
                if (!File.Exists(path)) return null;
                text = File.ReadAllText(path);
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, path,
                    "Cannot read the state file " + path + ": " + ex.Message, ex);
            }
            return Parse<T>(text, path, kind);
        }

        internal static T Parse<T>(string text, string path, string kind) where T : StateRecord
        {
            JObject o;
            try
            {
                using (var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.None })
                    o = JObject.Load(reader);
            }
            catch (JsonException ex)
            {
                throw Invalid(path, "is not valid JSON: " + ex.Message, ex);
            }
            if (!HasOwnerMarker(o))
                throw Invalid(path, "has no \"owner\": \"" + StateRecord.OwnerMarker + "\" marker; it was not written by VirtualNetworks and is left alone", null);
            int schema = o.Value<int?>("schema") ?? 0;
            if (schema < 1 || schema > StateRecord.CurrentSchema)
                throw Invalid(path, "has schema version " + schema.ToString(CultureInfo.InvariantCulture) + "; this module reads versions 1 to " +
                                    StateRecord.CurrentSchema.ToString(CultureInfo.InvariantCulture) + " (written by a newer module?)", null);
            string? k = o.Value<string>("kind");
            if (!string.Equals(k, kind, StringComparison.Ordinal))
                throw Invalid(path, "is a \"" + k + "\" record, expected \"" + kind + "\"", null);
            try
            {
                var serializer = JsonSerializer.Create(JsonSettings);
                var r = o.ToObject<T>(serializer) ?? throw Invalid(path, "is empty", null);
                r.Extra.Remove("kind");
                return r;
            }
            catch (JsonException ex)
            {
                throw Invalid(path, "has a field of the wrong type: " + ex.Message, ex);
            }
        }

        private static VirtualNetworksException Invalid(string path, string what, Exception? inner) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidData, path, "The state file " + path + " " + what + ".", inner);

        internal static string Serialize(StateRecord record) => JsonConvert.SerializeObject(record, JsonSettings) + "\n";

        private void Write(string path, StateRecord record)
        {
            EnsureLayout();
            if (File.Exists(path))
            {
                // Never overwrite a file that is not ours.
                string existing = File.ReadAllText(path);
                bool ours;
                try
                {
                    ours = HasOwnerMarker(JObject.Parse(existing));
                }
                catch (JsonException)
                {
                    ours = false;
                }
                if (!ours) throw Invalid(path, "exists and has no ownership marker; not overwriting it", null);
            }
            record.Owner = StateRecord.OwnerMarker;
            record.Schema = StateRecord.CurrentSchema;
            record.UpdatedUtc = DateTime.UtcNow;
            try
            {
                AtomicFile.WriteAllText(path, Serialize(record), 0x1A4);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, path,
                    "Cannot write the state file " + path + ": " + ex.Message, ex);
            }
        }

        private static bool Delete(string path, string kind)
        {
            if (!File.Exists(path)) return false;
            VirtualNetworks.Util.CrashPoint.Hit("delete", path);
            string text = File.ReadAllText(path);
            bool ours;
            try
            {
                ours = HasOwnerMarker(JObject.Parse(text));
            }
            catch (JsonException)
            {
                ours = false;
            }
            if (!ours) throw Invalid(path, "has no ownership marker; not deleting it", null);
            File.Delete(path);
            return true;
        }

        private List<T> List<T>(string dir, string kind, List<string>? problems) where T : StateRecord
        {
            var list = new List<T>();
            if (!Directory.Exists(dir)) return list;
            var files = Directory.GetFiles(dir, "*.json");
            Array.Sort(files, StringComparer.Ordinal);
            foreach (var f in files)
            {
                string fileName = Path.GetFileName(f);
                if (fileName.StartsWith(".", StringComparison.Ordinal)) continue;
                try
                {
                    var r = Parse<T>(File.ReadAllText(f), f, kind);
                    string expected = Path.GetFileNameWithoutExtension(f);
                    bool valid = r is PhysicalLinkRecord pl
                        ? NameRules.IsValid(pl.From) && NameRules.IsValid(pl.To) && string.Equals(Path.GetFileName(PhysicalLinkPath(pl.From, pl.To)), fileName, StringComparison.Ordinal)
                        : NameRules.IsValid(GetName(r)) && string.Equals(GetName(r).ToLowerInvariant(), expected, StringComparison.Ordinal);
                    if (!valid)
                    {
                        problems?.Add(f + ": the name inside does not match the file name; skipped.");
                        continue;
                    }
                    list.Add(r);
                }
                catch (VirtualNetworksException ex)
                {
                    problems?.Add(ex.Message);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    problems?.Add(f + ": " + ex.Message);
                }
            }
            return list;
        }

        private static string GetName(StateRecord r) => r is RouterRecord rr ? rr.Name : r is LinkRecord lr ? lr.Name : r is HostRecord hr ? hr.Name : "";
    }
}
