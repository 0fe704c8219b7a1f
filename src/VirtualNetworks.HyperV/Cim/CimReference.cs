using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace VirtualNetworks.HyperV.Cim
{
    /// <summary>
    /// A reference to one CIM instance: host, namespace, class and key values. Its text form is the WMI object path
    /// Hyper-V itself writes into <c>Parent</c> and <c>HostResource</c>:
    /// <c>\\HOST\root\virtualization\v2:Class.Key="value",Other="value"</c>, with <c>\</c> and <c>"</c> inside a value
    /// escaped by a backslash (fact sheet §10). Keys compare case-insensitively by name and ordinally by value (Hyper-V
    /// GUIDs are upper case in paths it writes; <see cref="Matches"/> ignores case for them).
    /// </summary>
    public sealed class CimReference : IEquatable<CimReference>
    {
        public const string VirtualizationNamespace = @"root\virtualization\v2";
        public const string Cimv2Namespace = @"root\cimv2";

        public CimReference(string className, IEnumerable<KeyValuePair<string, object>> keys, string? @namespace = null, string? host = null)
        {
            if (string.IsNullOrEmpty(className)) throw new ArgumentException("A reference needs a class name.", nameof(className));
            ClassName = className;
            Namespace = string.IsNullOrEmpty(@namespace) ? VirtualizationNamespace : @namespace!;
            Host = host ?? "";
            Keys = keys.OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(k => k.Key, k => k.Value, StringComparer.OrdinalIgnoreCase);
        }

        /// <summary>A reference keyed by InstanceID (every setting-data class).</summary>
        public static CimReference ByInstanceId(string className, string instanceId, string? host = null, string? @namespace = null) =>
            new CimReference(className, new[] { new KeyValuePair<string, object>("InstanceID", instanceId) }, @namespace, host);

        public string ClassName { get; }
        public string Namespace { get; }
        /// <summary>The host part of the path; empty when unknown (a local, relative path).</summary>
        public string Host { get; }
        public IReadOnlyDictionary<string, object> Keys { get; }

        public string? Key(string name) => Keys.TryGetValue(name, out var v) ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;

        public CimReference WithHost(string host) => new CimReference(ClassName, Keys, Namespace, host);

        /// <summary>The WMI object path text.</summary>
        public string ToPath()
        {
            var sb = new StringBuilder();
            if (!string.IsNullOrEmpty(Host)) sb.Append(@"\\").Append(Host).Append('\\');
            sb.Append(Namespace).Append(':').Append(ClassName);
            bool first = true;
            foreach (var k in Keys)
            {
                sb.Append(first ? '.' : ',');
                first = false;
                sb.Append(k.Key).Append('=');
                if (k.Value is string s) sb.Append('"').Append(Escape(s)).Append('"');
                else if (k.Value is bool b) sb.Append(b ? "TRUE" : "FALSE");
                else sb.Append(Convert.ToString(k.Value, CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }

        public override string ToString() => ToPath();

        private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"");

        /// <summary>Parses a WMI object path; throws <see cref="FormatException"/> when it is not one.</summary>
        public static CimReference Parse(string path)
        {
            if (!TryParse(path, out var reference, out var why)) throw new FormatException($"'{path}' is not a WMI object path: {why}");
            return reference!;
        }

        public static bool TryParse(string? path, out CimReference? reference, out string why)
        {
            reference = null;
            why = "";
            if (string.IsNullOrWhiteSpace(path)) { why = "empty"; return false; }
            string rest = path!.Trim();
            string host = "";
            if (rest.StartsWith(@"\\", StringComparison.Ordinal))
            {
                int slash = rest.IndexOf('\\', 2);
                if (slash < 0) { why = "no namespace after the host"; return false; }
                host = rest.Substring(2, slash - 2);
                rest = rest.Substring(slash + 1);
            }
            int colon = rest.IndexOf(':');
            string ns = VirtualizationNamespace;
            if (colon >= 0)
            {
                ns = rest.Substring(0, colon);
                rest = rest.Substring(colon + 1);
            }
            int dot = rest.IndexOf('.');
            if (dot <= 0) { why = "no key list (Class.Key=\"value\")"; return false; }
            string className = rest.Substring(0, dot);
            if (!IsIdentifier(className)) { why = $"'{className}' is not a class name"; return false; }
            var keys = new List<KeyValuePair<string, object>>();
            int i = dot + 1;
            while (i < rest.Length)
            {
                int eq = rest.IndexOf('=', i);
                if (eq < 0) { why = "a key without '='"; return false; }
                string name = rest.Substring(i, eq - i).Trim();
                if (!IsIdentifier(name)) { why = $"'{name}' is not a key name"; return false; }
                i = eq + 1;
                if (i < rest.Length && rest[i] == '"')
                {
                    var sb = new StringBuilder();
                    i++;
                    bool closed = false;
                    while (i < rest.Length)
                    {
                        char c = rest[i];
                        if (c == '\\' && i + 1 < rest.Length) { sb.Append(rest[i + 1]); i += 2; continue; }
                        if (c == '"') { closed = true; i++; break; }
                        sb.Append(c);
                        i++;
                    }
                    if (!closed) { why = $"unterminated value of key '{name}'"; return false; }
                    keys.Add(new KeyValuePair<string, object>(name, sb.ToString()));
                }
                else
                {
                    int end = rest.IndexOf(',', i);
                    string raw = (end < 0 ? rest.Substring(i) : rest.Substring(i, end - i)).Trim();
                    if (raw.Length == 0) { why = $"empty value of key '{name}'"; return false; }
                    object value = long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
                        : raw.Equals("TRUE", StringComparison.OrdinalIgnoreCase) ? true
                        : raw.Equals("FALSE", StringComparison.OrdinalIgnoreCase) ? (object)false
                        : raw;
                    keys.Add(new KeyValuePair<string, object>(name, value));
                    i = end < 0 ? rest.Length : end;
                }
                if (i < rest.Length)
                {
                    if (rest[i] != ',') { why = $"unexpected '{rest[i]}' after key '{name}'"; return false; }
                    i++;
                }
            }
            if (keys.Count == 0) { why = "no keys"; return false; }
            reference = new CimReference(className, keys, ns, host);
            return true;
        }

        private static bool IsIdentifier(string s) =>
            s.Length > 0 && (char.IsLetter(s[0]) || s[0] == '_') && s.All(c => char.IsLetterOrDigit(c) || c == '_');

        /// <summary>Same class, namespace and keys (host ignored; key values compared case-insensitively, as WMI does).</summary>
        public bool Matches(CimReference? other)
        {
            if (other == null) return false;
            if (!string.Equals(ClassName, other.ClassName, StringComparison.OrdinalIgnoreCase)) return false;
            if (!string.Equals(Namespace, other.Namespace, StringComparison.OrdinalIgnoreCase)) return false;
            if (Keys.Count != other.Keys.Count) return false;
            foreach (var k in Keys)
            {
                if (!other.Keys.TryGetValue(k.Key, out var v)) return false;
                if (!string.Equals(Convert.ToString(k.Value, CultureInfo.InvariantCulture), Convert.ToString(v, CultureInfo.InvariantCulture), StringComparison.OrdinalIgnoreCase))
                    return false;
            }
            return true;
        }

        public bool Equals(CimReference? other) => Matches(other) && string.Equals(Host, other!.Host, StringComparison.OrdinalIgnoreCase);
        public override bool Equals(object? obj) => Equals(obj as CimReference);
        public override int GetHashCode() => StringComparer.OrdinalIgnoreCase.GetHashCode(ClassName) ^
            Keys.Aggregate(0, (h, k) => h ^ StringComparer.OrdinalIgnoreCase.GetHashCode(k.Key + "=" + Convert.ToString(k.Value, CultureInfo.InvariantCulture)));
    }
}
