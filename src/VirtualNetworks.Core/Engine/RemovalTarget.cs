using System;
using System.Collections.Generic;

namespace VirtualNetworks.Engine
{
    /// <summary>
    /// One network identity a removal by name takes (<see cref="VirtualNetworkService.SelectForRemoval"/>): its fragments
    /// (the components sharing the base name, or the ones named explicitly) and, when no router of it is left, the
    /// deploy-created lab hosts that still list it.
    /// </summary>
    public sealed class RemovalTarget
    {
        public RemovalTarget(string name, IReadOnlyList<VirtualNetwork> networks, int fragmentCount, IReadOnlyList<string> leftoverHosts)
        {
            Name = name ?? throw new ArgumentNullException(nameof(name));
            Networks = networks ?? throw new ArgumentNullException(nameof(networks));
            FragmentCount = fragmentCount;
            LeftoverHosts = leftoverHosts ?? throw new ArgumentNullException(nameof(leftoverHosts));
        }

        /// <summary>The identity: a network's base name (its label), e.g. "x" for "x", "x#2", "x#3".</summary>
        public string Name { get; }
        /// <summary>The components removed (empty when no router of the network is left).</summary>
        public IReadOnlyList<VirtualNetwork> Networks { get; }
        /// <summary>How many components share the name now (more than <see cref="Networks"/> when only some were named).</summary>
        public int FragmentCount { get; }
        /// <summary>With no router left: the deploy-created lab hosts deployed for this network that the removal takes.</summary>
        public IReadOnlyList<string> LeftoverHosts { get; }
    }
}
