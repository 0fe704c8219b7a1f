using System;
using System.Linq;
using System.Text.RegularExpressions;
using FsCheck.Xunit;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    public class NameRulesTests
    {
        public static readonly string Max = new string('a', NameRules.MaxLength);

        [Theory]
        [InlineData("r1")]
        [InlineData("a")]
        [InlineData("7")]
        [InlineData("A-b_c.d")]
        [InlineData("edge_01")]
        [InlineData("x-")]
        [InlineData("x_")]
        [InlineData("a.b.c")]
        [InlineData("hv01.lab.example")]
        [InlineData("ROUTER")]
        public void Accepts_valid_names(string name)
        {
            Assert.Null(NameRules.Check(name, "router"));
            Assert.True(NameRules.IsValid(name));
        }

        [Fact]
        public void Accepts_exactly_63_characters() => Assert.Null(NameRules.Check(Max, "router"));

        [Theory]
        [InlineData("")]
        [InlineData(null)]
        [InlineData("r1;rm -rf /")]
        [InlineData("r1\nr2")]
        [InlineData("r1\r")]
        [InlineData("r\t1")]
        [InlineData("r\01")]
        [InlineData("r 1")]
        [InlineData(" r1")]
        [InlineData("a..b")]
        [InlineData("a.")]
        [InlineData(".a")]
        [InlineData("-a")]
        [InlineData("_a")]
        [InlineData("$(reboot)")]
        [InlineData("`id`")]
        [InlineData("a|b")]
        [InlineData("a&b")]
        [InlineData("a>b")]
        [InlineData("a/b")]
        [InlineData("a\\b")]
        [InlineData("'a'")]
        [InlineData("\"a\"")]
        [InlineData("a*")]
        [InlineData("a:b")]
        [InlineData("r\u00f6uter")]          // o-umlaut
        [InlineData("\u0440\u043e\u0443\u0442\u0435\u0440")] // Cyrillic look-alike letters
        [InlineData("r\u00a0")]               // no-break space
        [InlineData("\u0661\u0662")]          // Arabic-Indic digits
        public void Rejects_invalid_names_as_InvalidName(string? name)
        {
            var e = NameRules.Check(name, "router");
            Assert.NotNull(e);
            Assert.Equal(ErrorIds.InvalidName, e!.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.False(NameRules.IsValid(name));
        }

        [Fact]
        public void Longer_than_63_is_NameTooLong()
        {
            var e = NameRules.Check(Max + "b", "link");
            Assert.Equal(ErrorIds.NameTooLong, e!.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Contains("64 characters", e.Message);
            Assert.Contains("63", e.Message);
        }

        [Fact]
        public void Bad_characters_win_over_length()
        {
            var e = NameRules.Check(new string('a', 100) + ";", "router");
            Assert.Equal(ErrorIds.InvalidName, e!.ErrorId);
        }

        [Fact]
        public void Message_names_the_kind_and_shows_the_name_escaped()
        {
            var e = NameRules.Check("r1\nr2", "router")!;
            Assert.Contains("router", e.Message);
            Assert.Contains("'r1\\nr2'", e.Message);
            Assert.DoesNotContain("\n", e.Message);
            Assert.Equal("r1\nr2", e.Target);

            var nul = NameRules.Check("a\0b", "link")!;
            Assert.Contains("'a\\0b'", nul.Message);
            Assert.Contains("link", nul.Message);

            var cyrillic = NameRules.Check("\u0440ouer", "host")!;
            Assert.Contains("\\u0440", cyrillic.Message);
        }

        [Fact]
        public void Message_points_at_the_first_bad_character()
        {
            var e = NameRules.Check("r1;rm -rf /", "router")!;
            Assert.Contains("';' at position 3", e.Message);
            Assert.Contains("'r1;rm -rf /'", e.Message);
        }

        [Fact]
        public void Json_path_is_kept_and_prefixed()
        {
            var e = NameRules.Check("a..b", "router", "routers[2]")!;
            Assert.Equal("routers[2]", e.JsonPath);
            Assert.StartsWith("routers[2]: ", e.Message);
            Assert.Contains("'..'", e.Message);
        }

        [Fact]
        public void Empty_name_targets_the_path()
        {
            var e = NameRules.Check("", "router", "routers[0]")!;
            Assert.Equal("routers[0]", e.Target);
            Assert.Contains("empty", e.Message);
        }

        [Fact]
        public void Ensure_throws_with_the_id()
        {
            NameRules.Ensure("ok", "router");
            var ex = Assert.Throws<VirtualNetworksException>(() => NameRules.Ensure("no way", "router"));
            Assert.Equal(ErrorIds.InvalidName, ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
        }

        // Names are built from an alphabet that mixes allowed and forbidden characters, so both outcomes are common.
        private const string Alphabet = "aZ09-_..;  \n\u00e9/$";

        private static string FromPicks(byte[] picks) => new string(picks.Select(b => Alphabet[b % Alphabet.Length]).ToArray());

        [Property(MaxTest = 1000)]
        public bool Published_pattern_agrees_with_the_rules(byte[] picks)
        {
            string name = FromPicks(picks ?? Array.Empty<byte>());
            return EcmaRegex(NameRules.Pattern).IsMatch(name) == NameRules.IsValid(name);
        }

        /// <summary>
        /// A published (ECMAScript, JSON schema) pattern as .NET should run it: in .NET '$' also matches before a final
        /// newline, in ECMAScript only at the very end.
        /// </summary>
        internal static Regex EcmaRegex(string pattern) =>
            new Regex(pattern.EndsWith("$") ? pattern.Substring(0, pattern.Length - 1) + @"\z" : pattern, RegexOptions.ECMAScript);

        [Property(MaxTest = 1000)]
        public bool Valid_names_hold_only_safe_characters(byte[] picks)
        {
            string name = FromPicks(picks ?? Array.Empty<byte>());
            return !NameRules.IsValid(name) || name.All(c => (c < 128 && char.IsLetterOrDigit(c)) || c == '-' || c == '_' || c == '.');
        }

        [Property(MaxTest = 300)]
        public bool Check_never_throws(string? name) => NameRules.Check(name, "router") is var _;
    }
}
