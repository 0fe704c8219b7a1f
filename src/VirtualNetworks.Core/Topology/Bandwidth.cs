using System;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// Bandwidth values: bits per second as a number, or a string with a unit ("10Mbps", "1Gbit", "500kbit", "2.5 Gb/s").
    /// Decimal SI prefixes (k = 1000). Bytes units ("MB/s", "MBps") are accepted and multiplied by 8. Results are
    /// whole bits per second; "the rate" is the layer-2 frame rate the shaper enforces (see docs).
    /// </summary>
    public static class Bandwidth
    {
        /// <summary>Parses text; false with a message when the value is malformed, negative or not finite.</summary>
        public static bool TryParse(string? text, out long bitsPerSecond, out string? error) => throw new NotImplementedException();

        /// <summary>Human form: 10000000 -> "10 Mbit/s".</summary>
        public static string Format(long? bitsPerSecond) => throw new NotImplementedException();
    }
}
