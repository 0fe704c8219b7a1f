using FsCheck;
using FsCheck.Xunit;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    public class BandwidthTests
    {
        public static TheoryData<string, long> Accepted => new TheoryData<string, long>
        {
            { "0", 0 },
            { "1000", 1000 },
            { "  42  ", 42 },
            { "1.5", 2 },                 // rounds to the nearest bit, halves away from zero
            { "1.4", 1 },
            { "0.0001", 0 },
            { "1e3", 1000 },
            { "1E6", 1_000_000 },
            { "9223372036854775807", long.MaxValue },
            { "100bps", 100 },
            { "100 b/s", 100 },
            { "100 bit", 100 },
            { "100 bits", 100 },
            { "100 bit/s", 100 },
            { "100 Bit/S", 100 },
            { "100 Bps", 800 },
            { "100B/s", 800 },
            { "500kbit", 500_000 },
            { "500 kbps", 500_000 },
            { "500Kbps", 500_000 },
            { "500 kb/s", 500_000 },
            { "1kB/s", 8_000 },
            { "1 KBps", 8_000 },
            { "10Mbps", 10_000_000 },
            { "10 Mbps", 10_000_000 },
            { "10mbps", 10_000_000 },
            { "10 MBPS", 80_000_000 },    // an upper-case B is bytes, whatever the rest
            { "10MBps", 80_000_000 },
            { "10MB/s", 80_000_000 },
            { "10Mb/s", 10_000_000 },
            { "10 Mbit", 10_000_000 },
            { "10 MBit", 10_000_000 },    // spelled-out "bit" is bits in any case
            { "10 Mbit/s", 10_000_000 },
            { "1.2345678 Mbit/s", 1_234_568 },
            { ".5M", 500_000 },
            { "1Gbit", 1_000_000_000 },
            { "1 gbit", 1_000_000_000 },
            { "2.5 Gb/s", 2_500_000_000 },
            { "1 GBps", 8_000_000_000 },
            { "1.5e3kbit", 1_500_000 },
            { "1Tbps", 1_000_000_000_000 },
            { "10K", 10_000 },
            { "10k", 10_000 },
            { "10M", 10_000_000 },
            { "1G", 1_000_000_000 },
            { "1T", 1_000_000_000_000 },
            { "1e-400", 0 },
        };

        public static TheoryData<string?> Rejected => new TheoryData<string?>
        {
            null, "", "   ", "-1", "-10Mbps", "- 5", "fast", "10 parsecs", "NaN", "nan", "Infinity", "-Infinity", "+Infinity", "\u221e",
            "Mbps", "10 Mibps", "10 M bps", "10,000", "1 000", "0x10", "10Mbpss", "10 b", "10 MB", "+10", "\u0661\u0660", "10 mbit/h",
            "1.", "1..2", "10 Mbps fast", "10\nMbps x",
        };

        public static TheoryData<string> Overflowing => new TheoryData<string>
        {
            "9223372036854775808", "10000000 Tbps", "1e400", "99999999999999999999999999999999999999", "1e19",
        };

        [Theory]
        [MemberData(nameof(Accepted))]
        public void Parses(string text, long expected)
        {
            Assert.True(Bandwidth.TryParse(text, out long bits, out string? error), error);
            Assert.Equal(expected, bits);
            Assert.Null(error);
        }

        [Theory]
        [MemberData(nameof(Rejected))]
        [MemberData(nameof(Overflowing))]
        public void Rejects_with_a_message(string? text)
        {
            Assert.False(Bandwidth.TryParse(text, out _, out string? error));
            Assert.False(string.IsNullOrWhiteSpace(error));
            Assert.DoesNotContain("\n", error);
        }

        [Fact]
        public void Messages_say_what_is_wrong()
        {
            Bandwidth.TryParse("-10Mbps", out _, out var negative);
            Assert.Contains("negative", negative);
            Bandwidth.TryParse("Infinity", out _, out var infinite);
            Assert.Contains("finite", infinite);
            Bandwidth.TryParse("10 parsecs", out _, out var unit);
            Assert.Contains("'parsecs'", unit);
            Assert.Contains("Mbps", Bandwidth.AcceptedUnits.Replace("bps", "Mbps"));
            Bandwidth.TryParse("1e400", out _, out var large);
            Assert.Contains("too large", large);
            Bandwidth.TryParse("fast", out _, out var garbage);
            Assert.Contains("'fast'", garbage);
        }

        [Theory]
        [InlineData(0.0, 0L)]
        [InlineData(2.5, 3L)]
        [InlineData(1e9, 1_000_000_000L)]
        public void Converts_json_numbers(double value, long expected)
        {
            Assert.True(Bandwidth.TryFromNumber(value, out long bits, out _));
            Assert.Equal(expected, bits);
        }

        [Theory]
        [InlineData(double.NaN)]
        [InlineData(double.PositiveInfinity)]
        [InlineData(double.NegativeInfinity)]
        [InlineData(-1.0)]
        [InlineData(-0.5)]
        [InlineData(1e19)]
        [InlineData(1e30)]
        public void Rejects_bad_json_numbers(double value)
        {
            Assert.False(Bandwidth.TryFromNumber(value, out _, out string? error));
            Assert.NotNull(error);
        }

        [Theory]
        [InlineData(null, "unlimited")]
        [InlineData(0L, "0 bit/s")]
        [InlineData(999L, "999 bit/s")]
        [InlineData(1000L, "1 kbit/s")]
        [InlineData(512_000L, "512 kbit/s")]
        [InlineData(10_000_000L, "10 Mbit/s")]
        [InlineData(1_234_567L, "1.234567 Mbit/s")]
        [InlineData(1_500_000_000L, "1.5 Gbit/s")]
        [InlineData(2_000_000_000_000L, "2 Tbit/s")]
        public void Formats(long? bits, string expected) => Assert.Equal(expected, Bandwidth.Format(bits));

        [Property(MaxTest = 500)]
        public bool Format_round_trips_through_TryParse(NonNegativeInt small, long any)
        {
            foreach (long value in new[] { (long)small.Get, any < 0 ? -(any + 1) : any })
            {
                if (!Bandwidth.TryParse(Bandwidth.Format(value), out long back, out _) || back != value) return false;
            }
            return true;
        }

        [Property(MaxTest = 500)]
        public bool TryParse_never_throws(string? text) => Bandwidth.TryParse(text, out _, out _) || true;

        [Theory]
        [MemberData(nameof(Accepted))]
        public void Published_pattern_accepts_what_TryParse_accepts(string text, long _) =>
            Assert.Matches(NameRulesTests.EcmaRegex(Bandwidth.Pattern), text);

        [Theory]
        [MemberData(nameof(Rejected))]
        public void Published_pattern_rejects_what_TryParse_rejects(string? text)
        {
            if (text == null) return;
            Assert.DoesNotMatch(NameRulesTests.EcmaRegex(Bandwidth.Pattern), text);
        }
    }
}
