using System.Threading;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Registers the real backends with <see cref="Backends.BackendRegistry"/> the first time a cmdlet needs one. The
    /// engine knows no backend by itself, so the module assembly, which ships them, does the registration.
    /// </summary>
    internal static class BackendBootstrap
    {
        private static int _registered;

        /// <summary>Kind name of the Hyper-V backend (selected by -CimSession, and the default on Windows).</summary>
        public const string HyperVKind = HyperV.HyperVBackend.KindName;
        /// <summary>Backend option carrying the -CimSession objects (read by the Hyper-V gateway only).</summary>
        public const string CimSessionOption = "CimSession";
        /// <summary>Backend option carrying -Credential as a System.Net.NetworkCredential.</summary>
        public const string CredentialOption = "Credential";

        public static void EnsureRegistered()
        {
            if (Interlocked.Exchange(ref _registered, 1) == 1) return;

            // One line per backend shipped with the module.
            Backends.BackendRegistry.Register(Linux.LinuxBackend.KindName, request => new Linux.LinuxBackend(request));
            Backends.BackendRegistry.Register(HyperV.HyperVBackend.KindName, request => new HyperV.HyperVBackend(request));
        }
    }
}
