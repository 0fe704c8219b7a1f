using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using VirtualNetworks.Util;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>
    /// Diagnostic for the VROOM measurement (env-gated, needs tcpdump): captures every frame in a lab host's network
    /// namespace (<c>tcpdump -i any</c>, Linux cooked v2 headers: interface index and direction, nanosecond stamps) so a
    /// move's timeline can be read off the router's taps: the last probe the source forwarded, the first the destination
    /// forwarded, against QEMU's STOP/RESUME stamps (the same wall clock).
    /// </summary>
    internal sealed class ProbeCapture : IDisposable
    {
        private readonly Process _process;
        public string File { get; }
        public string Namespace { get; }

        private ProbeCapture(Process p, string file, string ns)
        {
            _process = p;
            File = file;
            Namespace = ns;
        }

        public static string? Tcpdump => ProcessRunner.FindExecutable("tcpdump");

        /// <summary>Starts tcpdump in <paramref name="ns"/> writing to <paramref name="file"/>; waits until it listens.</summary>
        public static ProbeCapture Start(string ns, string file)
        {
            var psi = new ProcessStartInfo(ProcessRunner.FindExecutable("ip") ?? "/usr/sbin/ip")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "netns", "exec", ns, Tcpdump!, "-i", "any", "-y", "LINUX_SLL2", "-n", "-U", "-s", "96", "-Z", "root",
                         "--time-stamp-precision", "nano", "-w", file, "icmp" })
                psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            var listening = new ManualResetEventSlim();
            p.ErrorDataReceived += (_, e) => { if (e.Data != null && e.Data.Contains("listening on", StringComparison.Ordinal)) listening.Set(); };
            p.BeginErrorReadLine();
            p.BeginOutputReadLine();
            listening.Wait(TimeSpan.FromSeconds(5));
            return new ProbeCapture(p, file, ns);
        }

        /// <summary>Stops the capture (SIGINT: tcpdump flushes and exits).</summary>
        public void Stop()
        {
            if (_process.HasExited) return;
            ProcessRunner.Run(ProcessRunner.FindExecutable("kill") ?? "/bin/kill", new[] { "-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, null, TimeSpan.FromSeconds(5));
            if (!_process.WaitForExit(5000)) _process.Kill();
        }

        public void Dispose()
        {
            try { Stop(); } catch (Exception) { }
            _process.Dispose();
        }

        /// <summary>One captured ICMP echo frame.</summary>
        internal readonly struct Frame
        {
            public readonly double UnixMs;
            public readonly int IfIndex;
            /// <summary>True when the host sent it on the device (toward the guest on a tap); false when the device received it.</summary>
            public readonly bool Outgoing;
            public readonly bool Request;
            public readonly int Sequence;

            public Frame(double unixMs, int ifIndex, bool outgoing, bool request, int sequence)
            {
                UnixMs = unixMs;
                IfIndex = ifIndex;
                Outgoing = outgoing;
                Request = request;
                Sequence = sequence;
            }
        }

        /// <summary>Reads a pcap file of LINUX_SLL2 frames with nanosecond stamps: the ICMP echo requests and replies.</summary>
        public static List<Frame> Read(string file)
        {
            var frames = new List<Frame>();
            if (!System.IO.File.Exists(file)) return frames;
            var data = System.IO.File.ReadAllBytes(file);
            if (data.Length < 24) return frames;
            uint magic = BitConverter.ToUInt32(data, 0);
            bool nano = magic == 0xa1b23c4d;
            if (!nano && magic != 0xa1b2c3d4) throw new InvalidDataException(file + ": not a little-endian pcap file");
            int linkType = BitConverter.ToInt32(data, 20);
            if (linkType != 276) throw new InvalidDataException(file + ": link type " + linkType + ", expected LINUX_SLL2 (276)");
            int o = 24;
            while (o + 16 <= data.Length)
            {
                long sec = BitConverter.ToUInt32(data, o), frac = BitConverter.ToUInt32(data, o + 4);
                int incl = BitConverter.ToInt32(data, o + 8);
                int p = o + 16;
                o = p + incl;
                if (o > data.Length || incl < 20 + 28) continue;
                int proto = (data[p] << 8) | data[p + 1];
                int ifIndex = (data[p + 4] << 24) | (data[p + 5] << 16) | (data[p + 6] << 8) | data[p + 7];
                int packetType = data[p + 10];
                if (proto != 0x0800) continue;
                int ip = p + 20;
                int ihl = (data[ip] & 0x0f) * 4;
                if (data[ip + 9] != 1 || ip + ihl + 8 > o) continue;
                int icmp = ip + ihl;
                int type = data[icmp];
                if (type != 0 && type != 8) continue;
                int seq = (data[icmp + 6] << 8) | data[icmp + 7];
                double ms = sec * 1000.0 + (nano ? frac / 1e6 : frac / 1e3);
                frames.Add(new Frame(ms, ifIndex, packetType == 4, type == 8, seq));
            }
            return frames;
        }
    }
}
