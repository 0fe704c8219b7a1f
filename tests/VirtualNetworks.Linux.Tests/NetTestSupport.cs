using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using VirtualNetworks.Linux.Net;
using VirtualNetworks.Util;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// A fact that changes the host network and so needs root. Not root on a developer machine: skipped with a reason that
    /// says so. Not root on CI (CI=true): not skipped — the test fails with a clear message (<see cref="NetTestHost.RequireRoot"/>),
    /// so a CI that lost its privileges cannot pass silently.
    /// </summary>
    public sealed class RootFactAttribute : FactAttribute
    {
        public RootFactAttribute()
        {
            if (!LinuxCapabilities.IsRoot() && !NetTestHost.IsCi)
                Skip = "requires root: this test creates bridges, taps, qdiscs and network namespaces (run as root; CI always does).";
        }
    }

    /// <summary>Root network tests share one collection and never run alongside each other (the throughput test needs the CPUs).</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class NetHostCollection
    {
        public const string Name = "Net host network";
    }

    internal static class NetTestHost
    {
        /// <summary>The state id the Net* tests tag their devices with (no state directory of a backend uses it).</summary>
        public const string StateId = "7e57da7a";

        public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

        public static void RequireRoot()
        {
            if (LinuxCapabilities.IsRoot()) return;
            Assert.Fail("This test needs root (CAP_NET_ADMIN) and CI=true is set, so it is not skipped: run the test suite as root.");
        }

        /// <summary>A short random lowercase hex string for unique test object names.</summary>
        public static string Suffix(int hexDigits = 6)
        {
            var bytes = new byte[(hexDigits + 1) / 2];
            RandomNumberGenerator.Fill(bytes);
            return Convert.ToHexString(bytes).ToLowerInvariant().Substring(0, hexDigits);
        }

        /// <summary>Runs a program (no shell) and fails the test when it exits non-zero.</summary>
        public static ProcessResult Run(string program, params string[] args)
        {
            string exe = ProcessRunner.FindExecutable(program) ?? "/usr/sbin/" + program;
            var r = ProcessRunner.Run(exe, args, null, TimeSpan.FromSeconds(20));
            if (!r.Succeeded) Assert.Fail(r.CommandLine + " failed (" + r.ExitCode + "): " + r.StdErr.Trim());
            return r;
        }

        /// <summary>Runs a program and ignores its outcome (clean-up).</summary>
        public static void RunQuietly(string program, params string[] args)
        {
            try
            {
                string exe = ProcessRunner.FindExecutable(program) ?? "/usr/sbin/" + program;
                ProcessRunner.Run(exe, args, null, TimeSpan.FromSeconds(20));
            }
            catch (VirtualNetworksException)
            {
            }
        }

        /// <summary>True when an interface of that name exists in the namespace (null = this one).</summary>
        public static bool LinkExists(string name, string? ns = null)
        {
            var args = new List<string>();
            if (ns != null) { args.Add("-netns"); args.Add(ns); }
            args.AddRange(new[] { "link", "show", "dev", name });
            string exe = ProcessRunner.FindExecutable("ip") ?? "/usr/sbin/ip";
            return ProcessRunner.Run(exe, args, null, TimeSpan.FromSeconds(20)).Succeeded;
        }
    }

    /// <summary>
    /// Two network namespaces joined by a veth pair, addresses 10.251.X.1/30 (side A) and .2/30 (side B). Both ends are
    /// tagged as VirtualNetworks probe devices so the shaper (which only touches tagged devices) may shape them. Created
    /// lazily (a fixture for a class whose facts are skipped must not need root); removed on Dispose.
    /// </summary>
    public sealed class NetnsPairFixture : IDisposable
    {
        private bool _created;

        public NetnsPairFixture()
        {
            string s = NetTestHost.Suffix();
            NamespaceA = "vntest-a-" + s;
            NamespaceB = "vntest-b-" + s;
            DeviceA = "vntest-va" + s.Substring(0, 4);
            DeviceB = "vntest-vb" + s.Substring(0, 4);
            int third = 1 + (int)(Convert.ToUInt32(s.Substring(0, 2), 16) % 250);
            AddressA = "10.251." + third.ToString(CultureInfo.InvariantCulture) + ".1";
            AddressB = "10.251." + third.ToString(CultureInfo.InvariantCulture) + ".2";
        }

        public string NamespaceA { get; }
        public string NamespaceB { get; }
        public string DeviceA { get; }
        public string DeviceB { get; }
        public string AddressA { get; }
        public string AddressB { get; }

        public void EnsureCreated()
        {
            NetTestHost.RequireRoot();
            if (_created) return;
            _created = true; // Dispose cleans up whatever part got made
            NetTestHost.Run("ip", "netns", "add", NamespaceA);
            NetTestHost.Run("ip", "netns", "add", NamespaceB);
            NetTestHost.Run("ip", "link", "add", "name", DeviceA, "netns", NamespaceA, "type", "veth", "peer", "name", DeviceB, "netns", NamespaceB);
            string tag = OwnershipTag.ForProbe("vntest-pair").Alias;
            foreach (var (ns, dev, addr) in new[] { (NamespaceA, DeviceA, AddressA), (NamespaceB, DeviceB, AddressB) })
            {
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", dev, "alias", tag);
                NetTestHost.Run("ip", "-netns", ns, "addr", "add", addr + "/30", "dev", dev);
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", dev, "up");
                NetTestHost.Run("ip", "-netns", ns, "link", "set", "dev", "lo", "up");
            }
        }

        public void Dispose()
        {
            if (!_created) return;
            NetTestHost.RunQuietly("ip", "netns", "del", NamespaceA);
            NetTestHost.RunQuietly("ip", "netns", "del", NamespaceB);
        }
    }

    /// <summary>Runs code on a fresh OS thread that has entered a named network namespace (setns): sockets made there live there.</summary>
    internal static class Netns
    {
        private const int CloneNewNet = 0x40000000;

        [DllImport("libc", SetLastError = true)]
        private static extern int setns(int fd, int nstype);

        public static T RunIn<T>(string ns, Func<T> func)
        {
            T result = default!;
            Exception? error = null;
            var thread = new Thread(() =>
            {
                try
                {
                    using (var handle = File.OpenHandle("/var/run/netns/" + ns, FileMode.Open, FileAccess.Read))
                    {
                        if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                            throw new Win32Exception(Marshal.GetLastWin32Error(), "setns(" + ns + ") failed");
                    }
                    result = func();
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            });
            thread.Start();
            thread.Join();
            if (error != null) throw new InvalidOperationException("Running in network namespace " + ns + " failed: " + error.Message, error);
            return result;
        }
    }
}
