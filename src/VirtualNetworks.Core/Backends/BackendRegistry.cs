using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;

namespace VirtualNetworks.Backends
{
    /// <summary>
    /// Maps backend kinds to factories. Real backends register themselves from the module assembly; an unknown kind
    /// gives an error listing the known ones. Test doubles are injected through the internal <see cref="TestOverride"/>
    /// only (visible to the test assemblies), so users can never select them.
    /// </summary>
    public static class BackendRegistry
    {
        private static readonly object Gate = new object();
        private static readonly Dictionary<string, Func<BackendRequest, IVirtualizationBackend>> Factories =
            new Dictionary<string, Func<BackendRequest, IVirtualizationBackend>>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Set by tests only. When set, every request is answered by it.</summary>
        internal static Func<BackendRequest, IVirtualizationBackend>? TestOverride { get; set; }

        /// <summary>The kind used when none is given: HyperV on Windows, Linux elsewhere.</summary>
        public static string DefaultKind =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "HyperV" : "Linux";

        /// <summary>Registers a real backend kind.</summary>
        public static void Register(string kind, Func<BackendRequest, IVirtualizationBackend> factory)
        {
            if (string.IsNullOrWhiteSpace(kind)) throw new ArgumentException("kind is required", nameof(kind));
            lock (Gate) Factories[kind] = factory ?? throw new ArgumentNullException(nameof(factory));
        }

        public static IReadOnlyList<string> KnownKinds
        {
            get { lock (Gate) return Factories.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase).ToArray(); }
        }

        /// <summary>Creates the backend for a request, or throws BackendNotAvailable / UnknownBackendKind.</summary>
        public static IVirtualizationBackend Resolve(BackendRequest request)
        {
            var test = TestOverride;
            if (test != null) return test(request);

            var kind = string.IsNullOrEmpty(request.Kind) ? DefaultKind : request.Kind!;
            Func<BackendRequest, IVirtualizationBackend>? factory;
            string[] known;
            lock (Gate)
            {
                Factories.TryGetValue(kind, out factory);
                known = Factories.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase).ToArray();
            }
            if (factory != null) return factory(request);

            var list = known.Length == 0 ? "none in this build" : string.Join(", ", known);
            if (string.IsNullOrEmpty(request.Kind))
                throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, kind,
                    $"No VirtualNetworks backend is available for this platform (needed: '{kind}'; available: {list}).");
            throw new VirtualNetworksException(ErrorIds.UnknownBackendKind, ErrorKind.InvalidArgument, kind,
                $"Unknown backend kind '{kind}'. Known kinds: {list}.");
        }
    }
}
