using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Topology
{
    /// <summary>
    /// One run of <see cref="TopologyReader"/> over one text: syntax, then shape (fields, types, required fields), then
    /// defaults resolved into concrete routers and links. Collects every error instead of stopping at the first.
    /// </summary>
    internal sealed class TopologyParser
    {
        private readonly string _text;
        private readonly string _display;
        private readonly string _sourceName;
        private readonly List<TopologyError> _errors = new List<TopologyError>();
        private JsonSource? _source;

        public TopologyParser(string text, string displayName, string sourceName)
        {
            _text = text;
            _display = DisplayText.Quote(displayName);
            _sourceName = sourceName;
        }

        /// <summary>The "defaults" section; null members were not given.</summary>
        private sealed class Defaults
        {
            public string? Host, Image, Network, IPv4Pool, IPv6Pool;
            public int? ProcessorCount, MemoryMB;
            public NetworkAddressFamily? AddressFamily;
            public long? Bandwidth;
        }

        public TopologyReadResult Run()
        {
            var result = new TopologyReadResult();
            result.Spec = ReadDocument();
            // File order reads best; errors without a position (none today) go last. OrderBy is stable.
            result.Errors = _errors.OrderBy(e => e.Line ?? int.MaxValue).ThenBy(e => e.Column ?? int.MaxValue).ToList();
            if (result.Errors.Count > 0) result.Spec = null;
            return result;
        }

        private TopologySpec? ReadDocument()
        {
            // A BOM that survived decoding (text passed to Parse) is not content.
            string text = _text.Length > 0 && _text[0] == '\uFEFF' ? _text.Substring(1) : _text;
            if (text.Trim().Length == 0)
            {
                AddFileError(ErrorIds.TopologyFileEmpty, ErrorKind.InvalidData, null, "The topology " + _display + " is empty.");
                return null;
            }

            _source = new JsonSource(text);
            var scan = _source.Scan();
            if (scan.SyntaxError != null)
            {
                var at = scan.SyntaxErrorPosition;
                AddFileError(ErrorIds.TopologyJsonSyntax, ErrorKind.ParserError, at,
                    "The topology " + _display + " is not valid JSON at " + at + ": " + scan.SyntaxError);
            }
            foreach (var d in scan.Duplicates)
            {
                AddAt(ErrorIds.TopologyDuplicateField, ErrorKind.InvalidData, d.Path, d.Path, d.At,
                    "The field " + DisplayText.Quote(d.Name) + " appears more than once in the same object (" + d.Path + "; first at " + d.First + "). Keep one.");
            }
            if (scan.SyntaxError != null) return null;
            if (!scan.HasContent)
            {
                AddFileError(ErrorIds.TopologyFileEmpty, ErrorKind.InvalidData, null, "The topology " + _display + " contains no JSON value, only comments.");
                return null;
            }

            JToken root;
            try
            {
                root = _source.Load();
            }
            catch (JsonException ex)
            {
                // Scan accepted the text, so this is not expected; report it rather than throw.
                AddFileError(ErrorIds.TopologyJsonSyntax, ErrorKind.ParserError, null, "The topology " + _display + " is not valid JSON: " + ex.Message);
                return null;
            }

            if (!(root is JObject rootObject))
            {
                AddFileError(ErrorIds.TopologyRootNotObject, ErrorKind.InvalidData, _source.StartOf(root),
                    "The topology " + _display + " must be a JSON object ({ \"routers\": [...], \"links\": [...] }), but it is " + Describe(root) + ".");
                return null;
            }
            return ReadRoot(rootObject);
        }

        // ---- sections ------------------------------------------------------------------------------------------------

        private TopologySpec ReadRoot(JObject root)
        {
            CheckFields(root, TopologyFields.Root, target: null, "at the top level");

            var schema = Field(root, "$schema");
            if (schema != null && schema.Type != JTokenType.String && schema.Type != JTokenType.Null)
                WrongType(schema, "a string (the schema's URI or path)", schema.Path);

            var defaults = ReadDefaults(root);
            var spec = new TopologySpec { SourceName = _sourceName };
            spec.AddressPools.IPv4 = defaults.IPv4Pool ?? AddressPools.DefaultIPv4;
            spec.AddressPools.IPv6 = defaults.IPv6Pool ?? AddressPools.DefaultIPv6;

            foreach (var (item, target) in Items(root, "hosts", "host"))
            {
                CheckFields(item, TopologyFields.Host, target, "in " + item.Path);
                spec.Hosts.Add(new HostSpec
                {
                    Name = GetString(item, "name", target, "host") ?? "",
                    Kind = GetString(item, "kind", target),
                });
            }

            foreach (var (item, target) in Items(root, "routers", "router"))
                spec.Routers.Add(ReadRouter(item, target, defaults));

            var explicitlyNamed = new List<bool>();
            foreach (var (item, target) in Items(root, "links", "link"))
            {
                CheckFields(item, TopologyFields.Link, target, "in " + item.Path);
                string? name = GetString(item, "name", target);
                var link = new LinkSpec
                {
                    Name = name ?? "",
                    From = GetString(item, "from", target, "link") ?? "",
                    To = GetString(item, "to", target, "link") ?? "",
                    VlanId = GetInt(item, "vlanId", target, ErrorIds.InvalidVlanId, "a VLAN id (1 to 4094)"),
                    State = GetLinkState(item, target),
                    SourcePath = item.Path,
                };
                link.MaximumBandwidth = TryGetBandwidth(item, "maximumBandwidth", target, out long? bandwidth)
                    ? bandwidth
                    : defaults.Bandwidth;
                spec.Links.Add(link);
                explicitlyNamed.Add(name != null);
            }
            NameUnnamedLinks(spec.Links, explicitlyNamed);

            // The underlay between hosts: lab hosts are joined by them; on real machines they document the network.
            foreach (var (item, target) in Items(root, "physicalLinks", "physical link"))
            {
                CheckFields(item, TopologyFields.PhysicalLink, target, "in " + item.Path);
                spec.PhysicalLinks.Add(new PhysicalLinkSpec
                {
                    From = GetString(item, "from", target, "physical link") ?? "",
                    To = GetString(item, "to", target, "physical link") ?? "",
                    SourcePath = item.Path,
                });
            }

            // Routing per network (label or computed name); the networks themselves stay computed from the wiring.
            foreach (var (item, target) in Items(root, "networks", "network"))
            {
                CheckFields(item, TopologyFields.Network, target, "in " + item.Path);
                spec.Networks.Add(new NetworkSpec
                {
                    Name = GetString(item, "name", target, "network entry") ?? "",
                    Routing = GetRouting(item, target) ?? RoutingProtocol.Static,
                    Bfd = GetBool(item, "bfd", target) ?? false,
                    HelloIntervalSeconds = GetInt(item, "helloIntervalSec", target, ErrorIds.InvalidRoutingTimer, "an OSPF hello interval in seconds"),
                    DeadIntervalSeconds = GetInt(item, "deadIntervalSec", target, ErrorIds.InvalidRoutingTimer, "an OSPF dead interval in seconds"),
                    BfdIntervalMilliseconds = GetInt(item, "bfdIntervalMs", target, ErrorIds.InvalidRoutingTimer, "a BFD interval in milliseconds"),
                    BfdMultiplier = GetInt(item, "bfdMultiplier", target, ErrorIds.InvalidRoutingTimer, "a BFD detection multiplier"),
                    SourcePath = item.Path,
                });
            }
            return spec;
        }

        /// <summary>"static" or "ospf" (case-insensitive); null when absent or null.</summary>
        private RoutingProtocol? GetRouting(JObject o, string target)
        {
            var token = Field(o, "routing");
            if (token == null || token.Type == JTokenType.Null) return null;
            if (token.Type != JTokenType.String)
            {
                WrongType(token, "the string \"static\" or \"ospf\"", target);
                return null;
            }
            string s = (string)token!;
            if (string.Equals(s, "static", StringComparison.OrdinalIgnoreCase)) return RoutingProtocol.Static;
            if (string.Equals(s, "ospf", StringComparison.OrdinalIgnoreCase)) return RoutingProtocol.Ospf;
            Add(ErrorIds.InvalidRoutingProtocol, ErrorKind.InvalidArgument, target, token.Path, token,
                token.Path + " is " + DisplayText.Quote(s) + "; the routing must be \"static\" or \"ospf\".");
            return null;
        }

        /// <summary>A link's "state": "up", "cablePulled" or "silent" (case-insensitive); null when absent or null.</summary>
        private LinkState? GetLinkState(JObject o, string target)
        {
            var token = Field(o, "state");
            if (token == null || token.Type == JTokenType.Null) return null;
            if (token.Type != JTokenType.String)
            {
                WrongType(token, "the string \"up\", \"cablePulled\" or \"silent\"", target);
                return null;
            }
            string s = (string)token!;
            if (LinkStates.TryParse(s, out var state)) return state;
            Add(ErrorIds.InvalidLinkState, ErrorKind.InvalidArgument, target, token.Path, token,
                token.Path + " is " + DisplayText.Quote(s) + "; a link's state must be \"up\", \"cablePulled\" or \"silent\"." +
                Suggestions.Hint(s, new[] { "up", "cablePulled", "silent" }));
            return null;
        }

        /// <summary>A boolean field; null when absent or null.</summary>
        private bool? GetBool(JObject o, string field, string target)
        {
            var token = Field(o, field);
            if (token == null || token.Type == JTokenType.Null) return null;
            if (token.Type == JTokenType.Boolean) return (bool)token;
            WrongType(token, "true or false", target);
            return null;
        }

        private Defaults ReadDefaults(JObject root)
        {
            var d = new Defaults();
            var token = Field(root, "defaults");
            if (token == null) return d;
            // null is not "not given" here: the schema wants an object, and a null section is a wrong type.
            if (!(token is JObject o))
            {
                WrongType(token, "an object", "defaults");
                return d;
            }

            CheckFields(o, TopologyFields.Defaults, "defaults", "in defaults");
            d.Host = GetString(o, "host", "defaults");
            d.Image = GetString(o, "image", "defaults");
            d.ProcessorCount = GetInt(o, "processorCount", "defaults", ErrorIds.InvalidProcessorCount, "a processor count");
            d.MemoryMB = GetInt(o, "memoryMB", "defaults", ErrorIds.InvalidMemory, "a memory size in MB");
            d.AddressFamily = GetAddressFamily(o, "defaults");
            d.Network = GetString(o, "network", "defaults");
            TryGetBandwidth(o, "maximumBandwidth", "defaults", out d.Bandwidth);
            d.IPv4Pool = GetPool(o, "ipv4AddressPool", NetworkAddressFamily.IPv4);
            d.IPv6Pool = GetPool(o, "ipv6AddressPool", NetworkAddressFamily.IPv6);
            return d;
        }

        private RouterSpec ReadRouter(JObject item, string target, Defaults d)
        {
            CheckFields(item, TopologyFields.Router, target, "in " + item.Path);
            string? host = GetString(item, "host", target);
            string? network = GetString(item, "network", target) ?? d.Network;
            return new RouterSpec
            {
                Name = GetString(item, "name", target, "router") ?? "",
                Host = HostNames.IsLocalHost(host ?? d.Host) ? "" : (host ?? d.Host)!, // every local alias becomes ""
                Image = GetString(item, "image", target) ?? d.Image ?? TopologyDefaults.Image,
                ProcessorCount = GetInt(item, "processorCount", target, ErrorIds.InvalidProcessorCount, "a processor count")
                                 ?? d.ProcessorCount ?? TopologyDefaults.ProcessorCount,
                // Neither given: null, the backend's default memory (resolved by the engine once the backend is known).
                MemoryMB = GetInt(item, "memoryMB", target, ErrorIds.InvalidMemory, "a memory size in MB") ?? d.MemoryMB,
                NetworkLabel = string.IsNullOrEmpty(network) ? null : network,
                AddressFamily = GetAddressFamily(item, target) ?? d.AddressFamily ?? TopologyDefaults.AddressFamily,
                SourcePath = item.Path,
            };
        }

        /// <summary>Unnamed links become "from-to"; when that is taken (case-insensitively) "-2", "-3", ... is added.</summary>
        private static void NameUnnamedLinks(List<LinkSpec> links, List<bool> explicitlyNamed)
        {
            var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 0; i < links.Count; i++)
                if (explicitlyNamed[i]) used.Add(links[i].Name);

            for (int i = 0; i < links.Count; i++)
            {
                if (explicitlyNamed[i]) continue;
                string baseName = links[i].From + "-" + links[i].To;
                string name = baseName;
                for (int n = 2; used.Contains(name); n++) name = baseName + "-" + n.ToString(CultureInfo.InvariantCulture);
                used.Add(name);
                links[i].Name = name;
            }
        }

        // ---- fields --------------------------------------------------------------------------------------------------

        private static JToken? Field(JObject o, string name) => o.Property(name, StringComparison.Ordinal)?.Value;

        private static string Child(string parentPath, string name) => parentPath.Length == 0 ? name : parentPath + "." + name;

        /// <summary>
        /// The objects of an array section; other elements and a non-array section are reported. An absent section is
        /// empty; a null one is a wrong type (the schema wants an array: <c>"routers": null</c> is not an empty topology).
        /// </summary>
        private List<(JObject Item, string Target)> Items(JObject root, string section, string what)
        {
            var items = new List<(JObject, string)>();
            var token = Field(root, section);
            if (token == null) return items;
            if (!(token is JArray array))
            {
                WrongType(token, "an array of " + what + " objects", section);
                return items;
            }
            foreach (var element in array)
            {
                if (element is JObject o) items.Add((o, TargetOf(o)));
                else WrongType(element, "an object describing a " + what, element.Path);
            }
            return items;
        }

        /// <summary>An item's name when it has a usable one (errors are about that router/link/host), else its path.</summary>
        private static string TargetOf(JObject item)
        {
            var name = Field(item, "name");
            return name != null && name.Type == JTokenType.String && ((string)name!).Length > 0 ? (string)name! : item.Path;
        }

        private void CheckFields(JObject o, string[] known, string? target, string where)
        {
            foreach (var property in o.Properties())
            {
                if (Array.IndexOf(known, property.Name) >= 0) continue;
                Add(ErrorIds.TopologyUnknownField, ErrorKind.InvalidData, target ?? property.Path, property.Path, property,
                    "Unknown field " + DisplayText.Quote(property.Name) + " " + where + "." + Suggestions.Hint(property.Name, known) +
                    " Known fields there: " + string.Join(", ", known) + ". Field names are case-sensitive.");
            }
        }

        /// <summary>
        /// A string field. Absent or null gives null, except for required fields (<paramref name="requiredBy"/> names the
        /// item kind), where absence is TopologyMissingField and null a wrong type.
        /// </summary>
        private string? GetString(JObject o, string field, string target, string? requiredBy = null)
        {
            var token = Field(o, field);
            if (token == null)
            {
                if (requiredBy != null)
                {
                    string path = Child(o.Path, field);
                    Add(ErrorIds.TopologyMissingField, ErrorKind.InvalidData, target, path, o,
                        "The required field " + DisplayText.Quote(field) + " is missing from " + o.Path + " (every " + requiredBy + " needs one).");
                }
                return null;
            }
            if (token.Type == JTokenType.String) return (string)token!;
            if (token.Type == JTokenType.Null && requiredBy == null) return null;
            WrongType(token, "a string", target);
            return null;
        }

        /// <summary>
        /// An integer field; integral numbers such as 2.0 count. A whole number too large for Int32 is reported with the
        /// field's own range error (<paramref name="rangeErrorId"/>), since it is a valid integer, just an impossible value.
        /// </summary>
        private int? GetInt(JObject o, string field, string target, string rangeErrorId, string what)
        {
            var token = Field(o, field);
            if (token == null || token.Type == JTokenType.Null) return null;

            object? raw = (token as JValue)?.Value;
            bool integral = token.Type == JTokenType.Integer ||
                            (token.Type == JTokenType.Float && raw is double d && !double.IsInfinity(d) && Math.Floor(d) == d);
            if (!integral)
            {
                WrongType(token, "an integer", target);
                return null;
            }

            switch (raw)
            {
                case long l when l >= int.MinValue && l <= int.MaxValue: return (int)l;
                case double dbl when dbl >= int.MinValue && dbl <= int.MaxValue: return (int)dbl;
            }
            Add(rangeErrorId, ErrorKind.InvalidArgument, target, token.Path, token,
                token.Path + " is " + Describe(token) + ", which is not a possible value for " + what + ".");
            return null;
        }

        /// <summary>
        /// A bandwidth field: bits/s as a number, or a string with a unit. True when given (not absent or null) and valid;
        /// <paramref name="bitsPerSecond"/> is then null for 0 (= unlimited).
        /// </summary>
        private bool TryGetBandwidth(JObject o, string field, string target, out long? bitsPerSecond)
        {
            bitsPerSecond = null;
            var token = Field(o, field);
            if (token == null || token.Type == JTokenType.Null) return false;

            object? raw = (token as JValue)?.Value;
            bool ok;
            long value = 0;
            string? error = null;
            switch (token.Type)
            {
                case JTokenType.Integer when raw is long l:
                    ok = l >= 0;
                    value = l;
                    if (!ok) error = Bandwidth.NegativeMessage(l.ToString(CultureInfo.InvariantCulture));
                    break;
                case JTokenType.Integer when raw is BigInteger big:
                    ok = false;
                    error = big.Sign < 0 ? Bandwidth.NegativeMessage(big.ToString(CultureInfo.InvariantCulture))
                                         : Bandwidth.TooLargeMessage(big.ToString(CultureInfo.InvariantCulture));
                    break;
                case JTokenType.Float when raw is double d:
                    ok = Bandwidth.TryFromNumber(d, out value, out error);
                    break;
                case JTokenType.String:
                    ok = Bandwidth.TryParse((string)token!, out value, out error);
                    break;
                default:
                    WrongType(token, "a number of bits per second or a string with a unit (such as \"10Mbps\")", target);
                    return false;
            }
            if (!ok)
            {
                Add(ErrorIds.InvalidBandwidth, ErrorKind.InvalidArgument, target, token.Path, token, token.Path + ": " + error);
                return false;
            }
            bitsPerSecond = value == 0 ? (long?)null : value;
            return true;
        }

        private NetworkAddressFamily? GetAddressFamily(JObject o, string target)
        {
            var token = Field(o, "addressFamily");
            if (token == null || token.Type == JTokenType.Null) return null;
            if (token.Type != JTokenType.String)
            {
                WrongType(token, "the string \"IPv4\" or \"IPv6\"", target);
                return null;
            }
            string s = (string)token!;
            if (string.Equals(s, "IPv4", StringComparison.OrdinalIgnoreCase)) return NetworkAddressFamily.IPv4;
            if (string.Equals(s, "IPv6", StringComparison.OrdinalIgnoreCase)) return NetworkAddressFamily.IPv6;
            Add(ErrorIds.InvalidAddressFamily, ErrorKind.InvalidArgument, target, token.Path, token,
                token.Path + " is " + DisplayText.Quote(s) + "; the address family must be \"IPv4\" or \"IPv6\".");
            return null;
        }

        private string? GetPool(JObject defaults, string field, NetworkAddressFamily family)
        {
            string? cidr = GetString(defaults, field, "defaults");
            if (cidr == null) return null;
            var token = Field(defaults, field)!;
            var error = AddressPoolRules.Check(cidr, family, token.Path);
            if (error == null) return cidr;
            Add(error.ErrorId, error.Kind, token.Path, token.Path, token, error.Message);
            return null;
        }

        // ---- errors --------------------------------------------------------------------------------------------------

        private void WrongType(JToken token, string expected, string target)
        {
            string path = token.Path.Length == 0 ? "The document" : token.Path;
            Add(ErrorIds.TopologyWrongType, ErrorKind.InvalidType, target, token.Path, token,
                path + " must be " + expected + ", but it is " + Describe(token) + ".");
        }

        private void Add(string id, ErrorKind kind, string target, string path, JToken? at, string text) =>
            AddAt(id, kind, target, path, _source?.StartOf(at), text);

        /// <summary>Every message starts with where: "'file', line 3, column 7: ...".</summary>
        private void AddAt(string id, ErrorKind kind, string target, string? path, SourcePosition? at, string text)
        {
            string where = at == null ? _display : _display + ", " + at;
            _errors.Add(new TopologyError(id, kind, target, where + ": " + text, path, at?.Line, at?.Column));
        }

        /// <summary>Errors about the whole document; the target is the source (file) name.</summary>
        private void AddFileError(string id, ErrorKind kind, SourcePosition? at, string text) =>
            _errors.Add(new TopologyError(id, kind, _sourceName, text, null, at?.Line, at?.Column));

        /// <summary>A JSON value for messages: "the string 'x'", "the integer 5", "an array", ...</summary>
        internal static string Describe(JToken token)
        {
            object? raw = (token as JValue)?.Value;
            switch (token.Type)
            {
                case JTokenType.Object: return "an object";
                case JTokenType.Array: return "an array";
                case JTokenType.Integer: return "the integer " + Convert.ToString(raw, CultureInfo.InvariantCulture);
                case JTokenType.Float:
                    return "the number " + (raw is double d ? d.ToString("R", CultureInfo.InvariantCulture) : Convert.ToString(raw, CultureInfo.InvariantCulture));
                case JTokenType.String: return "the string " + DisplayText.Quote((string)token!);
                case JTokenType.Boolean: return "the boolean " + ((bool)token ? "true" : "false");
                case JTokenType.Null: return "null";
                case JTokenType.Undefined: return "undefined";
                default: return token.Type.ToString();
            }
        }
    }
}
