using System;
using System.Globalization;
using System.Management.Automation;
using VirtualNetworks.Topology;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Turns a bandwidth argument into bits per second: a number (bits/s) or text with a unit ("10Mbps", "1Gbit",
    /// "500kbit", "2.5 Gb/s"; see <see cref="Bandwidth.AcceptedUnits"/>). $null stays null. Malformed text fails parameter
    /// binding with the parser's explanation. Range checks against the backend are the engine's job.
    /// </summary>
    /// <remarks>PowerShell's own suffixes are byte multipliers (5MB = 5242880), so a bare 5MB means 5242880 bit/s.</remarks>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class BandwidthTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject pso ? pso.BaseObject : inputData;
            switch (value)
            {
                case null:
                    return null;
                case long l when l >= 0:
                    return l;
                case int i when i >= 0:
                    return (long)i;
                case short s when s >= 0:
                    return (long)s;
                case byte b:
                    return (long)b;
                case uint ui:
                    return (long)ui;
                case ushort us:
                    return (long)us;
                case sbyte sb when sb >= 0:
                    return (long)sb;
                case ulong ul:
                    if (ul > long.MaxValue) throw Fail("The bandwidth " + ul.ToString(CultureInfo.InvariantCulture) + " is too large.");
                    return (long)ul;
                case string text:
                    if (Bandwidth.TryParse(text, out long parsed, out string? error)) return parsed;
                    throw Fail(error!);
            }

            if (IsNumber(value))
            {
                double d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (Bandwidth.TryFromNumber(d, out long bits, out string? error)) return bits;
                throw Fail(error!);
            }

            throw Fail("A bandwidth must be a number of bits per second or text with a unit such as \"10Mbps\", not a " +
                       value.GetType().Name + ".");
        }

        private static bool IsNumber(object value) =>
            value is long || value is int || value is short || value is sbyte || value is double || value is float || value is decimal;

        private static ArgumentTransformationMetadataException Fail(string message) =>
            new ArgumentTransformationMetadataException(message + " Write rates as text with a unit, such as 5Mbps or '1.5 Gbit' " +
                "(PowerShell's own 5MB means 5242880, a byte count).");
    }
}
