using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>
    /// Several simulated hosts by name (each with its own instances, files, faults and counters), the storage they
    /// share (path prefixes every host sees, e.g. an SMB share) and which hosts can be reached. Migration
    /// (Msvm_VirtualSystemMigrationService) moves VMs between the hosts of one datacenter.
    /// </summary>
    public sealed class SimulatedDatacenter
    {
        private readonly Dictionary<string, HyperVSimulator> _hosts = new Dictionary<string, HyperVSimulator>(StringComparer.OrdinalIgnoreCase);
        private readonly HashSet<string> _unreachable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Files under the shared prefixes: one store seen by every host of the datacenter.</summary>
        internal SharedFileStore SharedFiles { get; } = new SharedFileStore();

        public HyperVSimulator AddHost(string name)
        {
            lock (_hosts)
            {
                if (_hosts.ContainsKey(name)) throw new ArgumentException($"Host '{name}' exists.", nameof(name));
                var h = new HyperVSimulator(name, this) { MigrationAddress = "192.0.2." + (_hosts.Count + 1) };
                _hosts[name] = h;
                return h;
            }
        }

        public HyperVSimulator this[string name] { get { lock (_hosts) return _hosts[name]; } }

        public IReadOnlyList<HyperVSimulator> Hosts { get { lock (_hosts) return _hosts.Values.ToList(); } }

        /// <summary>
        /// A path prefix visible to every host (an SMB share such as <c>\\fs01\vms</c>, or a cluster shared volume):
        /// a file under it exists once for all hosts. Paths elsewhere are local to each host.
        /// </summary>
        public void AddSharedPath(string prefix) => SharedFiles.AddPrefix(prefix);

        public IReadOnlyList<string> SharedPaths => SharedFiles.Prefixes;

        /// <summary>
        /// Fault: the host cannot be reached (false) — new gateways to it throw ConnectionFailed, existing ones too, and
        /// migrations to it fail (the check reports it, the job fails). True again restores it.
        /// </summary>
        public void SetReachable(string name, bool reachable)
        {
            lock (_hosts) { if (reachable) _unreachable.Remove(name); else _unreachable.Add(name); }
        }

        public bool IsReachable(string name) { lock (_hosts) return _hosts.ContainsKey(name) && !_unreachable.Contains(name); }

        /// <summary>The host named <paramref name="name"/> when it exists and is reachable (migration destinations).</summary>
        internal HyperVSimulator? Reach(string? name)
        {
            if (string.IsNullOrEmpty(name)) return null;
            lock (_hosts) return _hosts.TryGetValue(name!, out var h) && !_unreachable.Contains(name!) ? h : null;
        }

        internal bool Knows(string? name) { lock (_hosts) return name != null && _hosts.ContainsKey(name); }

        /// <summary>A gateway to <paramref name="name"/>; for an unknown host, a gateway whose every call throws ConnectionFailed.</summary>
        public ICimGateway Connect(string name)
        {
            lock (_hosts)
                return _hosts.TryGetValue(name, out var h) ? (ICimGateway)new ReachabilityGateway(this, name, h.Connect()) : new UnreachableGateway(name);
        }
    }

    /// <summary>Files of one host: its own, plus the datacenter's shared store for paths under a shared prefix.</summary>
    internal sealed class SimFileStore
    {
        private readonly Dictionary<string, HyperVSimulator.SimFile> _local = new Dictionary<string, HyperVSimulator.SimFile>(StringComparer.OrdinalIgnoreCase);
        public SharedFileStore? Shared;

        private bool IsShared(string path) => Shared != null && Shared.Covers(path);

        public bool TryGetValue(string path, out HyperVSimulator.SimFile file)
        {
            if (IsShared(path)) return Shared!.TryGetValue(path, out file);
            return _local.TryGetValue(path, out file!);
        }

        public bool ContainsKey(string path) => TryGetValue(path, out _);

        public HyperVSimulator.SimFile this[string path]
        {
            set { if (IsShared(path)) Shared!.Set(path, value); else _local[path] = value; }
        }

        public bool Remove(string path) => IsShared(path) ? Shared!.Remove(path) : _local.Remove(path);

        public IEnumerable<HyperVSimulator.SimFile> Values =>
            Shared == null ? _local.Values.ToList() : _local.Values.Concat(Shared.Values).ToList();
    }

    internal sealed class SharedFileStore
    {
        private readonly object _sync = new object();
        private readonly List<string> _prefixes = new List<string>();
        private readonly Dictionary<string, HyperVSimulator.SimFile> _files = new Dictionary<string, HyperVSimulator.SimFile>(StringComparer.OrdinalIgnoreCase);

        public void AddPrefix(string prefix)
        {
            var p = HyperVSimulator.NormalizePath(prefix).TrimEnd('\\') + "\\";
            lock (_sync) if (!_prefixes.Contains(p, StringComparer.OrdinalIgnoreCase)) _prefixes.Add(p);
        }

        public IReadOnlyList<string> Prefixes { get { lock (_sync) return _prefixes.Select(p => p.TrimEnd('\\')).ToList(); } }

        public bool Covers(string path)
        {
            var n = HyperVSimulator.NormalizePath(path);
            lock (_sync) return _prefixes.Any(p => n.StartsWith(p, StringComparison.OrdinalIgnoreCase));
        }

        public bool TryGetValue(string path, out HyperVSimulator.SimFile file) { lock (_sync) return _files.TryGetValue(path, out file!); }
        public void Set(string path, HyperVSimulator.SimFile f) { lock (_sync) _files[path] = f; }
        public bool Remove(string path) { lock (_sync) return _files.Remove(path); }
        public IEnumerable<HyperVSimulator.SimFile> Values { get { lock (_sync) return _files.Values.ToList(); } }
    }
}
