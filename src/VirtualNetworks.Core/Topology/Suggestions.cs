using System;
using System.Collections.Generic;

namespace VirtualNetworks.Topology
{
    /// <summary>"Did you mean ...?" for misspelled field and router names.</summary>
    internal static class Suggestions
    {
        /// <summary>
        /// The candidate closest to <paramref name="text"/> when it is close enough to be a likely typo: equal ignoring
        /// case, at most two edits away (one for short words), or a case-insensitive part of a longer candidate
        /// ("memory" -> "memoryMB"). Null when nothing is close.
        /// </summary>
        public static string? Closest(string? text, IEnumerable<string> candidates)
        {
            if (string.IsNullOrEmpty(text)) return null;
            string lower = text!.ToLowerInvariant();
            int allowed = lower.Length <= 4 ? 1 : 2;
            string? best = null;
            int bestScore = int.MaxValue;
            foreach (var candidate in candidates)
            {
                string c = candidate.ToLowerInvariant();
                int score;
                if (c == lower) score = 0;
                else
                {
                    int d = Distance(lower, c);
                    if (d <= allowed) score = d;
                    else if (lower.Length >= 4 && c.Contains(lower)) score = allowed + 1;            // "bandwidth" -> "maximumBandwidth"
                    else if (lower.Length >= 4 && IsSubsequence(lower, c)) score = allowed + 2;     // "ipv4Pool" -> "ipv4AddressPool"
                    else continue;
                }
                if (score < bestScore) { bestScore = score; best = candidate; }
            }
            return best;
        }

        /// <summary>" Did you mean 'x'?" or the empty string.</summary>
        public static string Hint(string? text, IEnumerable<string> candidates)
        {
            var s = Closest(text, candidates);
            return s == null ? "" : " Did you mean " + DisplayText.Quote(s) + "?";
        }

        /// <summary>True when the characters of <paramref name="part"/> appear in <paramref name="whole"/> in order.</summary>
        private static bool IsSubsequence(string part, string whole)
        {
            int i = 0;
            for (int j = 0; j < whole.Length && i < part.Length; j++)
                if (whole[j] == part[i]) i++;
            return i == part.Length;
        }

        /// <summary>Optimal-string-alignment edit distance (Levenshtein plus adjacent transpositions).</summary>
        public static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    int v = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                    if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                        v = Math.Min(v, d[i - 2, j - 2] + 1);
                    d[i, j] = v;
                }
            }
            return d[a.Length, b.Length];
        }
    }
}
