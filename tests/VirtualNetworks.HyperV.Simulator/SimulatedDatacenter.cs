using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>Several simulated hosts by name (each with its own instances, files, faults and counters).</summary>
    public sealed class SimulatedDatacenter
    {
        private readonly Dictionary<string, HyperVSimulator> _hosts = new Dictionary<string, HyperVSimulator>(StringComparer.OrdinalIgnoreCase);

        public HyperVSimulator AddHost(string name)
        {
            lock (_hosts)
            {
                if (_hosts.ContainsKey(name)) throw new ArgumentException($"Host '{name}' exists.", nameof(name));
                var h = new HyperVSimulator(name);
                _hosts[name] = h;
                return h;
            }
        }

        public HyperVSimulator this[string name] { get { lock (_hosts) return _hosts[name]; } }

        public IReadOnlyList<HyperVSimulator> Hosts { get { lock (_hosts) return _hosts.Values.ToList(); } }

        /// <summary>A gateway to <paramref name="name"/>; for an unknown host, a gateway whose every call throws ConnectionFailed.</summary>
        public ICimGateway Connect(string name)
        {
            lock (_hosts) return _hosts.TryGetValue(name, out var h) ? h.Connect() : new UnreachableGateway(name);
        }
    }
}
