using System.Globalization;
using System.Text;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>Message formatting for the network code: user or kernel text quoted on one line, control characters escaped.</summary>
    internal static class NetText
    {
        private const int MaxShown = 120;

        public static string Quote(string? text)
        {
            if (text == null) return "(none)";
            var sb = new StringBuilder(text.Length + 2).Append('\'');
            int shown = text.Length > MaxShown ? MaxShown : text.Length;
            for (int i = 0; i < shown; i++)
            {
                char c = text[i];
                if (c == '\'' || c == '\\') sb.Append('\\').Append(c);
                else if (c < 0x20 || c >= 0x7f) sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                else sb.Append(c);
            }
            if (shown < text.Length) sb.Append("...");
            return sb.Append('\'').ToString();
        }

        public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
