using System.Globalization;
using System.Text;

namespace VirtualNetworks.Topology
{
    /// <summary>Formats user-supplied text for error messages so that it stays on one line and is unambiguous.</summary>
    internal static class DisplayText
    {
        /// <summary>Longest text shown verbatim in a message; longer text is cut and its length given.</summary>
        public const int MaxShown = 80;

        /// <summary>
        /// Single-quoted, with backslash escapes for control characters (\n, \t, \0, \uXXXX), quotes, backslashes and every
        /// non-ASCII character (so look-alike letters cannot hide). Very long text is shortened.
        /// </summary>
        public static string Quote(string? text)
        {
            if (text == null) return "(null)";
            var sb = new StringBuilder(text.Length + 2);
            sb.Append('\'');
            int shown = text.Length > MaxShown ? MaxShown : text.Length;
            for (int i = 0; i < shown; i++) AppendEscaped(sb, text[i]);
            if (shown < text.Length) sb.Append("...");
            sb.Append('\'');
            if (shown < text.Length) sb.Append(" (").Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(" characters)");
            return sb.ToString();
        }

        /// <summary>One character, escaped as in <see cref="Quote"/> but without surrounding quotes.</summary>
        public static string Escape(char c)
        {
            var sb = new StringBuilder(6);
            AppendEscaped(sb, c);
            return sb.ToString();
        }

        private static void AppendEscaped(StringBuilder sb, char c)
        {
            switch (c)
            {
                case '\n': sb.Append("\\n"); return;
                case '\r': sb.Append("\\r"); return;
                case '\t': sb.Append("\\t"); return;
                case '\0': sb.Append("\\0"); return;
                case '\\': sb.Append("\\\\"); return;
                case '\'': sb.Append("\\'"); return;
            }
            if (c < 0x20 || c >= 0x7f)
                sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            else
                sb.Append(c);
        }
    }
}
