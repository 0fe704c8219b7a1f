using System;
using System.Globalization;
using System.IO;
using System.Threading;
using VirtualNetworks.Linux.State;
using VirtualNetworks.Util;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// Finds QEMU and starts one router's QEMU process: writes the guest configuration for fw_cfg, runs QEMU with
    /// <see cref="QemuArguments"/> (daemonized; the router outlives the PowerShell process), then checks the pidfile
    /// and makes the QMP and channel sockets (and the console log) mode 0600.
    /// </summary>
    public sealed class QemuLauncher
    {
        public const string QemuBinaryName = "qemu-system-x86_64";
        public const string QemuDebianPackage = "qemu-system-x86";
        /// <summary>Sockets and logs of a router: owner read/write only.</summary>
        public const int PrivateFileMode = 0x180; // 0600

        /// <summary>How long QEMU may take to set the VM up before it daemonizes.</summary>
        public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

        public QemuLauncher(StateStore store, string? qemuPath = null)
        {
            Store = store ?? throw new ArgumentNullException(nameof(store));
            QemuPath = FindQemu(qemuPath);
        }

        public StateStore Store { get; }
        public string QemuPath { get; }

        /// <summary>
        /// The QEMU binary: <paramref name="explicitPath"/> when given, else qemu-system-x86_64 from PATH. Throws
        /// VirtualNetworksException (BackendNotAvailable, NotInstalled) naming the Debian package when missing.
        /// </summary>
        public static string FindQemu(string? explicitPath = null)
        {
            string? found = ProcessRunner.FindExecutable(string.IsNullOrEmpty(explicitPath) ? QemuBinaryName : explicitPath!);
            if (found != null) return found;
            throw new VirtualNetworksException(ErrorIds.BackendNotAvailable, ErrorKind.NotInstalled, explicitPath ?? QemuBinaryName,
                (string.IsNullOrEmpty(explicitPath) ? QemuBinaryName + " was not found in PATH" : "QEMU was not found at " + explicitPath) +
                "; the Linux backend runs every router in QEMU (Debian package " + QemuDebianPackage + ").")
            {
                RecommendedAction = "Install QEMU: apt-get install " + QemuDebianPackage + " (Debian/Ubuntu), or run ./build.sh demo, which installs what it needs.",
            };
        }

        /// <summary>Debian's qemu-system-data ships qboot, a minimal firmware that boots a -kernel faster than SeaBIOS.</summary>
        public const string QbootPath = "/usr/share/qemu/qboot.rom";

        /// <summary>
        /// The qboot firmware when installed (for kernel+initrd images: about 0.3 s less CPU per boot under TCG), else
        /// null (QEMU's default SeaBIOS). Disk images need SeaBIOS: qboot only starts a -kernel.
        /// </summary>
        public static string? FindQboot() => File.Exists(QbootPath) ? QbootPath : null;

        /// <summary>The accelerator for new routers (see <see cref="KvmProbe"/>); <paramref name="probeKernel"/> = the router image's kernel.</summary>
        public KvmProbeResult ChooseAccelerator(string? probeKernel, CancellationToken cancellationToken = default) =>
            KvmProbe.Decide(QemuPath, Store, probeKernel, cancellationToken);

        /// <summary>
        /// Starts the router's QEMU and returns its pid. Refuses when it already runs. Leftover run files of a dead
        /// process are replaced. When anything fails after QEMU started, that QEMU is stopped again.
        /// </summary>
        public int Launch(VmLaunchSpec spec, CancellationToken cancellationToken = default)
        {
            if (spec == null) throw new ArgumentNullException(nameof(spec));
            Store.EnsureLayout();
            var paths = PathsFor(spec);
            if (spec.RunDirectory != null)
            {
                Directory.CreateDirectory(spec.RunDirectory);
                Posix.Chmod(spec.RunDirectory, 0x1C0);
            }
            var args = QemuArguments.Build(spec, paths); // validates everything first
            CheckFile(spec.Name, "kernel", spec.Kernel);
            CheckFile(spec.Name, "initrd", spec.Initrd);
            CheckFile(spec.Name, "disk", spec.Disk);
            CheckFile(spec.Name, "firmware", spec.Firmware);
            // QEMU running as root would create a missing tap itself: a transient, untagged device on no bridge.
            var netns = spec.NetworkNamespace == null ? null : new Net.IpCommand(spec.NetworkNamespace);
            foreach (var ad in spec.Adapters)
            {
                bool exists = netns == null ? Directory.Exists("/sys/class/net/" + ad.Tap) : netns.GetLink(ad.Tap, cancellationToken) != null;
                if (!exists)
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ObjectNotFound, spec.Name,
                        "Cannot start router '" + spec.Name + "': its tap device " + ad.Tap + " does not exist" +
                        (spec.NetworkNamespace == null ? "" : " in network namespace " + spec.NetworkNamespace) + " (links create their taps before the router starts).");
            }

            var status = RouterProcess.Inspect(paths);
            if (status.State == VmProcessState.Running)
                throw new VirtualNetworksException(ErrorIds.InvalidStateTransition, ErrorKind.InvalidOperation, spec.Name,
                    "Router '" + spec.Name + "' is already running (QEMU pid " + status.Pid!.Value.ToString(CultureInfo.InvariantCulture) + ").");
            RouterProcess.RemoveRunFiles(paths, includeConsole: false);
            try
            {
                AtomicFile.WriteAllText(paths.ConfigFile, spec.ConfigText, PrivateFileMode);
            }
            catch (IOException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceUnavailable, spec.Name,
                    "Cannot write the configuration file " + paths.ConfigFile + " of router '" + spec.Name + "': " + ex.Message, ex);
            }

            cancellationToken.ThrowIfCancellationRequested();
            string exe = QemuPath;
            if (spec.NetworkNamespace != null)
            {
                // ip netns exec NS qemu ...: ip enters the namespace and execs QEMU (the process's argv[0] is QEMU's path,
                // which RouterProcess checks); no shell is involved.
                args.InsertRange(0, new[] { "netns", "exec", spec.NetworkNamespace, QemuPath });
                exe = Net.NetTools.Require("ip");
            }
            ProcessResult r = ProcessRunner.Run(exe, args, null, StartTimeout, null, cancellationToken);
            if (!r.Succeeded)
            {
                // QEMU may have got as far as writing its pidfile; make sure nothing of it stays.
                TryKill(paths);
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, spec.Name,
                    "QEMU could not start router '" + spec.Name + "' (exit code " + r.ExitCode.ToString(CultureInfo.InvariantCulture) + "): " +
                    Trim(r.StdErr.Trim().Length > 0 ? r.StdErr : r.StdOut) + " Command: " + r.CommandLine);
            }

            try
            {
                var st = RouterProcess.Inspect(paths);
                if (st.State != VmProcessState.Running)
                    throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, spec.Name,
                        "QEMU reported success for router '" + spec.Name + "' but its process is not running: " + st.Detail +
                        ". Console: " + RouterProcess.ConsoleTail(paths, 5));
                foreach (var f in new[] { paths.QmpSocket, paths.ChannelSocket, paths.ConsoleLog })
                    EnforceMode(spec.Name, f);
                return st.Pid!.Value;
            }
            catch
            {
                TryKill(paths);
                throw;
            }
        }

        /// <summary>The run files of the instance <paramref name="spec"/> describes: its own <see cref="VmLaunchSpec.RunDirectory"/> or the store's run/.</summary>
        public RouterRunPaths PathsFor(VmLaunchSpec spec) =>
            spec.RunDirectory == null ? Store.RunPaths(spec.Name) : new RouterRunPaths(spec.RunDirectory, spec.Name);

        /// <summary>chmod 0600 and check it took (QEMU creates its sockets with its own umask, 027 when daemonized).</summary>
        internal static void EnforceMode(string router, string path)
        {
            try
            {
                Posix.Chmod(path, PrivateFileMode);
            }
            catch (IOException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, router,
                    "Cannot restrict " + path + " of router '" + router + "' to mode 0600: " + ex.Message, ex);
            }
            int? mode = Posix.GetMode(path);
            if (mode.HasValue && mode.Value != PrivateFileMode)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.PermissionDenied, router,
                    path + " of router '" + router + "' has mode " + Convert.ToString(mode.Value, 8) + " after chmod 0600.");
        }

        private static void CheckFile(string router, string what, string? path)
        {
            if (path == null || File.Exists(path)) return;
            throw new VirtualNetworksException(ErrorIds.ImageNotFound, ErrorKind.ObjectNotFound, router,
                "The " + what + " " + path + " of router '" + router + "' does not exist.")
            {
                RecommendedAction = "The file went away after the router's image was found (an image replaced or removed meanwhile): start the " +
                                    "router again; where images are looked up and how to install one: docs/install.md.",
            };
        }

        private static void TryKill(RouterRunPaths paths)
        {
            try
            {
                RouterProcess.Kill(paths, TimeSpan.FromSeconds(3));
            }
            catch (VirtualNetworksException)
            {
            }
            catch (IOException)
            {
            }
        }

        private static string Trim(string s)
        {
            s = s.Trim();
            return s.Length <= 1500 ? s : s.Substring(0, 1500) + "...";
        }
    }
}
