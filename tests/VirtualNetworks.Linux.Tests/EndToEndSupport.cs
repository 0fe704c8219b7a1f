using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualNetworks.Util;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace VirtualNetworks.Linux.Tests
{
    // =================================================================================================== attributes

    /// <summary>
    /// An end-to-end fact: the staged module with the real Linux backend, real QEMU routers, bridges and taps. Not root
    /// (or no QEMU) and CI is not "true": skipped with the reason "requires root and QEMU". On CI it always runs, so a CI
    /// that lost its privileges or its packages fails instead of passing silently.
    /// </summary>
    public sealed class EndToEndFactAttribute : FactAttribute
    {
        public EndToEndFactAttribute()
        {
            if (EndToEndHost.SkipReason != null) Skip = EndToEndHost.SkipReason;
        }
    }

    /// <summary>The theory form of <see cref="EndToEndFactAttribute"/>.</summary>
    public sealed class EndToEndTheoryAttribute : TheoryAttribute
    {
        public EndToEndTheoryAttribute()
        {
            if (EndToEndHost.SkipReason != null) Skip = EndToEndHost.SkipReason;
        }
    }

    /// <summary>
    /// The end-to-end classes run one at a time and after every parallel collection (xunit runs collections that disable
    /// parallelization alone): they boot VMs on a 2-core machine, measure bandwidth, and set the process-wide
    /// VIRTUALNETWORKS_STATE_DIR for their runspace.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class EndToEndCollection
    {
        public const string Name = "End-to-end: real Linux backend";
    }

    /// <summary>The position of a fact in its class when the class uses <see cref="StepOrderer"/>.</summary>
    [AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
    public sealed class StepAttribute : Attribute
    {
        public StepAttribute(int order) => Order = order;
        public int Order { get; }
    }

    /// <summary>Runs the facts of a class in the order of their <see cref="StepAttribute"/> (a scenario told in steps).</summary>
    public sealed class StepOrderer : ITestCaseOrderer
    {
        public const string TypeName = "VirtualNetworks.Linux.Tests.StepOrderer";
        public const string AssemblyName = "VirtualNetworks.Linux.Tests";

        public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases) where TTestCase : ITestCase =>
            testCases.OrderBy(t => Order(t)).ThenBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);

        private static int Order(ITestCase testCase)
        {
            var attribute = testCase.TestMethod.Method.GetCustomAttributes(typeof(StepAttribute).AssemblyQualifiedName).FirstOrDefault();
            return attribute?.GetConstructorArguments().OfType<int>().FirstOrDefault() ?? int.MaxValue;
        }
    }

    // =================================================================================================== the host

    /// <summary>Facts about this machine and the repository, and scans for what the module leaves behind.</summary>
    /// <summary>A plan observer for engine-driven tests: runs every step, and logs it when given an output.</summary>
    internal sealed class ApplyAllSteps : VirtualNetworks.Planning.IPlanObserver
    {
        private readonly ITestOutputHelper? _out;
        public ApplyAllSteps(ITestOutputHelper? output = null) => _out = output;
        public bool ShouldRun(VirtualNetworks.Planning.PlanStep step) => true;
        public void OnStepStarting(VirtualNetworks.Planning.PlanStep step, int index, int count) =>
            _out?.WriteLine($"step {index + 1}/{count}: {step}");
    }

    internal static class EndToEndHost
    {
        /// <summary>
        /// Disposes a test's backend after removing only that test's leftovers (objects named after
        /// <paramref name="prefix"/> or inside <paramref name="root"/>: other runs may have labs on the machine), deletes
        /// the lab namespaces of <paramref name="hosts"/> and the state directory.
        /// </summary>
        public static void CleanUpOwn(LinuxBackend? backend, string prefix, string root, IEnumerable<string> hosts, Xunit.Abstractions.ITestOutputHelper output)
        {
            if (backend != null)
            {
                try
                {
                    foreach (var o in backend.FindOrphans(true, System.Threading.CancellationToken.None).Where(o =>
                                 (o.Owner != null && o.Owner.StartsWith(prefix + "-", StringComparison.OrdinalIgnoreCase)) ||
                                 o.Name.StartsWith(root + "/", StringComparison.Ordinal)))
                    {
                        try { backend.RemoveOrphan(o, System.Threading.CancellationToken.None); }
                        catch (Exception ex) { output.WriteLine("clean-up " + o + ": " + ex.Message); }
                    }
                }
                catch (Exception ex)
                {
                    output.WriteLine("orphan scan: " + ex.Message);
                }
                backend.Dispose();
            }
            foreach (var h in hosts) NetTestHost.RunQuietly("ip", "netns", "del", Net.InterfaceNames.Namespace(h));
            try { System.IO.Directory.Delete(root, true); } catch (System.IO.IOException) { } catch (UnauthorizedAccessException) { }
        }

        public const string StateVariable = "VIRTUALNETWORKS_STATE_DIR";
        public const string ImagePathVariable = "VIRTUALNETWORKS_IMAGE_PATH";
        public const string ModuleVariable = "VIRTUALNETWORKS_MODULE";
        public const string TagPrefix = "virtualnetworks:";
        public const string DeployErrorSuffix = ",VirtualNetworks.Commands.DeployVirtualNetworkCommand";

        private static readonly Lazy<string> Root = new Lazy<string>(FindRepoRoot);
        private static readonly object ImageGate = new object();
        private static string? _imageError;
        private static bool _imageChecked;

        public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

        public static bool IsRoot => GetEuid() == 0;

        public static string? QemuPath => ProcessRunner.FindExecutable("qemu-system-x86_64");

        /// <summary>Why the end-to-end tests are skipped here, or null when they run (always null on CI).</summary>
        public static string? SkipReason => IsCi || (IsRoot && QemuPath != null) ? null : "requires root and QEMU";

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
        private static extern uint GetEuid();

        public static string RepoRoot => Root.Value;

        /// <summary>$VIRTUALNETWORKS_MODULE (a .psd1 or its folder) when set, else &lt;repo&gt;/out/VirtualNetworks/VirtualNetworks.psd1.</summary>
        public static string ManifestPath
        {
            get
            {
                var env = Environment.GetEnvironmentVariable(ModuleVariable);
                if (string.IsNullOrEmpty(env)) return Path.Combine(RepoRoot, "out", "VirtualNetworks", "VirtualNetworks.psd1");
                var full = Path.GetFullPath(env);
                return Directory.Exists(full) ? Path.Combine(full, "VirtualNetworks.psd1") : full;
            }
        }

        /// <summary>The folder that holds the router image folder "router" (out/images).</summary>
        public static string ImageRoot => Path.Combine(RepoRoot, "out", "images");

        public static string Figure1Json => Path.Combine(RepoRoot, "examples", "figure1.json");

        /// <summary>
        /// A real Linux backend on the state directory <paramref name="root"/> (root needed), with the built router image
        /// linked in as images/router (fails when the image is missing).
        /// </summary>
        public static VirtualNetworks.Linux.LinuxBackend NewBackend(string root)
        {
            NetTestHost.RequireRoot();
            var image = Path.Combine(ImageRoot, "router");
            Assert.True(File.Exists(Path.Combine(image, "vmlinuz")), "the router image is missing in " + image + " (./build.sh build)");
            Directory.CreateDirectory(Path.Combine(root, "images"));
            Directory.CreateSymbolicLink(Path.Combine(root, "images", "router"), image);
            return new VirtualNetworks.Linux.LinuxBackend(new VirtualNetworks.Backends.BackendRequest
            {
                Options = new Dictionary<string, object?> { [VirtualNetworks.Linux.LinuxBackend.StateDirectoryOption] = root },
            });
        }

        public static string TopologyFixtures => Path.Combine(RepoRoot, "tests", "fixtures", "topologies");

        /// <summary>pwsh.dll of the pinned PowerShell that ./build.sh build restores (out/tools/pwsh.path names it).</summary>
        public static string PwshDll
        {
            get
            {
                string pointer = Path.Combine(RepoRoot, "out", "tools", "pwsh.path");
                string? dll = File.Exists(pointer) ? File.ReadAllText(pointer).Trim() : null;
                if (string.IsNullOrEmpty(dll) || !File.Exists(dll))
                    throw new InvalidOperationException("pwsh is not restored (" + pointer + (dll == null ? " is missing" : " names " + dll + ", which is missing") + "); run ./build.sh build.");
                return dll!;
            }
        }

        /// <summary>
        /// A child pwsh (its own process, as a scheduled script would be; the dotnet process IS pwsh, so a SIGKILL ends it)
        /// that imports the staged module and runs <paramref name="command"/> against the state directory <paramref name="stateRoot"/>.
        /// </summary>
        public static ProcessStartInfo PwshStartInfo(string stateRoot, string command)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { PwshDll, "-NoProfile", "-NonInteractive", "-Command",
                         "Import-Module -Name " + Q(ManifestPath) + " -ErrorAction Stop" + Environment.NewLine + command })
                start.ArgumentList.Add(a);
            start.Environment[StateVariable] = stateRoot;
            start.Environment[ImagePathVariable] = ImageRoot;
            start.Environment[ModuleVariable] = ManifestPath;
            start.Environment["NO_COLOR"] = "1";
            return start;
        }

        /// <summary>
        /// Fails the test unless this machine can run real routers: root, QEMU, the staged module, the router image (built
        /// here with images/router/build.sh when missing, as ./build.sh test does before the tests).
        /// </summary>
        public static void RequireReady()
        {
            var problems = new List<string>();
            if (!IsRoot) problems.Add("not running as root (bridges, taps and QEMU need it)");
            if (QemuPath == null) problems.Add("qemu-system-x86_64 is not on PATH (apt-get install qemu-system-x86; ./build.sh test installs it)");
            if (!File.Exists(ManifestPath)) problems.Add("the staged module " + ManifestPath + " is missing (run ./build.sh build)");
            if (problems.Count > 0)
                Assert.Fail("The end-to-end tests cannot run (CI=" + (IsCi ? "true" : "not set") + "): " + string.Join("; ", problems) + ".");
            EnsureImage();
        }

        private static void EnsureImage()
        {
            lock (ImageGate)
            {
                if (!_imageChecked)
                {
                    _imageChecked = true;
                    var dir = Path.Combine(ImageRoot, "router");
                    if (!File.Exists(Path.Combine(dir, "vmlinuz")) || !File.Exists(Path.Combine(dir, "initramfs.cpio.gz")))
                    {
                        var script = Path.Combine(RepoRoot, "images", "router", "build.sh");
                        var r = ProcessRunner.Run("/bin/bash", new[] { script, dir }, null, TimeSpan.FromMinutes(20));
                        if (!r.Succeeded) _imageError = "images/router/build.sh failed (exit " + r.ExitCode + "): " + r.StdErr.Trim();
                    }
                }
                if (_imageError != null) Assert.Fail(_imageError);
            }
        }

        /// <summary>A short random lowercase hex string.</summary>
        public static string Hex(int digits)
        {
            var bytes = new byte[(digits + 1) / 2];
            RandomNumberGenerator.Fill(bytes);
            return Convert.ToHexString(bytes).ToLowerInvariant().Substring(0, digits);
        }

        /// <summary>
        /// A unique object-name prefix, e.g. "e3f9a1": router and link names made from it hash to interface names nothing
        /// else on the machine uses (the demo's "a1-a2", another test run, ...).
        /// </summary>
        public static string NewPrefix() => "e" + Hex(5);

        /// <summary>A fresh, short state directory (Unix socket paths are limited to 107 bytes).</summary>
        public static string NewStateRoot() => Path.Combine("/tmp", "vne2e-" + Hex(8));

        // ------------------------------------------------------------------------------------------------ scans

        /// <summary>Every interface whose ifalias starts with "virtualnetworks:" (name -> alias), from <c>ip -j link show</c>.</summary>
        public static SortedDictionary<string, string> TaggedInterfaces() => TaggedInterfaces(null);

        /// <summary>The same inside the network namespace <paramref name="networkNamespace"/> (null: this process's).</summary>
        public static SortedDictionary<string, string> TaggedInterfaces(string? networkNamespace)
        {
            var ip = ProcessRunner.FindExecutable("ip") ?? "/usr/sbin/ip";
            var arguments = networkNamespace == null ? new[] { "-j", "link", "show" } : new[] { "-n", networkNamespace, "-j", "link", "show" };
            var r = ProcessRunner.Run(ip, arguments, null, TimeSpan.FromSeconds(30));
            if (!r.Succeeded) throw new InvalidOperationException(r.CommandLine + " failed: " + r.StdErr);
            var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
            using var doc = JsonDocument.Parse(r.StdOut);
            foreach (var link in doc.RootElement.EnumerateArray())
            {
                if (!link.TryGetProperty("ifalias", out var alias) || alias.ValueKind != JsonValueKind.String) continue;
                var text = alias.GetString() ?? "";
                if (text.StartsWith(TagPrefix, StringComparison.Ordinal))
                    result[link.GetProperty("ifname").GetString() ?? "?"] = text;
            }
            return result;
        }

        /// <summary>Live QEMU processes started with a pidfile under <paramref name="stateRoot"/>/run/ (pid -> command line).</summary>
        public static SortedDictionary<int, string> QemuProcesses(string stateRoot)
        {
            var runPrefix = stateRoot.TrimEnd('/') + "/run/";
            var found = new SortedDictionary<int, string>();
            foreach (var dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
                string[] args;
                try
                {
                    args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    continue;
                }
                if (args.Length == 0 || !Path.GetFileName(args[0]).StartsWith("qemu-system", StringComparison.Ordinal)) continue;
                for (int i = 1; i + 1 < args.Length; i++)
                {
                    if (args[i] == "-pidfile" && args[i + 1].StartsWith(runPrefix, StringComparison.Ordinal))
                    {
                        found[pid] = string.Join(" ", args);
                        break;
                    }
                }
            }
            return found;
        }

        /// <summary>
        /// Files in the state directory other than the lock and the cached accelerator probe: records (routers/, links/),
        /// run files and sockets (run/), overlays (disks/), interrupted writes anywhere.
        /// </summary>
        public static List<string> StateFiles(string stateRoot)
        {
            if (!Directory.Exists(stateRoot)) return new List<string>();
            var allowed = new HashSet<string>(StringComparer.Ordinal) { "lock", "lock.holder", "kvm-probe.json", "state-id" };
            return Directory.EnumerateFileSystemEntries(stateRoot, "*", SearchOption.AllDirectories)
                .Where(p => !Directory.Exists(p)) // files, sockets, fifos; not the folders themselves
                .Where(p => !(Path.GetDirectoryName(p) == stateRoot.TrimEnd('/') && allowed.Contains(Path.GetFileName(p))))
                .OrderBy(p => p, StringComparer.Ordinal)
                .ToList();
        }

        /// <summary>
        /// What the module left of one test's objects: QEMU processes of the state directory, tagged interfaces whose tag
        /// <paramref name="isOurs"/> accepts (the test's unique names; other tagged interfaces may belong to someone else
        /// using the machine at the same time and are not counted), and state files. Each line says what it is.
        /// </summary>
        public static List<string> Leftovers(string stateRoot, Func<string, bool> isOurs)
        {
            var found = new List<string>();
            foreach (var p in QemuProcesses(stateRoot))
                found.Add("process " + p.Key + ": " + p.Value);
            foreach (var i in TaggedInterfaces().Where(i => isOurs(i.Value)))
                found.Add("interface " + i.Key + " (ifalias " + i.Value + ")");
            foreach (var f in StateFiles(stateRoot))
                found.Add("state file " + f);
            return found;
        }

        /// <summary>
        /// <see cref="Leftovers(string, Func{string, bool})"/> plus what is left of the lab hosts <paramref name="labHosts"/>
        /// (unique names of the test): each one's network namespace that still exists, and every tagged interface in it.
        /// </summary>
        public static List<string> Leftovers(string stateRoot, Func<string, bool> isOurs, IEnumerable<string> labHosts)
        {
            var found = Leftovers(stateRoot, isOurs);
            foreach (var host in labHosts)
            {
                var ns = VirtualNetworks.Linux.Net.InterfaceNames.Namespace(host);
                if (!File.Exists(Path.Combine("/run/netns", ns))) continue;
                found.Add("namespace " + ns + " (lab host " + host + ")");
                foreach (var i in TaggedInterfaces(ns))
                    found.Add("interface " + ns + "/" + i.Key + " (ifalias " + i.Value + ")");
            }
            return found;
        }

        /// <summary>True when a tag (ifalias) names an object whose name starts with <paramref name="prefix"/> + "-".</summary>
        public static bool TagNamesPrefix(string alias, string prefix) =>
            TagObjectNames(alias).Any(n => n.StartsWith(prefix + "-", StringComparison.OrdinalIgnoreCase));

        /// <summary>
        /// The object names in a tag: "virtualnetworks:v2:&lt;stateid&gt;:tap:r1/l1" (or the v1 form without state id) gives
        /// r1 and l1; a bridge's gives its link.
        /// </summary>
        public static IEnumerable<string> TagObjectNames(string alias)
        {
            var parts = alias.Split(':');
            int skip = parts.Length > 1 && parts[1] == "v2" ? 4 : 3;
            return parts.Length < skip + 1 ? Array.Empty<string>() : string.Join(":", parts.Skip(skip)).Split('/');
        }

        /// <summary>What <see cref="Leftovers"/> looked at, for assertion messages.</summary>
        public static string DescribeScan(string stateRoot, string whose) =>
            "checked: QEMU processes in /proc whose -pidfile lies under " + stateRoot + "/run/; interfaces from 'ip -j link show' whose ifalias starts with '" +
            TagPrefix + "' and names " + whose + "; every file under " + stateRoot +
            " except lock, lock.holder, kvm-probe.json and state-id (records in routers/ and links/, sockets, pidfiles, consoles and configs in run/, overlays in disks/, *.tmp)";

        /// <summary>
        /// Best-effort clean-up of one test's objects without the module (used when a test failed half-way): kills the QEMU
        /// processes of the state directory, deletes tagged interfaces naming the prefix, deletes the state directory.
        /// Never touches anything that is not this test's.
        /// </summary>
        public static void ForceCleanUp(string stateRoot, string prefix) => ForceCleanUp(stateRoot, prefix, Array.Empty<string>());

        /// <summary>The same, and deletes the network namespaces of the test's lab hosts <paramref name="labHosts"/> (with their veths, bridges, taps).</summary>
        public static void ForceCleanUp(string stateRoot, string prefix, IEnumerable<string> labHosts)
        {
            foreach (var pid in QemuProcesses(stateRoot).Keys)
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();
                    p.WaitForExit(5000);
                }
                catch (Exception ex) when (ex is ArgumentException || ex is InvalidOperationException || ex is System.ComponentModel.Win32Exception)
                {
                }
            }
            var ip = ProcessRunner.FindExecutable("ip") ?? "/usr/sbin/ip";
            try
            {
                // Taps before bridges.
                foreach (var i in TaggedInterfaces().Where(i => TagNamesPrefix(i.Value, prefix))
                             .OrderBy(i => i.Value.Contains(":bridge:", StringComparison.Ordinal) ? 1 : 0))
                    ProcessRunner.Run(ip, new[] { "link", "delete", "dev", i.Key }, null, TimeSpan.FromSeconds(30));
            }
            catch (InvalidOperationException)
            {
            }
            // A lab host is a namespace: deleting it deletes everything in it (the other ends of its veths included).
            foreach (var host in labHosts)
            {
                var ns = VirtualNetworks.Linux.Net.InterfaceNames.Namespace(host);
                if (File.Exists(Path.Combine("/run/netns", ns)))
                    ProcessRunner.Run(ip, new[] { "netns", "delete", ns }, null, TimeSpan.FromSeconds(30));
            }
            try
            {
                if (Directory.Exists(stateRoot)) Directory.Delete(stateRoot, true);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
            }
        }

        private static string FindRepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "VirtualNetworks.sln")))
                    return dir.FullName;
            throw new InvalidOperationException("VirtualNetworks.sln not found above " + AppContext.BaseDirectory);
        }

        /// <summary>A PowerShell single-quoted literal.</summary>
        public static string Q(string value) => "'" + value.Replace("'", "''") + "'";
    }

    // =================================================================================================== Figure 1

    /// <summary>
    /// examples/figure1.json with every router, link, network label and lab host prefixed ("a1" -> "e3f9a1-a1", "h1" ->
    /// "e3f9a1-h1"), so the test's interfaces and network namespaces (named from hashes of host, link and router names)
    /// never clash with the demo's or another run's.
    /// </summary>
    public sealed class Figure1Topology
    {
        public Figure1Topology(string prefix, string directory)
        {
            Prefix = prefix;
            var root = JsonNode.Parse(File.ReadAllText(EndToEndHost.Figure1Json),
                documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!.AsObject();
            root.Remove("$schema");
            var hosts = new List<string>();
            foreach (var host in root["hosts"]?.AsArray() ?? new JsonArray())
            {
                var o = host!.AsObject();
                o["name"] = Name((string)o["name"]!);
                hosts.Add((string)o["name"]!);
            }
            foreach (var physical in root["physicalLinks"]?.AsArray() ?? new JsonArray())
            {
                var o = physical!.AsObject();
                o["from"] = HostName((string?)o["from"]);
                o["to"] = HostName((string?)o["to"]);
            }
            if (root["defaults"] is JsonObject defaults && defaults["host"] != null) defaults["host"] = HostName((string?)defaults["host"]);
            var routers = new List<string>();
            var placement = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var router in root["routers"]!.AsArray())
            {
                var o = router!.AsObject();
                o["name"] = Name((string)o["name"]!);
                routers.Add((string)o["name"]!);
                if (o["network"] != null) o["network"] = Name((string)o["network"]!);
                if (o["host"] != null) o["host"] = HostName((string?)o["host"]);
                placement[(string)o["name"]!] = (string?)o["host"] ?? (string?)root["defaults"]?["host"] ?? "";
            }
            var links = new List<string>();
            var limits = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var link in root["links"]!.AsArray())
            {
                var o = link!.AsObject();
                o["from"] = Name((string)o["from"]!);
                o["to"] = Name((string)o["to"]!);
                if (o["name"] != null) o["name"] = Name((string)o["name"]!);
                var name = (string?)o["name"] ?? (string)o["from"]! + "-" + (string)o["to"]!;
                links.Add(name);
                limits[name] = o["maximumBandwidth"]?.ToJsonString();
            }
            Hosts = hosts;
            Routers = routers;
            Placement = placement;
            Links = links;
            Limits = limits;
            Path = System.IO.Path.Combine(directory, prefix + "-figure1.json");
            Directory.CreateDirectory(directory);
            File.WriteAllText(Path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        public string Prefix { get; }
        public string Path { get; }
        /// <summary>The lab hosts the file declares (prefixed), in file order.</summary>
        public IReadOnlyList<string> Hosts { get; }
        public IReadOnlyList<string> Routers { get; }
        /// <summary>Each router's host as the file places it (prefixed; "" = the local machine).</summary>
        public IReadOnlyDictionary<string, string> Placement { get; }
        public IReadOnlyList<string> Links { get; }
        /// <summary>Each link's maximumBandwidth as written in the file (JSON text), null when not given.</summary>
        public IReadOnlyDictionary<string, string?> Limits { get; }

        /// <summary>The prefixed form of a name used in examples/figure1.json.</summary>
        public string Name(string original) => Prefix + "-" + original;

        /// <summary>A host name of the file, prefixed unless it names the local machine.</summary>
        private string HostName(string? original) =>
            original == null || VirtualNetworks.Topology.HostNames.IsLocalHost(original) ? original ?? "" : Name(original);

        /// <summary>The default name of the link between two routers of the example ("a1", "a2" -> "e..-a1-e..-a2").</summary>
        public string Link(string from, string to) => Name(from) + "-" + Name(to);
    }

    // =================================================================================================== the session

    /// <summary>What one script produced in an <see cref="EndToEndSession"/>.</summary>
    public sealed class ScriptResult
    {
        public Collection<PSObject> Output { get; internal set; } = new Collection<PSObject>();
        public IReadOnlyList<ErrorRecord> Errors { get; internal set; } = Array.Empty<ErrorRecord>();
        public IReadOnlyList<WarningRecord> Warnings { get; internal set; } = Array.Empty<WarningRecord>();
        public ErrorRecord? TerminatingError { get; internal set; }
        public Exception? TerminatingException { get; internal set; }
        public TimeSpan Duration { get; internal set; }
        public bool HadTerminatingError => TerminatingException != null;
        public string? TerminatingErrorId => TerminatingError?.FullyQualifiedErrorId;

        /// <summary>The one output object (fails otherwise).</summary>
        public PSObject Single()
        {
            var items = Output.Where(o => o != null).ToList();
            if (items.Count != 1) Assert.Fail("expected one output object, got " + items.Count + ". " + Describe());
            return items[0];
        }

        /// <summary>Everything that went wrong, for assertion messages.</summary>
        public string Describe()
        {
            var parts = new List<string>();
            if (TerminatingException != null)
                parts.Add("TERMINATING " + (TerminatingError?.FullyQualifiedErrorId ?? TerminatingException.GetType().Name) + ": " + TerminatingException.Message);
            parts.AddRange(Errors.Select(e => "ERROR " + e.FullyQualifiedErrorId + ": " + e.Exception?.Message));
            parts.AddRange(Warnings.Select(w => "WARNING " + w.Message));
            return parts.Count == 0 ? "(no errors)" : string.Join(Environment.NewLine, parts);
        }

        /// <summary>Fails unless the script ran without any error.</summary>
        public ScriptResult Ok(string what)
        {
            if (HadTerminatingError || Errors.Count > 0) Assert.Fail(what + " failed: " + Describe());
            return this;
        }
    }

    /// <summary>
    /// A runspace (InitialSessionState.CreateDefault2, the engine's default host) with the STAGED module imported by path,
    /// driving the real Linux backend in a private state directory: VIRTUALNETWORKS_STATE_DIR is set for the session's
    /// lifetime (the backend reads it each time a cmdlet resolves it) and restored on Dispose, as is
    /// VIRTUALNETWORKS_IMAGE_PATH (out/images; the test's copy of VirtualNetworks.Linux would otherwise look next to the test
    /// assembly). Same approach as Module.Tests' ModuleSession: scripts run behind <c>trap { break }</c> so a terminating
    /// error ends the script and is reported, not thrown.
    /// </summary>
    public sealed class EndToEndSession : IDisposable
    {
        private readonly string? _previousState;
        private readonly string? _previousImagePath;
        private readonly Runspace _runspace;
        private readonly ITestOutputHelper? _log;

        public EndToEndSession(string stateRoot, ITestOutputHelper? log = null)
        {
            EndToEndHost.RequireReady();
            StateRoot = stateRoot;
            _log = log;
            _previousState = Environment.GetEnvironmentVariable(EndToEndHost.StateVariable);
            _previousImagePath = Environment.GetEnvironmentVariable(EndToEndHost.ImagePathVariable);
            Environment.SetEnvironmentVariable(EndToEndHost.StateVariable, stateRoot);
            Environment.SetEnvironmentVariable(EndToEndHost.ImagePathVariable, EndToEndHost.ImageRoot);

            var iss = InitialSessionState.CreateDefault2();
            _runspace = RunspaceFactory.CreateRunspace(iss);
            _runspace.Open();
            var import = Invoke("Import-Module -Name " + EndToEndHost.Q(EndToEndHost.ManifestPath) + " -ErrorAction Stop -PassThru");
            if (import.HadTerminatingError || import.Output.Count == 0)
            {
                Dispose();
                throw new InvalidOperationException("Import-Module " + EndToEndHost.ManifestPath + " failed: " + import.Describe());
            }
        }

        public string StateRoot { get; }

        /// <summary>Test output for the next calls (a class fixture outlives each test's output helper).</summary>
        public ITestOutputHelper? Log { get; set; }

        /// <summary>Runs a script; fails the test when it runs longer than <paramref name="timeout"/> (default 5 minutes) after stopping it.</summary>
        public ScriptResult Invoke(string script, TimeSpan? timeout = null)
        {
            var limit = timeout ?? TimeSpan.FromMinutes(5);
            using var ps = PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript("trap { break }" + Environment.NewLine + script);
            var result = new ScriptResult();
            var clock = Stopwatch.StartNew();
            try
            {
                var input = new PSDataCollection<PSObject>();
                input.Complete();
                var output = new PSDataCollection<PSObject>();
                var pending = ps.BeginInvoke(input, output);
                if (!pending.AsyncWaitHandle.WaitOne(limit))
                {
                    ps.Stop();
                    Assert.Fail("Timed out after " + limit.TotalSeconds + " s: " + script);
                }
                ps.EndInvoke(pending);
                result.Output = new Collection<PSObject>(output.ToList());
            }
            catch (RuntimeException ex)
            {
                result.TerminatingException = ex;
                result.TerminatingError = ex is ActionPreferenceStopException stop && stop.ErrorRecord != null ? stop.ErrorRecord : ex.ErrorRecord;
            }
            clock.Stop();
            result.Duration = clock.Elapsed;
            result.Errors = ps.Streams.Error.ToArray();
            result.Warnings = ps.Streams.Warning.ToArray();
            (Log ?? _log)?.WriteLine("[{0,6:0.0} s] {1}{2}", clock.Elapsed.TotalSeconds, script.Replace(Environment.NewLine, " "),
                result.HadTerminatingError || result.Errors.Count > 0 ? Environment.NewLine + "    " + result.Describe() : "");
            return result;
        }

        public void Dispose()
        {
            _runspace.Dispose();
            Environment.SetEnvironmentVariable(EndToEndHost.StateVariable, _previousState);
            Environment.SetEnvironmentVariable(EndToEndHost.ImagePathVariable, _previousImagePath);
        }

        /// <summary>A property of an output object (null when absent).</summary>
        public static object? Prop(object? item, string name)
        {
            if (item == null) return null;
            var o = item as PSObject ?? PSObject.AsPSObject(item);
            return o.Properties[name]?.Value;
        }

        public static string Text(object? item, string name) => Convert.ToString(Prop(item, name), CultureInfo.InvariantCulture) ?? "";

        /// <summary>The elements of a collection-valued property, each as a PSObject.</summary>
        public static List<PSObject> Items(object? item, string name)
        {
            var value = Prop(item, name);
            if (value is PSObject wrapped) value = wrapped.BaseObject;
            return value is System.Collections.IEnumerable e && !(value is string)
                ? e.Cast<object>().Select(PSObject.AsPSObject).ToList()
                : new List<PSObject>();
        }
    }

    /// <summary>Builds the leftover assertion message: what was found and what was checked.</summary>
    internal static class LeftoverReport
    {
        public static string Format(string title, IReadOnlyList<string> leftovers, string checkedWhat, IEnumerable<string>? extra = null)
        {
            var sb = new StringBuilder();
            sb.AppendLine(title + ": " + leftovers.Count + " tagged leftover(s):");
            foreach (var l in leftovers) sb.AppendLine("  - " + l);
            sb.AppendLine(checkedWhat);
            if (extra != null)
                foreach (var e in extra) sb.AppendLine(e);
            return sb.ToString();
        }
    }
}
