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

        public static void EnsureRegistered()
        {
            if (Interlocked.Exchange(ref _registered, 1) == 1) return;

            // No backend ships in this build yet. They come later and register here, one line each:
            //   BackendRegistry.Register("Linux", request => new LinuxBackend(request));
            //   BackendRegistry.Register("HyperV", request => new HyperVBackend(request));
            // Until then BackendRegistry.Resolve reports BackendNotAvailable ("none in this build").
        }
    }
}
