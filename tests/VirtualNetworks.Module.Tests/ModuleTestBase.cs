using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Backends;
using Xunit;

// BackendRegistry.TestOverride is process-wide static state and every test sets it: never run tests in parallel.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace VirtualNetworks.Module.Tests
{
    /// <summary>
    /// Per test: a fresh <see cref="InMemoryBackend"/> injected through BackendRegistry.TestOverride (reset afterwards)
    /// and a fresh runspace with the staged module imported.
    /// </summary>
    public abstract class ModuleTestBase : IDisposable
    {
        public const string CommandNamespace = "VirtualNetworks.Commands";

        private readonly List<BackendRequest> _requests = new List<BackendRequest>();
        private int _resolveCount;

        protected ModuleTestBase()
            : this(null)
        {
        }

        /// <param name="factory">The backend for each request the module makes; null = the shared <see cref="Backend"/>.</param>
        protected ModuleTestBase(Func<BackendRequest, IVirtualizationBackend>? factory)
        {
            Backend = new InMemoryBackend();
            BackendRegistry.TestOverride = request =>
            {
                Interlocked.Increment(ref _resolveCount);
                lock (_requests) _requests.Add(request);
                return factory != null ? factory(request) : Backend;
            };
            try
            {
                Session = new ModuleSession();
            }
            catch
            {
                BackendRegistry.TestOverride = null;
                throw;
            }
        }

        /// <summary>The backend the override hands out; a test may swap in a fresh one (e.g. for round trips).</summary>
        protected InMemoryBackend Backend { get; set; }
        protected ModuleSession Session { get; }

        /// <summary>How many times the module resolved a backend (calls of the TestOverride factory).</summary>
        protected int ResolveCount => Volatile.Read(ref _resolveCount);
        protected IReadOnlyList<BackendRequest> Requests { get { lock (_requests) return _requests.ToArray(); } }

        public virtual void Dispose()
        {
            BackendRegistry.TestOverride = null;
            Session.Dispose();
            foreach (var d in _tempDirs)
            {
                try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }

        protected InvocationResult Run(string script) => Session.Invoke(script);

        /// <summary>Runs and asserts that nothing went wrong at all.</summary>
        protected InvocationResult RunOk(string script)
        {
            var r = Run(script);
            Assert.True(!r.HadTerminatingError && r.Errors.Count == 0, "Script failed: " + script + Environment.NewLine + r.Describe());
            return r;
        }

        protected static string Fixture(string fileName) => Path.Combine(ModuleSession.TopologyFixtures, fileName);
        protected static string Q(string value) => ModuleSession.Q(value);

        /// <summary>"&lt;Id&gt;,VirtualNetworks.Commands.&lt;Class&gt;".</summary>
        protected static string Fqid(string errorId, string commandClass) => errorId + "," + CommandNamespace + "." + commandClass;

        protected InvocationResult DeployGood()
        {
            var r = RunOk("Deploy-VirtualNetwork -Path " + Q(Fixture("good.json")) + " -Confirm:$false");
            Assert.Equal(new[] { "a1", "a2", "b1", "b2" }, Backend.RouterNames);
            return r;
        }

        /// <summary>Asserts exactly one non-terminating error with the id, or a terminating one when <paramref name="terminating"/>.</summary>
        protected static void AssertError(InvocationResult r, string expectedFqid, bool terminating)
        {
            if (terminating)
            {
                Assert.True(r.HadTerminatingError, "Expected terminating error " + expectedFqid + " but got: " + r.Describe());
                Assert.Equal(expectedFqid, r.TerminatingErrorId);
            }
            else
            {
                Assert.False(r.HadTerminatingError, "Expected a non-terminating " + expectedFqid + " but got: " + r.Describe());
                Assert.Contains(expectedFqid, r.ErrorIds);
            }
        }

        /// <summary>Asserts the error id was raised, terminating or not (for cases where either is acceptable).</summary>
        protected static void AssertFails(InvocationResult r, string expectedFqid)
        {
            var all = r.ErrorIds.ToList();
            if (r.TerminatingErrorId != null) all.Add(r.TerminatingErrorId);
            Assert.True(all.Contains(expectedFqid), "Expected error " + expectedFqid + " but got: " + r.Describe());
        }

        /// <summary>A new temp directory, deleted at dispose.</summary>
        protected string TempDirectory()
        {
            var dir = Path.Combine(Path.GetTempPath(), "vn-module-tests-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            Directory.CreateDirectory(dir);
            _tempDirs.Add(dir);
            return dir;
        }

        private readonly List<string> _tempDirs = new List<string>();
    }
}
