using System;
using System.Globalization;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// Names of routers, links, hosts and networks: letters, digits, '-', '_', '.'; 1-63 characters; must start with a
    /// letter or digit; must not end with '.'; no "..". Only ASCII letters and digits count. Compared case-insensitively.
    /// Names reach command lines, so this is the gate.
    /// </summary>
    public static class NameRules
    {
        public const int MaxLength = 63;

        /// <summary>The rules in one sentence, for messages and help.</summary>
        public const string Description =
            "Names may contain only the letters A-Z and a-z, the digits 0-9, '-', '_' and '.'; they must start with a letter or digit, " +
            "must not end with '.', must not contain '..', and must be 1 to 63 characters long.";

        /// <summary>The same rules as an ECMAScript/.NET regular expression (used by the JSON schema too).</summary>
        public const string Pattern = @"^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9_-])?$";

        /// <summary>True when <paramref name="name"/> passes every rule.</summary>
        public static bool IsValid(string? name) => Problem(name, out _) == null;

        /// <summary>Null when valid, else the error (InvalidName or NameTooLong) naming <paramref name="what"/> (e.g. "router").</summary>
        /// <param name="name">The name to check.</param>
        /// <param name="what">The kind of item, for the message ("router", "link", "host", "network").</param>
        /// <param name="jsonPath">Where the name came from, if from a topology file; prefixed to the message.</param>
        public static TopologyError? Check(string? name, string what, string? jsonPath = null)
        {
            string? problem = Problem(name, out bool tooLong);
            if (problem == null) return null;

            string prefix = string.IsNullOrEmpty(jsonPath) ? "" : jsonPath + ": ";
            string message = string.IsNullOrEmpty(name)
                ? prefix + "The " + what + " name is empty. " + Description
                : prefix + "The " + what + " name " + DisplayText.Quote(name) + " is not valid: " + problem + ". " + Description;
            string target = string.IsNullOrEmpty(name) ? (jsonPath ?? "") : name!;
            return new TopologyError(tooLong ? ErrorIds.NameTooLong : ErrorIds.InvalidName, ErrorKind.InvalidArgument,
                target, message, jsonPath);
        }

        /// <summary>Throws <see cref="VirtualNetworksException"/> when invalid.</summary>
        public static void Ensure(string? name, string what)
        {
            var e = Check(name, what);
            if (e != null) throw e.ToException();
        }

        /// <summary>
        /// Null when valid, else a short description of the first problem. Bad characters win over length: a name that is
        /// both too long and contains forbidden characters is reported as InvalidName (<paramref name="tooLong"/> false).
        /// </summary>
        private static string? Problem(string? name, out bool tooLong)
        {
            tooLong = false;
            if (string.IsNullOrEmpty(name)) return "it is empty";

            for (int i = 0; i < name!.Length; i++)
            {
                char c = name[i];
                if (!IsAsciiLetterOrDigit(c) && c != '-' && c != '_' && c != '.')
                    return "character '" + DisplayText.Escape(c) + "' at position " + (i + 1).ToString(CultureInfo.InvariantCulture) + " is not allowed";
            }
            if (!IsAsciiLetterOrDigit(name[0])) return "it must start with a letter or digit, not '" + name[0] + "'";
            if (name[name.Length - 1] == '.') return "it must not end with '.'";
            if (name.IndexOf("..", StringComparison.Ordinal) >= 0) return "it must not contain '..'";
            if (name.Length > MaxLength)
            {
                tooLong = true;
                return "it is " + name.Length.ToString(CultureInfo.InvariantCulture) + " characters long, the limit is " +
                       MaxLength.ToString(CultureInfo.InvariantCulture);
            }
            return null;
        }

        private static bool IsAsciiLetterOrDigit(char c) =>
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
}
