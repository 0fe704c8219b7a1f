using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.Loader;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>What one <see cref="ModuleSession.Invoke(string)"/> produced.</summary>
    public sealed class InvocationResult
    {
        public Collection<PSObject> Output { get; internal set; } = new Collection<PSObject>();
        /// <summary>Non-terminating errors (the error stream).</summary>
        public IReadOnlyList<ErrorRecord> Errors { get; internal set; } = Array.Empty<ErrorRecord>();
        public IReadOnlyList<WarningRecord> Warnings { get; internal set; } = Array.Empty<WarningRecord>();
        public IReadOnlyList<VerboseRecord> Verbose { get; internal set; } = Array.Empty<VerboseRecord>();
        public IReadOnlyList<InformationRecord> Information { get; internal set; } = Array.Empty<InformationRecord>();
        /// <summary>Lines written to the host during the call ("What if: ..." lines, Write-Host).</summary>
        public IReadOnlyList<string> HostLines { get; internal set; } = Array.Empty<string>();
        /// <summary>Confirmation prompts the host was asked during the call.</summary>
        public IReadOnlyList<string> Prompts { get; internal set; } = Array.Empty<string>();
        public IReadOnlyList<ProgressRecord> Progress { get; internal set; } = Array.Empty<ProgressRecord>();
        /// <summary>The terminating error that ended the script, if any.</summary>
        public ErrorRecord? TerminatingError { get; internal set; }
        public Exception? TerminatingException { get; internal set; }
        public bool HadTerminatingError => TerminatingException != null;

        public IReadOnlyList<string> ErrorIds => Errors.Select(e => e.FullyQualifiedErrorId).ToArray();
        public string? TerminatingErrorId => TerminatingError?.FullyQualifiedErrorId;

        /// <summary>The base objects of the output that are of type <typeparamref name="T"/>.</summary>
        public List<T> Objects<T>() => Output.Where(o => o != null).Select(o => o.BaseObject).OfType<T>().ToList();

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
    }

    /// <summary>
    /// A fresh runspace (InitialSessionState.CreateDefault2 + <see cref="TestHost"/>) with the STAGED module imported
    /// by path from &lt;repo&gt;/out/VirtualNetworks/VirtualNetworks.psd1.
    /// </summary>
    /// <remarks>
    /// <para><b>Type identity.</b> The tests reference VirtualNetworks.Core through a ProjectReference, so the test
    /// host's deps.json puts bin/…/VirtualNetworks.Core.dll on the trusted platform assembly (TPA) list of the default
    /// AssemblyLoadContext. PowerShell loads a binary module's DLL (out/VirtualNetworks/VirtualNetworks.dll) into that same
    /// default context with LoadFrom, so when the module asks for VirtualNetworks.Core the default context's TPA binder
    /// answers with the test's copy, and out/VirtualNetworks/VirtualNetworks.Core.dll is never loaded. Checked by
    /// experiment with the SMA 7.6 NuGet engine both for a manifest with RootModule only (ours) and for one that also
    /// lists the Core DLL in RequiredAssemblies (LoadFrom of the out/ copy then returns the TPA assembly too), whether or
    /// not the test touched the assembly first. Conditions: both copies carry the same assembly version (one version, in
    /// Directory.Build.props; a higher version on the module side would not bind from TPA) and the module is not loaded
    /// into a custom load context. No AssemblyLoadContext.Resolving hook is needed. Belt and braces: the constructor
    /// loads the test's copy before importing, and <see cref="VerifyTypeIdentity"/> fails loudly if two copies are ever
    /// loaded; two copies would mean the BackendRegistry.TestOverride the tests set is not the one the module reads, and
    /// output objects would not be the tests' VirtualRouter type.</para>
    /// <para>Terminating errors: the script is run with a leading <c>trap { break }</c>, which turns every terminating
    /// error (including the statement-terminating ones of ThrowTerminatingError and parameter binding) into the end
    /// of the script, so it surfaces as an exception from Invoke and is reported in
    /// <see cref="InvocationResult.TerminatingError"/>. Non-terminating errors (WriteError) stay in
    /// <see cref="InvocationResult.Errors"/> and the script carries on.</para>
    /// </remarks>
    public sealed class ModuleSession : IDisposable
    {
        public const string ModuleName = "VirtualNetworks";
        private static readonly Lazy<string> Root = new Lazy<string>(FindRepoRoot);

        public ModuleSession()
        {
            EnsureStaged();
            // Bind VirtualNetworks.Core in the default load context to the test's copy before the module can ask for it.
            CoreAssembly = typeof(VirtualRouter).Assembly;

            Host = new TestHost();
            var iss = InitialSessionState.CreateDefault2();
            if (System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Windows))
                iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass; // execution policy exists on Windows only
            Runspace = RunspaceFactory.CreateRunspace(Host, iss);
            Runspace.Open();

            using (var ps = PowerShell.Create())
            {
                ps.Runspace = Runspace;
                ps.AddCommand("Import-Module").AddParameter("Name", ManifestPath).AddParameter("PassThru").AddParameter("ErrorAction", "Stop");
                var imported = ps.Invoke();
                if (ps.HadErrors || imported.Count == 0)
                    throw new InvalidOperationException("Import-Module '" + ManifestPath + "' failed: " +
                        string.Join("; ", ps.Streams.Error.Select(e => e.FullyQualifiedErrorId + ": " + e.Exception?.Message)));
                Module = (PSModuleInfo)imported[imported.Count - 1].BaseObject;
            }
            VerifyTypeIdentity();
        }

        public static string RepoRoot => Root.Value;
        /// <summary>
        /// &lt;repo&gt;/out/VirtualNetworks/VirtualNetworks.psd1, or $VIRTUALNETWORKS_MODULE when set (build.sh test sets it to
        /// that same file). A directory there means its VirtualNetworks.psd1.
        /// </summary>
        public static string ManifestPath
        {
            get
            {
                var fromEnvironment = Environment.GetEnvironmentVariable("VIRTUALNETWORKS_MODULE");
                if (string.IsNullOrEmpty(fromEnvironment)) return Path.Combine(RepoRoot, "out", ModuleName, ModuleName + ".psd1");
                var full = Path.GetFullPath(fromEnvironment);
                return Directory.Exists(full) ? Path.Combine(full, ModuleName + ".psd1") : full;
            }
        }

        public static string StagedDirectory => Path.GetDirectoryName(ManifestPath)!;
        public static string TopologyFixtures => Path.Combine(RepoRoot, "tests", "fixtures", "topologies");

        public TestHost Host { get; }
        public Runspace Runspace { get; }
        public PSModuleInfo Module { get; }
        public Assembly CoreAssembly { get; }

        /// <summary>Runs a script; terminating errors end it (see remarks) and are reported, not thrown.</summary>
        public InvocationResult Invoke(string script)
        {
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = Runspace;
                ps.AddScript("trap { break }" + Environment.NewLine + script);
                return Run(ps);
            }
        }

        /// <summary>Runs a command built by <paramref name="build"/> (no script wrapper).</summary>
        public InvocationResult Invoke(Action<PowerShell> build)
        {
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = Runspace;
                build(ps);
                return Run(ps);
            }
        }

        /// <summary>Runs, gathers streams and host output; used by both overloads and by tests driving PowerShell themselves.</summary>
        public InvocationResult Run(PowerShell ps, Func<PowerShell, Collection<PSObject>>? invoke = null)
        {
            Host.Recorder.Clear();
            var result = new InvocationResult();
            try
            {
                result.Output = invoke != null ? invoke(ps) : ps.Invoke();
            }
            catch (RuntimeException ex)
            {
                // ActionPreferenceStopException, CmdletInvocationException, ParameterBindingException, ... are all
                // RuntimeExceptions carrying the ErrorRecord with the FullyQualifiedErrorId.
                result.TerminatingException = ex;
                result.TerminatingError = Unwrap(ex);
            }
            catch (PSInvalidOperationException ex)
            {
                result.TerminatingException = ex;
                result.TerminatingError = ex.ErrorRecord;
            }
            result.Errors = ps.Streams.Error.ToArray();
            result.Warnings = ps.Streams.Warning.ToArray();
            result.Verbose = ps.Streams.Verbose.ToArray();
            result.Information = ps.Streams.Information.ToArray();
            result.HostLines = Host.Recorder.Lines;
            result.Prompts = Host.Recorder.Prompts;
            // Depending on how the pipeline was started, progress reaches the host, the Progress stream, or both.
            result.Progress = Host.Recorder.Progress.Count > 0 ? Host.Recorder.Progress : ps.Streams.Progress.ToArray();
            return result;
        }

        /// <summary>The ErrorRecord that carries the cmdlet's own FullyQualifiedErrorId.</summary>
        private static ErrorRecord? Unwrap(RuntimeException ex)
        {
            // A trap/break rethrow or -ErrorAction Stop wraps the original record; the original keeps the cmdlet id.
            if (ex is ActionPreferenceStopException stop && stop.ErrorRecord != null) return stop.ErrorRecord;
            return ex.ErrorRecord;
        }

        public void SetVariable(string name, object? value) => Runspace.SessionStateProxy.SetVariable(name, value);

        public void Dispose()
        {
            Runspace.Dispose();
        }

        /// <summary>Fails when the module bound to a second copy of VirtualNetworks.Core (see remarks).</summary>
        public void VerifyTypeIdentity()
        {
            var copies = AppDomain.CurrentDomain.GetAssemblies()
                .Where(a => string.Equals(a.GetName().Name, "VirtualNetworks.Core", StringComparison.OrdinalIgnoreCase))
                .ToList();
            var moduleAssembly = Module.ImplementingAssembly
                ?? AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == ModuleName);
            var coreOfModule = moduleAssembly?.GetReferencedAssemblies().FirstOrDefault(n => n.Name == "VirtualNetworks.Core");
            if (copies.Count != 1 || !ReferenceEquals(copies[0], CoreAssembly))
                throw new InvalidOperationException(
                    "Type identity broken: " + copies.Count + " copies of VirtualNetworks.Core are loaded (" +
                    string.Join(", ", copies.Select(a => a.Location + " in ALC '" + AssemblyLoadContext.GetLoadContext(a)?.Name + "'")) +
                    "); the test's copy is " + CoreAssembly.Location + ". The module's reference: " + coreOfModule + ".");
            if (moduleAssembly != null && AssemblyLoadContext.GetLoadContext(moduleAssembly) != AssemblyLoadContext.Default)
                throw new InvalidOperationException("The module assembly was loaded into the non-default load context '" +
                    AssemblyLoadContext.GetLoadContext(moduleAssembly)?.Name + "'; it cannot share the tests' VirtualNetworks.Core.");
        }

        public static void EnsureStaged()
        {
            if (!File.Exists(ManifestPath))
                throw new InvalidOperationException(
                    "The staged module is missing: " + ManifestPath + " does not exist. Run ./build.sh build in " + RepoRoot +
                    " first; these tests import the staged module, not the build output of src/VirtualNetworks.");
        }

        private static string FindRepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "VirtualNetworks.sln"))
                    || File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")))
                    return dir.FullName;
            }
            throw new InvalidOperationException("Cannot find the repository root (a folder holding VirtualNetworks.sln or Directory.Build.props) above " +
                AppContext.BaseDirectory + ".");
        }

        /// <summary>Quotes a value as a PowerShell single-quoted string literal.</summary>
        public static string Q(string value) => "'" + value.Replace("'", "''") + "'";
    }
}
