using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// Bandwidth values: bits per second as a number, or a string with a unit ("10Mbps", "1Gbit", "500kbit", "2.5 Gb/s").
    /// Decimal SI prefixes (k = 1000). Bytes units ("MB/s", "MBps") are accepted and multiplied by 8. Results are
    /// whole bits per second; "the rate" is the layer-2 frame rate the shaper enforces (see docs).
    /// </summary>
    /// <remarks>
    /// Units are case-insensitive except for the b/B of "bps" and "b/s": a lower-case b means bits ("Mbps" = megabit/s),
    /// an upper-case B means bytes ("MBps", "MB/s" = megabyte/s). The spelled-out "bit"/"bits" are bits in any case.
    /// A prefix alone ("10M", "1G") means bits. Plain numbers are bits per second.
    /// </remarks>
    public static class Bandwidth
    {
        /// <summary>Units accepted, for messages and help.</summary>
        public const string AcceptedUnits =
            "bps, b/s, bit, bits, bit/s (bits); Bps, B/s (bytes, x8); each optionally after an SI prefix k, M, G or T " +
            "(powers of 1000); or the prefix alone (\"10M\" = 10 Mbit/s)";

        /// <summary>The accepted text as a regular expression (ECMAScript-compatible; the JSON schema uses the same one).</summary>
        public const string Pattern =
            @"^\s*(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*" +
            @"(?:[kKmMgGtT]?(?:[bB](?:[pP][sS]|/[sS])|[bB][iI][tT][sS]?(?:/[sS])?)|[kKmMgGtT])?\s*$";

        // Number, then an optional unit; the unit is interpreted in code so the messages can say what is wrong with it.
        // [0-9] rather than \d: \d also matches non-ASCII digits.
        private static readonly Regex Shape = new Regex(
            @"^(?<num>(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(?<unit>.*)$",
            RegexOptions.CultureInvariant | RegexOptions.Singleline);

        /// <summary>Parses text; false with a message when the value is malformed, negative or not finite.</summary>
        public static bool TryParse(string? text, out long bitsPerSecond, out string? error)
        {
            bitsPerSecond = 0;
            if (text == null || text.Trim().Length == 0)
            {
                error = "The bandwidth is empty. Give bits per second as a number, or a number with a unit such as \"10Mbps\".";
                return false;
            }

            string t = text.Trim();
            string shown = DisplayText.Quote(text);
            if (t[0] == '-' && Shape.IsMatch(t.Substring(1).TrimStart()))
            {
                error = NegativeMessage(shown);
                return false;
            }
            string lower = t.ToLowerInvariant();
            if (lower.StartsWith("nan", StringComparison.Ordinal) || lower.StartsWith("inf", StringComparison.Ordinal) ||
                lower.StartsWith("+inf", StringComparison.Ordinal) || t[0] == '\u221E')
            {
                error = "The bandwidth " + shown + " is not a finite number. Use 0 or leave it out for no limit.";
                return false;
            }

            var m = Shape.Match(t);
            if (!m.Success)
            {
                error = "The bandwidth " + shown + " is not a number with an optional unit. Examples: 1000000, \"10Mbps\", \"1.5 Gbit\", \"512kbit\", \"100 MB/s\".";
                return false;
            }

            string unit = m.Groups["unit"].Value;
            if (!TryUnit(unit, out decimal multiplier))
            {
                error = "The bandwidth " + shown + " has an unknown unit " + DisplayText.Quote(unit) + ". Accepted units: " + AcceptedUnits + ".";
                return false;
            }

            if (!decimal.TryParse(m.Groups["num"].Value, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                    CultureInfo.InvariantCulture, out decimal number))
            {
                // The shape is right, so the number is out of decimal's range: huge, or so tiny that it rounds to 0.
                if (!double.TryParse(m.Groups["num"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || d >= 1)
                {
                    error = TooLargeMessage(shown);
                    return false;
                }
                number = 0m;
            }
            return FromDecimal(number, multiplier, shown, out bitsPerSecond, out error);
        }

        /// <summary>
        /// Converts a JSON number (bits per second) to whole bits per second, rounding to the nearest bit. False with a
        /// message when it is negative, not finite or larger than <see cref="long.MaxValue"/>.
        /// </summary>
        public static bool TryFromNumber(double value, out long bitsPerSecond, out string? error)
        {
            bitsPerSecond = 0;
            string shown = value.ToString("R", CultureInfo.InvariantCulture);
            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                error = "The bandwidth " + shown + " is not a finite number. Use 0 or leave it out for no limit.";
                return false;
            }
            if (value < 0)
            {
                error = NegativeMessage(shown);
                return false;
            }
            // Beyond decimal's range is certainly beyond long's.
            if (value >= 7.9e28)
            {
                error = TooLargeMessage(shown);
                return false;
            }
            return FromDecimal((decimal)value, 1m, shown, out bitsPerSecond, out error);
        }

        /// <summary>Human form: 10000000 -> "10 Mbit/s", 1500000000 -> "1.5 Gbit/s", null -> "unlimited". Exact (no rounding).</summary>
        public static string Format(long? bitsPerSecond)
        {
            if (bitsPerSecond == null) return "unlimited";
            long v = bitsPerSecond.Value;
            decimal abs = Math.Abs((decimal)v);
            string prefix;
            decimal unit;
            if (abs >= 1e12m) { prefix = "T"; unit = 1e12m; }
            else if (abs >= 1e9m) { prefix = "G"; unit = 1e9m; }
            else if (abs >= 1e6m) { prefix = "M"; unit = 1e6m; }
            else if (abs >= 1e3m) { prefix = "k"; unit = 1e3m; }
            else { prefix = ""; unit = 1m; }
            // Dividing by a power of ten is exact in decimal, and 12 optional decimals cover 1e12: the text is exact.
            string number = ((decimal)v / unit).ToString("0.############", CultureInfo.InvariantCulture);
            return number + " " + prefix + "bit/s";
        }

        /// <summary>Multiplier for a unit (already trimmed), or false when it is not one we accept.</summary>
        private static bool TryUnit(string unit, out decimal multiplier)
        {
            multiplier = 1m;
            string u = unit.Trim();
            if (u.Length == 0) return true;

            decimal prefix = 1m;
            switch (u[0])
            {
                case 'k': case 'K': prefix = 1e3m; break;
                case 'm': case 'M': prefix = 1e6m; break;
                case 'g': case 'G': prefix = 1e9m; break;
                case 't': case 'T': prefix = 1e12m; break;
            }
            string rest = prefix == 1m ? u : u.Substring(1);
            if (rest.Length == 0)
            {
                // A prefix alone: "10M" = 10 Mbit/s. (A bare number without prefix was handled above.)
                multiplier = prefix;
                return true;
            }

            string restLower = rest.ToLowerInvariant();
            decimal perUnit;
            if (restLower == "bit" || restLower == "bits" || restLower == "bit/s" || restLower == "bits/s")
                perUnit = 1m;
            else if (restLower == "bps" || restLower == "b/s")
                perUnit = rest[0] == 'B' ? 8m : 1m; // case of the b decides bits vs bytes
            else
                return false;

            multiplier = prefix * perUnit;
            return true;
        }

        private static bool FromDecimal(decimal number, decimal multiplier, string shown, out long bitsPerSecond, out string? error)
        {
            bitsPerSecond = 0;
            decimal bits;
            try
            {
                bits = Math.Round(number * multiplier, MidpointRounding.AwayFromZero);
            }
            catch (OverflowException)
            {
                error = TooLargeMessage(shown);
                return false;
            }
            if (bits > long.MaxValue)
            {
                error = TooLargeMessage(shown);
                return false;
            }
            bitsPerSecond = (long)bits;
            error = null;
            return true;
        }

        internal static string TooLargeMessage(string shown) =>
            "The bandwidth " + shown + " is too large (the limit is " + long.MaxValue.ToString(CultureInfo.InvariantCulture) + " bit/s).";

        internal static string NegativeMessage(string shown) =>
            "The bandwidth " + shown + " is negative. Use 0 or leave it out for no limit.";
    }
}
