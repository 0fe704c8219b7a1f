using System;
using System.Collections.Generic;
using System.IO;
using Xunit;

namespace VirtualNetworks.Linux.Tests
{
    /// <summary>The VROOM capture's pcap reader (its numbers go into docs/migration.md), on files built byte by byte.</summary>
    public sealed class ProbeCaptureTests : IDisposable
    {
        private readonly string _file = Path.Combine(Path.GetTempPath(), "vn-probecapture-" + Guid.NewGuid().ToString("N") + ".pcap");

        public void Dispose()
        {
            if (File.Exists(_file)) File.Delete(_file);
        }

        private static void U16(List<byte> b, int v) { b.Add((byte)(v >> 8)); b.Add((byte)v); }           // network order
        private static void U32(List<byte> b, int v) { U16(b, (v >> 16) & 0xffff); U16(b, v & 0xffff); } // network order
        private static void Le32(List<byte> b, uint v) => b.AddRange(BitConverter.GetBytes(v));

        private static List<byte> Header(uint magic, int linkType)
        {
            var b = new List<byte>();
            Le32(b, magic);
            b.AddRange(new byte[] { 2, 0, 4, 0 }); // version 2.4
            Le32(b, 0); Le32(b, 0); Le32(b, 262144);
            Le32(b, (uint)linkType);
            return b;
        }

        /// <summary>One LINUX_SLL2 record: protocol, ifindex, packet type, then an IPv4 header and 8 bytes of ICMP.</summary>
        private static void Record(List<byte> b, uint sec, uint frac, int proto, int ifIndex, byte packetType, byte ipProto, byte icmpType, int seq)
        {
            var p = new List<byte>();
            U16(p, proto); U16(p, 0); U32(p, ifIndex); U16(p, 1); p.Add(packetType); p.Add(6); p.AddRange(new byte[8]);
            p.Add(0x45); p.Add(0); U16(p, 28); U16(p, 0); U16(p, 0); p.Add(64); p.Add(ipProto); U16(p, 0);
            p.AddRange(new byte[] { 10, 0, 0, 1, 10, 0, 0, 2 });
            p.Add(icmpType); p.Add(0); U16(p, 0); U16(p, 0x1234); U16(p, seq);
            Le32(b, sec); Le32(b, frac); Le32(b, (uint)p.Count); Le32(b, (uint)p.Count);
            b.AddRange(p);
        }

        [Fact]
        public void Reads_echo_requests_and_replies_with_interface_direction_and_nanosecond_stamps()
        {
            var b = Header(0xa1b23c4d, 276);
            Record(b, 1_795_000_000, 123_456_789, 0x0800, 7, 4, 1, 8, 42);   // request sent to the guest (outgoing) on ifindex 7
            Record(b, 1_795_000_000, 200_000_000, 0x0800, 9, 0, 1, 0, 42);   // reply received from the guest on ifindex 9
            Record(b, 1_795_000_001, 0, 0x0800, 9, 0, 17, 8, 43);            // UDP: skipped
            Record(b, 1_795_000_001, 0, 0x0800, 9, 0, 1, 3, 44);             // ICMP unreachable: skipped
            Record(b, 1_795_000_001, 0, 0x86dd, 9, 0, 1, 8, 45);             // not IPv4: skipped
            Record(b, 1_795_000_002, 5, 0x0800, 7, 0, 1, 8, 65535);          // highest sequence number
            File.WriteAllBytes(_file, b.ToArray());

            var frames = ProbeCapture.Read(_file);
            Assert.Equal(3, frames.Count);
            Assert.Equal(1_795_000_000_123.456789, frames[0].UnixMs, 6);
            Assert.Equal(7, frames[0].IfIndex);
            Assert.True(frames[0].Outgoing);
            Assert.True(frames[0].Request);
            Assert.Equal(42, frames[0].Sequence);
            Assert.Equal(9, frames[1].IfIndex);
            Assert.False(frames[1].Outgoing);
            Assert.False(frames[1].Request);
            Assert.Equal(1_795_000_000_200.0, frames[1].UnixMs, 6);
            Assert.Equal(65535, frames[2].Sequence);
            Assert.Equal(1_795_000_002_000.000005, frames[2].UnixMs, 6);
        }

        [Fact]
        public void Microsecond_files_are_read_and_other_link_types_refused()
        {
            var b = Header(0xa1b2c3d4, 276);
            Record(b, 10, 250, 0x0800, 3, 4, 1, 8, 1);
            File.WriteAllBytes(_file, b.ToArray());
            Assert.Equal(10_000.25, Assert.Single(ProbeCapture.Read(_file)).UnixMs, 6);

            File.WriteAllBytes(_file, Header(0xa1b23c4d, 1).ToArray()); // Ethernet: no interface index or direction
            Assert.Throws<InvalidDataException>(() => ProbeCapture.Read(_file));
            File.WriteAllBytes(_file, new byte[24]);
            Assert.Throws<InvalidDataException>(() => ProbeCapture.Read(_file));
        }

        [Fact]
        public void A_truncated_last_record_is_ignored()
        {
            var b = Header(0xa1b23c4d, 276);
            Record(b, 1, 0, 0x0800, 3, 4, 1, 8, 1);
            Record(b, 2, 0, 0x0800, 3, 4, 1, 8, 2);
            File.WriteAllBytes(_file, b.GetRange(0, b.Count - 10).ToArray()); // tcpdump killed mid-write
            Assert.Equal(1, Assert.Single(ProbeCapture.Read(_file)).Sequence);
        }
    }
}
