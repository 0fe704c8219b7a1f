using System;
using System.IO;
using System.Text;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Linux.State
{
    /// <summary>
    /// The run-time files of one router, all under the state directory's run/ (mode 0700): pidfile, QMP socket, command
    /// channel socket, serial console log, guest configuration handed over through fw_cfg. File names use the router name
    /// in lower case (names compare case-insensitively), validated by <see cref="NameRules"/> first.
    /// </summary>
    public sealed class RouterRunPaths
    {
        /// <summary>sun_path is 108 bytes including the terminating NUL.</summary>
        public const int MaxSocketPathBytes = 107;

        public RouterRunPaths(string runDirectory, string routerName)
        {
            NameRules.Ensure(routerName, "router");
            if (string.IsNullOrEmpty(runDirectory) || !Path.IsPathRooted(runDirectory))
                throw new ArgumentException("The run directory must be an absolute path.", nameof(runDirectory));
            RouterName = routerName;
            RunDirectory = runDirectory;
            string b = Path.Combine(runDirectory, routerName.ToLowerInvariant());
            PidFile = b + ".pid";
            QmpSocket = b + ".qmp";
            ChannelSocket = b + ".chan";
            ConsoleLog = b + ".console";
            ConfigFile = b + ".cfg";
        }

        public string RouterName { get; }
        public string RunDirectory { get; }
        /// <summary>QEMU -pidfile.</summary>
        public string PidFile { get; }
        /// <summary>QMP monitor (unix socket, mode 0600).</summary>
        public string QmpSocket { get; }
        /// <summary>The guest command channel: chardev socket behind virtserialport "vn.cmd".</summary>
        public string ChannelSocket { get; }
        /// <summary>Everything the guest writes on ttyS0 (truncated at each start).</summary>
        public string ConsoleLog { get; }
        /// <summary>Guest configuration text handed over as fw_cfg "opt/vn/config".</summary>
        public string ConfigFile { get; }

        /// <summary>All files of this router in run/.</summary>
        public string[] All => new[] { PidFile, QmpSocket, ChannelSocket, ConsoleLog, ConfigFile };

        /// <summary>Throws VirtualNetworksException (InvalidArgument) when a socket path is too long for sockaddr_un.</summary>
        public void EnsureSocketPathsFit()
        {
            foreach (var p in new[] { QmpSocket, ChannelSocket })
            {
                int n = Encoding.UTF8.GetByteCount(p);
                if (n > MaxSocketPathBytes)
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidArgument, RouterName,
                        "The socket path " + p + " is " + n + " bytes long; Unix sockets allow at most " + MaxSocketPathBytes +
                        ". Use a shorter state directory (option StateDirectory or VIRTUALNETWORKS_STATE_DIR) or a shorter router name.");
            }
        }
    }
}
