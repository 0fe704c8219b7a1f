using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using VirtualNetworks.Util;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    public class ProcessRunnerTests
    {
        private static string Exe(string name) =>
            ProcessRunner.FindExecutable(name) ?? throw new InvalidOperationException("'" + name + "' is needed by this test but is not in PATH.");

        private static readonly string[] Tricky =
        {
            "plain", "two words", "", " ", "  leading and trailing  ", "\"quoted\"", "say \"hi\" now", "\"", "\"\"",
            "back\\slash", "trailing\\", "trailing\\\\", "\\\"", "a\\\\\"b", "\\\\server\\share\\", "tab\there", "vt\vhere",
            "it's", "$HOME", "*", "?", ";|&<>", "`id`", "$(id)", "ünïcödé ✓", "%PATH%", "^", "-n", "--", "a=b c",
        };

        // ---- quoting ------------------------------------------------------------------------------------------------

        [Theory]
        [InlineData("abc", "abc")]
        [InlineData("", "\"\"")]
        [InlineData("a b", "\"a b\"")]
        [InlineData("a\"b", "\"a\\\"b\"")]
        [InlineData("a\\b", "a\\b")]
        [InlineData("a b\\", "\"a b\\\\\"")]
        [InlineData("a\\\"b", "\"a\\\\\\\"b\"")]
        [InlineData("c:\\dir with space\\", "\"c:\\dir with space\\\\\"")]
        public void QuoteArgument_FollowsTheWindowsRule(string argument, string expected)
        {
            Assert.Equal(expected, ProcessRunner.QuoteArgument(argument));
        }

        [Fact]
        public void QuoteArgument_RoundTripsThroughTheSplittingRule()
        {
            Assert.Equal(Tricky, Split(ProcessRunner.JoinArguments(Tricky)));

            // Random strings over the characters that matter to the rule.
            var random = new Random(1234);
            const string alphabet = "ab \t\"\\\\\\\n";
            for (int i = 0; i < 2000; i++)
            {
                var args = Enumerable.Range(0, random.Next(1, 5))
                    .Select(_ => new string(Enumerable.Range(0, random.Next(0, 8)).Select(__ => alphabet[random.Next(alphabet.Length)]).ToArray()))
                    .ToArray();
                Assert.Equal(args, Split(ProcessRunner.JoinArguments(args)));
            }
        }

        /// <summary>The documented splitting rule, written independently, as a reference for the quoting.</summary>
        private static List<string> Split(string commandLine)
        {
            var result = new List<string>();
            int i = 0;
            while (true)
            {
                while (i < commandLine.Length && (commandLine[i] == ' ' || commandLine[i] == '\t')) i++;
                if (i >= commandLine.Length) return result;
                var sb = new StringBuilder();
                bool quoted = false;
                for (; i < commandLine.Length; i++)
                {
                    char c = commandLine[i];
                    if (c == '\\')
                    {
                        int n = 0;
                        while (i < commandLine.Length && commandLine[i] == '\\') { n++; i++; }
                        if (i < commandLine.Length && commandLine[i] == '"')
                        {
                            sb.Append('\\', n / 2);
                            if (n % 2 == 1) sb.Append('"');
                            else quoted = !quoted;
                        }
                        else
                        {
                            sb.Append('\\', n);
                            i--;
                        }
                    }
                    else if (c == '"') quoted = !quoted;
                    else if ((c == ' ' || c == '\t') && !quoted) break;
                    else sb.Append(c);
                }
                result.Add(sb.ToString());
            }
        }

        [Fact]
        public void FormatCommandLine_QuotesForDisplay()
        {
            Assert.Equal("ip link add 'a b' 'it'\\''s' '' 10.0.0.1/31",
                ProcessRunner.FormatCommandLine("ip", new[] { "link", "add", "a b", "it's", "", "10.0.0.1/31" }));
            Assert.Equal("echo 'a\\x0ab'", ProcessRunner.FormatCommandLine("echo", new[] { "a\nb" }));
        }

        // ---- running ------------------------------------------------------------------------------------------------

        [Fact]
        public void Run_Echo_CapturesOutput()
        {
            var r = ProcessRunner.Run(Exe("echo"), new[] { "hello", "big world" });
            Assert.Equal(0, r.ExitCode);
            Assert.True(r.Succeeded);
            Assert.Equal("hello big world\n", r.StdOut);
            Assert.Equal("", r.StdErr);
            Assert.True(r.Duration > TimeSpan.Zero);
        }

        [Fact]
        public void Run_TrickyArguments_ArriveUnchanged_OnePerLine()
        {
            var args = Tricky.Where(a => a.IndexOf('\n') < 0).ToList();
            var r = ProcessRunner.Run(Exe("printf"), new[] { "%s\\n" }.Concat(args));
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(string.Concat(args.Select(a => a + "\n")), r.StdOut);
        }

        [Fact]
        public void Run_RandomArguments_ArriveUnchanged()
        {
            var random = new Random(99);
            const string alphabet = "ab \t\"\\\\\\\n'$*é";
            var args = Enumerable.Range(0, 300)
                .Select(_ => new string(Enumerable.Range(0, random.Next(0, 10)).Select(__ => alphabet[random.Next(alphabet.Length)]).ToArray()))
                .ToList();
            var r = ProcessRunner.Run(Exe("printf"), new[] { "%s\\000" }.Concat(args));
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(string.Concat(args.Select(a => a + "\0")), r.StdOut);
        }

        [Fact]
        public void Run_NulInArgument_IsRejected()
        {
            var ex = Assert.Throws<ArgumentException>(() => ProcessRunner.Run(Exe("echo"), new[] { "ok", "bad\0arg" }));
            Assert.Contains("NUL", ex.Message);
        }

        [Fact]
        public void Run_NonZeroExit_IsAResult_AndEnsureSuccessThrows()
        {
            var r = ProcessRunner.Run(Exe("sh"), new[] { "-c", "echo out; echo 'it failed' >&2; exit 3" });
            Assert.Equal(3, r.ExitCode);
            Assert.False(r.Succeeded);
            Assert.Equal("out\n", r.StdOut);
            Assert.Equal("it failed\n", r.StdErr);

            var ex = Assert.Throws<VirtualNetworksException>(() => ProcessRunner.EnsureSuccess(r, "router1"));
            Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
            Assert.Equal(ErrorKind.NotSpecified, ex.Kind);
            Assert.Equal("router1", ex.TargetName);
            Assert.Contains("exit code 3", ex.Message);
            Assert.Contains("it failed", ex.Message);
            Assert.Contains("'echo out; echo '\\''it failed'\\'' >&2; exit 3'", ex.Message);
            Assert.DoesNotContain("it failed\n", ex.Message); // trimmed

            var fine = ProcessRunner.Run(Exe("sh"), new[] { "-c", "exit 0" });
            Assert.Same(fine, ProcessRunner.EnsureSuccess(fine, "x"));
            var custom = ProcessRunner.Failure(r, "dot", ErrorIds.ExportFailed);
            Assert.Equal(ErrorIds.ExportFailed, custom.ErrorId);
        }

        [Fact]
        public void RunChecked_Throws_OnFailure()
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => ProcessRunner.RunChecked(Exe("sh"), new[] { "-c", "exit 7" }, "t"));
            Assert.Contains("exit code 7", ex.Message);
            Assert.Contains("no error output", ex.Message);
        }

        [Fact]
        public void Run_StandardInput_IsPassed_AndLargeOutputDoesNotDeadlock()
        {
            var text = "héllo\nwörld\n" + new string('x', 3_000_000);
            var r = ProcessRunner.Run(Exe("cat"), Array.Empty<string>(), text, TimeSpan.FromSeconds(60));
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(text, r.StdOut);

            // Both pipes filled at once, far beyond a pipe buffer.
            var both = ProcessRunner.Run(Exe("sh"), new[] { "-c", "i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789; echo abcdefghijabcdefghijabcdefghijabcdefghij >&2; i=$((i+1)); done" },
                timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(2000 * 41, both.StdOut.Length);
            Assert.Equal(2000 * 41, both.StdErr.Length);
        }

        [Fact]
        public void Run_DoesNotNeedTheThreadPool()
        {
            // Every pool thread blocked, and far more blocked work queued than the pool adds threads in the test's time
            // (about two a second when starved): a run that needs a pool thread for its pipes or its exit notification
            // waits here for seconds, which is what made a live bandwidth change take 1-2 s (docs/benchmarks.md).
            ThreadPool.GetMaxThreads(out int maxWorkers, out _);
            int blockers = Math.Min(maxWorkers, ThreadPool.ThreadCount + Environment.ProcessorCount + 64);
            using (var release = new ManualResetEventSlim(false))
            {
                int started = 0;
                try
                {
                    for (int i = 0; i < blockers; i++)
                        ThreadPool.UnsafeQueueUserWorkItem(_ =>
                        {
                            Interlocked.Increment(ref started);
                            // Sleeping, not waiting on an event: the pool adds threads at once for threads blocked in its
                            // own waits, but not for a thread stuck in a system call (a pipe read) or sleeping.
                            while (!release.IsSet) Thread.Sleep(1);
                        }, null);
                    var settle = Stopwatch.StartNew();
                    while (Volatile.Read(ref started) == 0 && settle.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
                    Thread.Sleep(50); // every idle pool thread has taken a blocker by now; the rest are queued

                    var clock = Stopwatch.StartNew();
                    var r = ProcessRunner.Run(Exe("sh"), new[] { "-c", "echo out; echo err >&2" }, "in", TimeSpan.FromSeconds(30));
                    clock.Stop();
                    Assert.True(ThreadPool.PendingWorkItemCount > 0, "the pool was not starved, so this test proves nothing");
                    Assert.Equal(0, r.ExitCode);
                    Assert.Equal("out\n", r.StdOut);
                    Assert.Equal("err\n", r.StdErr);
                    Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(400), "a run with the thread pool starved took " + clock.Elapsed.TotalMilliseconds + " ms");
                }
                finally
                {
                    release.Set();
                }
            }
        }

        [Fact]
        public void Run_NoInput_ChildSeesEndOfFile()
        {
            var r = ProcessRunner.Run(Exe("cat"), Array.Empty<string>(), timeout: TimeSpan.FromSeconds(20));
            Assert.Equal(0, r.ExitCode);
            Assert.Equal("", r.StdOut);
        }

        [Fact]
        public void Run_InputNotRead_IsNotAnError()
        {
            var r = ProcessRunner.Run(Exe("true"), Array.Empty<string>(), new string('y', 1_000_000), TimeSpan.FromSeconds(20));
            Assert.Equal(0, r.ExitCode);
        }

        [Fact]
        public void Run_Environment_IsApplied()
        {
            var env = new Dictionary<string, string?> { ["VN_RUNNER_TEST"] = "a b", ["HOME"] = null };
            var r = ProcessRunner.Run(Exe("sh"), new[] { "-c", "printf '%s|%s' \"$VN_RUNNER_TEST\" \"${HOME-unset}\"" }, environment: env);
            Assert.Equal("a b|unset", r.StdOut);
        }

        [Fact]
        public void Run_Timeout_KillsQuickly()
        {
            var clock = Stopwatch.StartNew();
            var ex = Assert.Throws<VirtualNetworksException>(() =>
                ProcessRunner.Run(Exe("sleep"), new[] { "30" }, timeout: TimeSpan.FromMilliseconds(300)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "took " + clock.Elapsed);
            Assert.Equal(ErrorKind.OperationTimeout, ex.Kind);
            Assert.Equal(ErrorIds.BackendOperationFailed, ex.ErrorId);
            Assert.Contains("sleep", ex.Message);
        }

        [Fact]
        public void Run_Timeout_KillsTheWholeTree()
        {
            string pidFile = Path.Combine(Path.GetTempPath(), "vn-runner-" + Guid.NewGuid().ToString("N") + ".pid");
            try
            {
                var clock = Stopwatch.StartNew();
                // The background sleep inherits the output pipes: unless it is killed too, the run waits for it.
                Assert.Throws<VirtualNetworksException>(() => ProcessRunner.Run(Exe("sh"),
                    new[] { "-c", "sleep 30 & echo $! > \"$1\"; wait", "sh", pidFile }, timeout: TimeSpan.FromMilliseconds(500)));
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), "took " + clock.Elapsed);

                int pid = int.Parse(File.ReadAllText(pidFile).Trim());
                Assert.True(WaitGone(pid, TimeSpan.FromSeconds(5)), "the grandchild " + pid + " is still running");
            }
            finally
            {
                File.Delete(pidFile);
            }
        }

        private static bool WaitGone(int pid, TimeSpan limit)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < limit)
            {
                string stat = "/proc/" + pid + "/stat";
                if (!File.Exists(stat)) return true;
                try
                {
                    // A zombie (state Z) is dead, only not reaped yet.
                    var text = File.ReadAllText(stat);
                    var state = text.Substring(text.LastIndexOf(')') + 2, 1);
                    if (state == "Z" || state == "X") return true;
                }
                catch (IOException) { return true; }
                Thread.Sleep(50);
            }
            return false;
        }

        [Fact]
        public void Run_Cancellation_KillsAndThrows()
        {
            using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
            {
                var clock = Stopwatch.StartNew();
                Assert.ThrowsAny<OperationCanceledException>(() =>
                    ProcessRunner.Run(Exe("sleep"), new[] { "30" }, cancellationToken: cts.Token));
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "took " + clock.Elapsed);
            }
        }

        [Fact]
        public void Run_AlreadyCancelled_DoesNotStart()
        {
            using (var cts = new CancellationTokenSource())
            {
                cts.Cancel();
                Assert.ThrowsAny<OperationCanceledException>(() => ProcessRunner.Run(Exe("echo"), new[] { "x" }, cancellationToken: cts.Token));
            }
        }

        [Fact]
        public void Run_MissingProgram_IsNotInstalled()
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => ProcessRunner.Run("vn-no-such-program-xyz", new[] { "a" }));
            Assert.Equal(ErrorKind.NotInstalled, ex.Kind);
            Assert.Contains("vn-no-such-program-xyz", ex.Message);
        }

        // ---- PATH ---------------------------------------------------------------------------------------------------

        [Fact]
        public void FindExecutable_SearchesPath()
        {
            var sh = ProcessRunner.FindExecutable("sh");
            Assert.NotNull(sh);
            Assert.True(Path.IsPathRooted(sh));
            Assert.Null(ProcessRunner.FindExecutable("vn-no-such-program-xyz"));
            Assert.Null(ProcessRunner.FindExecutable(""));
            Assert.Equal(sh, ProcessRunner.FindExecutable(sh!));
        }

        [Fact]
        public void FindExecutable_SkipsNonExecutableFilesAndDirectories()
        {
            if (OperatingSystem.IsWindows()) return;
            string dir1 = Directory.CreateTempSubdirectory("vn-path1-").FullName;
            string dir2 = Directory.CreateTempSubdirectory("vn-path2-").FullName;
            try
            {
                File.WriteAllText(Path.Combine(dir1, "tool"), "not executable");
                Directory.CreateDirectory(Path.Combine(dir1, "dirtool"));
                string tool2 = Path.Combine(dir2, "tool");
                File.WriteAllText(tool2, "#!/bin/sh\n");
                File.SetUnixFileMode(tool2, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                string path = "" + Path.PathSeparator + dir1 + Path.PathSeparator + dir2;

                Assert.Equal(tool2, ProcessRunner.FindExecutable("tool", path));
                Assert.Null(ProcessRunner.FindExecutable("dirtool", path));
                Assert.Null(ProcessRunner.FindExecutable("tool", dir1));
            }
            finally
            {
                Directory.Delete(dir1, true);
                Directory.Delete(dir2, true);
            }
        }
    }
}
