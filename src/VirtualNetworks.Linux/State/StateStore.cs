using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
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
    ///   run/m/    (0700)         the run slot of a live migration's other instance
    ///   disks/    (0700)         per-router qcow2 overlays
    /// </code>
    /// <para>Hygiene (<see cref="EnsureLayout"/>, before anything is read for a change or written): the root and every
    /// directory of the layout must be a real directory (never followed through a symbolic link: checked on a descriptor
    /// opened with O_NOFOLLOW), owned by the user running the command (euid) and not writable by group or others;
    /// anything else is refused (StateDirectoryUnsafe) naming path, owner and mode. The record directories, run/ and
    /// disks/ are 0700 (older 0755 ones are tightened), every file written here is 0600 (older 0644 ones are tightened
    /// once per store). The root keeps its mode (0755 when this creates it). Parents of the root are not checked.</para>
    /// <para>The <c>state-id</c> is checked when the lock is taken (<see cref="Lock"/>), so before any state-changing
    /// command creates anything: a fresh directory gets one then; a missing one where records, run files or overlays
    /// exist, or a garbled one, is refused (StateDirectoryDamaged) with the ids found on this directory's devices.</para>
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
        private bool _filesTightened;
        private bool _idConfirmed;

        /// <summary>Mode of the record directories, run/ and disks/: 0700.</summary>
        public const int PrivateDirectoryMode = 0x1C0;
        /// <summary>Mode of a root this creates: 0755 (an existing root keeps its mode unless it is writable by others).</summary>
        public const int RootDirectoryMode = 0x1ED;
        /// <summary>Mode of every file written in the state directory: 0600.</summary>
        public const int PrivateFileMode = 0x180;

        /// <summary>
        /// The id of this state directory, carried in the ownership tag of every interface it creates
        /// (<c>virtualnetworks:v2:&lt;id&gt;:...</c>) so that orphan clean-up never takes another state directory's
        /// devices. Random (8 lowercase hex) and stored in <see cref="StateIdPath"/> (0600) the first time it is needed
        /// (normally when the lock is first taken), so moving or renaming the directory keeps it. A new id is only minted
        /// in a directory that holds nothing it could identify (no record, run file or overlay); otherwise a missing or
        /// garbled file is StateDirectoryDamaged, never silently replaced (everything tagged with the old id would become
        /// unreachable). Creates the layout when missing.
        /// </summary>
        public string StateId
        {
            get
            {
                if (_stateId != null) return _stateId;
                var existing = ExistingStateId; // throws when damaged
                if (existing != null) return existing;
                EnsureLayout();
                string id = NewId();
                try
                {
                    // CreateNew: the first writer wins; a concurrent one reads the winner's id below.
                    using (var fs = new FileStream(StateIdPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                    {
                        Posix.Chmod(StateIdPath, PrivateFileMode);
                        var data = System.Text.Encoding.ASCII.GetBytes(id + "\n");
                        fs.Write(data, 0, data.Length);
                        fs.Flush(flushToDisk: true);
                    }
                    Posix.FsyncDirectory(Root);
                    _idConfirmed = true;
                    return _stateId = id;
                }
                catch (IOException) when (File.Exists(StateIdPath))
                {
                    for (int i = 0; i < 50; i++)
                    {
                        string? other = TryReadStateIdFile(out _);
                        if (other != null) return _stateId = other;
                        Thread.Sleep(20);
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, StateIdPath,
                        "Cannot write the state directory's id file " + StateIdPath + ": " + ex.Message, ex);
                }
                throw Damaged("does not hold a valid id (1 to 32 characters of [0-9a-z]) after another command created it", null);
            }
        }

        /// <summary>
        /// The stored id of this state directory; null only when none was stored yet and the directory holds nothing it
        /// could identify (a fresh directory: nothing of it is tagged). Throws VirtualNetworksException
        /// (StateDirectoryDamaged) when the file is missing although records, run files or overlays exist, or when it is
        /// unreadable or not a valid id: unknown is not absent.
        /// </summary>
        public string? ExistingStateId
        {
            get
            {
                if (_stateId != null) return _stateId;
                string? id = TryReadStateIdFile(out string? problem);
                if (id != null) return _stateId = id;
                if (problem != null) throw Damaged(problem, null);
                var evidence = StateEvidence();
                if (evidence.Count > 0)
                    throw Damaged("is missing, but the directory holds " + string.Join(", ", evidence) +
                                  " (a new id would leave everything tagged with the old one unreachable)", null);
                return null;
            }
        }

        /// <summary>The valid id in the file; null with <paramref name="problem"/> null when there is no file, else with why it is unusable.</summary>
        private string? TryReadStateIdFile(out string? problem)
        {
            problem = null;
            string text;
            try
            {
                var st = Posix.LStat(StateIdPath);
                if (st == null) return null;
                if (!st.Value.IsRegularFile)
                {
                    problem = "is a " + st.Value.TypeName + ", not a file";
                    return null;
                }
                text = File.ReadAllText(StateIdPath);
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                problem = "cannot be read (" + ex.Message + ")";
                return null;
            }
            string trimmed = text.Trim();
            if (Net.OwnershipTag.IsValidStateId(trimmed)) return trimmed;
            problem = trimmed.Length == 0 ? "is empty" : "does not hold a valid id (1 to 32 characters of [0-9a-z]; it holds " +
                      Net.NetText.Quote(trimmed.Length > 40 ? trimmed.Substring(0, 40) + "..." : trimmed) + ")";
            return null;
        }

        /// <summary>
        /// What in this directory an id identifies (so a new id must not be minted): counts of record files, run files and
        /// overlays, e.g. "2 router record(s)". Unparseable files count too (unknown is not absent).
        /// </summary>
        internal List<string> StateEvidence()
        {
            var found = new List<string>();
            void Count(string dir, string what)
            {
                int n = 0;
                try
                {
                    if (Directory.Exists(dir)) n = Directory.GetFiles(dir).Length;
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    found.Add(what + " (unreadable: " + ex.Message + ")");
                    return;
                }
                if (n > 0) found.Add(n.ToString(CultureInfo.InvariantCulture) + " " + what);
            }
            Count(RoutersDirectory, "router record(s)");
            Count(LinksDirectory, "link record(s)");
            Count(HostsDirectory, "host record(s)");
            Count(PhysicalLinksDirectory, "physical link record(s)");
            Count(RunDirectory, "run file(s)");
            Count(Path.Combine(RunDirectory, MigrationSlot), "run file(s) in run/m");
            Count(DisksDirectory, "overlay disk(s)");
            return found;
        }

        /// <summary>
        /// Checks the state id before a state-changing command does anything (called by <see cref="Lock"/>, under the
        /// lock): mints it in a fresh directory; refuses (StateDirectoryDamaged) a missing or garbled one where something
        /// exists, and, once per store, a valid one that none of the devices of this directory's records carries while
        /// they carry another (a state-id replaced by a wrong one).
        /// </summary>
        public void CheckStateId(CancellationToken cancellationToken = default)
        {
            string id = StateId;
            if (_idConfirmed) return;
            ConfirmStateId(id, cancellationToken);
        }

        /// <summary>
        /// For a preflight (before planning): the hygiene of <see cref="EnsureLayout"/> and the state-id checks of
        /// <see cref="CheckStateId"/>, without minting an id; nothing when the directory does not exist yet (the first
        /// <see cref="Lock"/> creates it).
        /// </summary>
        public void Verify(CancellationToken cancellationToken = default)
        {
            if (Posix.LStat(Root) == null) return;
            EnsureLayout();
            string? id = ExistingStateId; // throws when damaged
            if (id != null && !_idConfirmed) ConfirmStateId(id, cancellationToken);
        }

        private void ConfirmStateId(string id, CancellationToken cancellationToken)
        {
            if (StateEvidence().Count > 0)
            {
                var witnesses = StateIdWitness.Find(this, cancellationToken);
                if (witnesses.Count > 0 && !witnesses.Any(w => w.StateId == id))
                    throw Damaged("holds " + id + ", but the devices of this directory's records carry " +
                                  string.Join(", ", witnesses.Select(w => w.StateId).Distinct(StringComparer.Ordinal)) +
                                  " and none carries " + id + " (the file was replaced, or these records are stale and another state " +
                                  "directory now uses the same names)", witnesses);
            }
            _idConfirmed = true;
        }

        private VirtualNetworksException Damaged(string problem, IReadOnlyList<StateIdWitness>? witnesses)
        {
            if (witnesses == null)
            {
                try { witnesses = StateIdWitness.Find(this, CancellationToken.None); }
                catch (Exception ex) when (ex is VirtualNetworksException || ex is IOException || ex is UnauthorizedAccessException) { witnesses = Array.Empty<StateIdWitness>(); }
            }
            var ids = witnesses.GroupBy(w => w.StateId, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ToList();
            var sb = new System.Text.StringBuilder();
            sb.Append("The state directory ").Append(Root).Append(" is damaged: its id file ").Append(StateIdPath).Append(' ').Append(problem)
              .Append(". Nothing was created, changed or removed.");
            if (ids.Count > 0)
            {
                sb.Append(ids.Count == 1 ? " Devices of this directory's routers, links and hosts carry the state id " : " Devices of this directory's routers, links and hosts carry the state ids ");
                sb.Append(string.Join("; ", ids.Select(g => g.Key + " (" + string.Join(", ", g.Take(4).Select(w => w.Describe())) +
                                                           (g.Count() > 4 ? ", ... " + g.Count().ToString(CultureInfo.InvariantCulture) + " in all" : "") + ")")));
                sb.Append('.');
            }
            else
            {
                sb.Append(" No device of this directory's routers, links or hosts carries a state id right now (none exists, or they predate state ids).");
            }
            string suggested = ids.Count == 1 ? ids[0].Key : NewId();
            return new VirtualNetworksException(ErrorIds.StateDirectoryDamaged, ErrorKind.InvalidData, StateIdPath, sb.ToString())
            {
                RecommendedAction = "Restore " + StateIdPath + " from a backup" +
                                    (ids.Count == 1
                                        ? ", or write the id its devices carry: printf '" + suggested + "\\n' > " + StateIdPath
                                        : ids.Count > 1
                                            ? ", or write the one of the ids above that is this directory's: printf '<id>\\n' > " + StateIdPath
                                            : "; if nothing of this directory exists any more (or it predates state ids), give it a new id: printf '" + suggested + "\\n' > " + StateIdPath) +
                                    ". Then run the command again.",
            };
        }

        private static string NewId()
        {
            var bytes = new byte[4];
            using (var rng = System.Security.Cryptography.RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            return BitConverter.ToString(bytes).Replace("-", "").ToLowerInvariant();
        }

        /// <summary>
        /// Creates the directories when missing (root 0755; routers, links, hosts, physical-links, run, run/m, disks 0700)
        /// and checks them (see the class remarks): none may be a symbolic link or not a directory, all must be owned by
        /// this process's effective user and not writable by group or others, else VirtualNetworksException
        /// (StateDirectoryUnsafe). Older 0755 directories and 0644 files of ours are tightened.
        /// </summary>
        public void EnsureLayout()
        {
            try
            {
                string? parent = Path.GetDirectoryName(Root);
                if (parent != null && !Directory.Exists(parent)) Directory.CreateDirectory(parent); // not ours: not checked
                SecureDirectory(Root, RootDirectoryMode, isRoot: true);
                foreach (var dir in new[] { RoutersDirectory, LinksDirectory, HostsDirectory, PhysicalLinksDirectory, RunDirectory,
                             Path.Combine(RunDirectory, MigrationSlot), DisksDirectory })
                    SecureDirectory(dir, PrivateDirectoryMode, isRoot: false);
                if (!_filesTightened)
                {
                    TightenFiles();
                    _filesTightened = true;
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, Root,
                    "Cannot create the VirtualNetworks state directory " + Root + ": " + ex.Message, ex);
            }
        }

        /// <summary>mkdir (never through a symbolic link), then open it with O_NOFOLLOW and check owner and mode on the descriptor.</summary>
        private static void SecureDirectory(string path, int mode, bool isRoot)
        {
            bool created = Posix.MakeDirectory(path, mode);
            int fd = Posix.OpenDirectoryNoFollow(path, out int errno);
            if (fd < 0)
            {
                var st = Posix.LStat(path);
                if (st != null && st.Value.IsSymbolicLink)
                    throw Unsafe(path, "is a symbolic link (to " + (Posix.ReadLink(path) ?? "?") + "); VirtualNetworks never follows a symbolic link in its state directory",
                        isRoot ? "Point the state directory at the real path (option StateDirectory or " + RootEnvironmentVariable + "), or replace the link with a directory."
                               : "Remove the link and run the command again (a fresh directory is created), or move the real directory there.");
                if (st != null && !st.Value.IsDirectory)
                    throw Unsafe(path, "is a " + st.Value.TypeName + ", not a directory", "Move it away and run the command again.");
                throw new IOException("open " + path + " failed: " + Posix.ErrorText(errno) + " (errno " + errno.ToString(CultureInfo.InvariantCulture) + ")");
            }
            try
            {
                var st = Posix.FStat(fd);
                uint me = Posix.EffectiveUserId;
                if (st.Uid != me)
                    throw Unsafe(path, "is owned by " + Posix.UserName(st.Uid) + " (mode " + Posix.Octal(st.Permissions) + "), not by the user running this command (" +
                                       Posix.UserName(me) + "); another user could change what this command reads and does",
                        "Use a state directory of your own, or (if it is yours) chown it: chown -R " + me.ToString(CultureInfo.InvariantCulture) + " " + path);
                if (!created && (st.Permissions & 0x12) != 0)
                    throw Unsafe(path, "is writable by " + ((st.Permissions & 0x2) != 0 ? "others" : "its group") + " (mode " + Posix.Octal(st.Permissions) + ", owner " +
                                       Posix.UserName(st.Uid) + "); another user could plant or replace files in it",
                        "Remove the write permission: chmod go-w " + path);
                int wanted = isRoot && !created ? st.Permissions : mode;
                if (st.Permissions != wanted) Posix.FChmod(fd, wanted, path);
            }
            finally
            {
                Posix.Close(fd);
            }
        }

        private static VirtualNetworksException Unsafe(string path, string problem, string action) =>
            new VirtualNetworksException(ErrorIds.StateDirectoryUnsafe, ErrorKind.PermissionDenied, path,
                "The VirtualNetworks state directory is not safe to use: " + path + " " + problem + ". Nothing was created, changed or removed.")
            {
                RecommendedAction = action,
            };

        /// <summary>
        /// Older files of ours become 0600, once per store: records (*.json in the record directories) and, in the root,
        /// lock, lock.holder, state-id, kvm-probe.json. Symbolic links, other users' files and other files are left alone.
        /// </summary>
        private void TightenFiles()
        {
            uint me = Posix.EffectiveUserId;
            var rootFiles = new[] { LockPath, LockPath + ".holder", StateIdPath, KvmProbePath };
            foreach (var dir in new[] { Root, RoutersDirectory, LinksDirectory, HostsDirectory, PhysicalLinksDirectory })
            {
                string[] files;
                try { files = dir == Root ? rootFiles : Directory.GetFiles(dir, "*.json"); }
                catch (DirectoryNotFoundException) { continue; }
                foreach (var f in files)
                {
                    var st = Posix.LStat(f);
                    if (st == null || !st.Value.IsRegularFile || st.Value.Uid != me || (st.Value.Permissions & 0x3F) == 0) continue;
                    try { Posix.Chmod(f, st.Value.Permissions & 0x1C0); }
                    catch (IOException) { } // gone meanwhile
                }
            }
        }

        private readonly object _lockGate = new object();
        private StateLock? _held;
        private int _heldDepth;

        /// <summary>
        /// Takes the exclusive state lock (checking and creating the layout first, see <see cref="EnsureLayout"/>), then
        /// checks the state id (<see cref="CheckStateId"/>), so a damaged or unsafe directory is refused before a
        /// state-changing command creates anything; dispose to release. Re-entrant on this store instance: while it holds
        /// the lock (an outer scope, e.g. a whole Deploy-VirtualNetwork holding it from planning to the last step), further
        /// calls return at once and only the outermost release lets go of the lock. Other store instances (other commands,
        /// other runspaces, other processes) wait for it.
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
            try
            {
                CheckStateId(cancellationToken);
            }
            catch
            {
                acquired.Dispose();
                throw;
            }
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
                    _linkCache = null; // valid only under the lock
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

        public LinkRecord? ReadLink(string name)
        {
            var path = LinkPath(name);
            var cache = CachedLinks();
            if (cache == null) return Read<LinkRecord>(path, "link");
            lock (cache)
            {
                // A file the listing could not read is read (and fails) as before; a name the listing did not find has no record.
                if (cache.ByName.TryGetValue(name, out var text)) return Parse<LinkRecord>(text, path, "link");
                if (cache.Problems.Count == 0) return null;
            }
            return Read<LinkRecord>(path, "link");
        }

        public void WriteLink(LinkRecord record)
        {
            if (record == null) throw new ArgumentNullException(nameof(record));
            try
            {
                Write(LinkPath(record.Name), record);
            }
            catch
            {
                ForgetCachedRecords(); // whatever the file holds now is read again
                throw;
            }
            var cache = CachedLinks(load: false);
            if (cache != null) lock (cache) cache.Put(record.Name, Serialize(record));
        }

        public bool DeleteLink(string name)
        {
            try
            {
                bool deleted = Delete(LinkPath(name), "link");
                var cache = CachedLinks(load: false);
                if (cache != null) lock (cache) cache.Remove(name);
                return deleted;
            }
            catch
            {
                ForgetCachedRecords();
                throw;
            }
        }

        /// <summary>
        /// Every link record; files without the marker or not parseable are skipped and listed in <paramref name="problems"/>.
        /// While this store holds the state lock, the directory is read once per lock scope (see <see cref="CachedLinks"/>).
        /// </summary>
        public List<LinkRecord> ListLinks(List<string>? problems = null)
        {
            var cache = CachedLinks();
            if (cache == null) return List<LinkRecord>(LinksDirectory, "link", problems);
            lock (cache)
            {
                problems?.AddRange(cache.Problems);
                return cache.ByName.Keys.OrderBy(k => k, StringComparer.Ordinal).Select(k => Parse<LinkRecord>(cache.ByName[k], LinkPath(k), "link")).ToList();
            }
        }

        /// <summary>
        /// The link records that name <paramref name="router"/> (as From or To), ordered by name, and in
        /// <paramref name="problems"/> the link files that could not be read (any of them may name it). Under the state lock
        /// this costs O(the router's links): the listing is read once per lock scope and indexed by router.
        /// </summary>
        public List<LinkRecord> LinksNaming(string router, List<string>? problems = null)
        {
            var cache = CachedLinks();
            if (cache == null)
                return List<LinkRecord>(LinksDirectory, "link", problems)
                    .Where(l => string.Equals(l.From, router, StringComparison.OrdinalIgnoreCase) || string.Equals(l.To, router, StringComparison.OrdinalIgnoreCase))
                    .OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase).ToList();
            lock (cache)
            {
                problems?.AddRange(cache.Problems);
                return cache.Naming(router).Select(k => Parse<LinkRecord>(cache.ByName[k], LinkPath(k), "link"))
                    .OrderBy(l => l.Name, StringComparer.OrdinalIgnoreCase).ToList();
            }
        }

        // ------------------------------------------------------------------------------------------------ record cache

        /// <summary>
        /// The link records as read once in this lock scope: the text of each (every read parses its own copy, so a caller
        /// that changes a record and fails before writing it changes nothing here) and the files that could not be read.
        /// Valid only while this store holds the state lock: every change of a record goes through this store under the
        /// lock (<see cref="WriteLink"/> and <see cref="DeleteLink"/> keep it current), so no other writer can change the
        /// directory meanwhile; the outermost release forgets it. Without the lock every read goes to the files.
        /// </summary>
        private sealed class LinkCache
        {
            public readonly Dictionary<string, string> ByName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            public readonly Dictionary<string, (string From, string To)> Ends = new Dictionary<string, (string From, string To)>(StringComparer.OrdinalIgnoreCase);
            public readonly List<string> Problems = new List<string>();

            public void Put(string name, string text)
            {
                ByName[name] = text;
                var o = JObject.Parse(text);
                Ends[name] = ((string?)o["from"] ?? "", (string?)o["to"] ?? "");
            }

            public void Remove(string name)
            {
                ByName.Remove(name);
                Ends.Remove(name);
            }

            public IEnumerable<string> Naming(string router) =>
                Ends.Where(e => string.Equals(e.Value.From, router, StringComparison.OrdinalIgnoreCase) ||
                                string.Equals(e.Value.To, router, StringComparison.OrdinalIgnoreCase)).Select(e => e.Key).ToList();
        }

        private LinkCache? _linkCache;

        /// <summary>The link cache of this lock scope (read on first use when <paramref name="load"/>), or null without the lock.</summary>
        private LinkCache? CachedLinks(bool load = true)
        {
            lock (_lockGate)
            {
                if (_held == null) return null;
                if (_linkCache != null || !load) return _linkCache;
                var cache = new LinkCache();
                foreach (var r in List<LinkRecord>(LinksDirectory, "link", cache.Problems)) cache.Put(r.Name, Serialize(r));
                return _linkCache = cache;
            }
        }

        /// <summary>Drops the records read in this lock scope: the next read goes to the files (after a change made beside this store).</summary>
        public void ForgetCachedRecords()
        {
            lock (_lockGate) _linkCache = null;
        }

        /// <summary>
        /// TEST SEAM, not a feature: how many record files this store has read (each file of a listing counts, and each
        /// single read), and how many directory listings it has made. Counting tests show that a command's reads grow
        /// linearly with the routers and links.
        /// </summary>
        internal long RecordFileReads => Interlocked.Read(ref _recordFileReads);
        internal long DirectoryListings => Interlocked.Read(ref _directoryListings);
        private long _recordFileReads;
        private long _directoryListings;

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
                Interlocked.Increment(ref _recordFileReads);
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
                AtomicFile.WriteAllText(path, Serialize(record), PrivateFileMode);
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
            Interlocked.Increment(ref _directoryListings);
            Array.Sort(files, StringComparer.Ordinal);
            foreach (var f in files)
            {
                string fileName = Path.GetFileName(f);
                if (fileName.StartsWith(".", StringComparison.Ordinal)) continue;
                try
                {
                    Interlocked.Increment(ref _recordFileReads);
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
