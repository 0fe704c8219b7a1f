using System.Collections.Generic;

namespace VirtualNetworks.Backends
{
    /// <summary>
    /// A backend that can say where things are, for the engine's log (-Verbose): its set-up (the Linux backend: the state
    /// directory) and the file(s) an image name resolves to. Read-only: nothing here may change state or contact more
    /// than the local disk, since the engine asks for every router it creates or starts.
    /// </summary>
    public interface IBackendDiagnostics
    {
        /// <summary>Lines describing where the backend keeps its state and what it uses ("state directory /var/lib/...").</summary>
        IReadOnlyList<string> DescribeSetup();

        /// <summary>
        /// What <paramref name="image"/> resolves to for a router on <paramref name="host"/> ("" = the local machine): the
        /// path(s) of the image's files, or null when it cannot be resolved (the create or start then reports why).
        /// </summary>
        string? DescribeImage(string image, string host);
    }
}
