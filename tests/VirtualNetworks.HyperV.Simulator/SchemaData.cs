using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>One parameter of a method in the real schema: direction ("in", "out", "inout"), name, type.</summary>
    public sealed class WmiParameter
    {
        internal WmiParameter(string direction, string name, string type) { Direction = direction; Name = name; Type = type; }
        public string Direction { get; }
        public string Name { get; }
        /// <summary>As in the data file: string, boolean, uint16, enum, class:NAME, object, ...; suffix [] = array.</summary>
        public string Type { get; }
        public bool IsIn => Direction == "in" || Direction == "inout";
        public bool IsOut => Direction == "out" || Direction == "inout";
        public override string ToString() => Direction + " " + Type + " " + Name;
    }

    /// <summary>One method of a class in the real schema (as declared on that class).</summary>
    public sealed class WmiMethod
    {
        internal WmiMethod(string name, string returns, IReadOnlyList<WmiParameter> parameters) { Name = name; Returns = returns; Parameters = parameters; }
        public string Name { get; }
        public string Returns { get; }
        public IReadOnlyList<WmiParameter> Parameters { get; }
        public WmiParameter? Parameter(string name) => Parameters.FirstOrDefault(p => p.Name == name);
    }

    /// <summary>One class of the real schema with what it declares itself (inherited members: <see cref="WmiSchemaData"/>).</summary>
    public sealed class WmiClass
    {
        internal WmiClass(string name, string ns, string? parent, IReadOnlyDictionary<string, string> properties, IReadOnlyDictionary<string, WmiMethod> methods)
        {
            Name = name; Namespace = ns; Parent = parent; Properties = properties; Methods = methods;
        }
        public string Name { get; }
        /// <summary>"root/virtualization/v2" or "root/cimv2".</summary>
        public string Namespace { get; }
        public string? Parent { get; }
        /// <summary>Declared properties (name → type), in file order.</summary>
        public IReadOnlyDictionary<string, string> Properties { get; }
        public IReadOnlyDictionary<string, WmiMethod> Methods { get; }
        public override string ToString() => Name + (Parent != null ? " : " + Parent : "");
    }

    /// <summary>
    /// The real WMI schema of one Windows Server version as derived from microsoft/wmi's wmigen output by
    /// tools/WmiSchemaGen (Schema/wmi-&lt;version&gt;.json, embedded in this assembly). Names are exact (case-sensitive
    /// lookups); a class name is unique per namespace.
    /// </summary>
    public sealed class WmiSchemaData
    {
        public const string V2 = "root/virtualization/v2";
        public const string Cimv2 = "root/cimv2";
        /// <summary>The versions a data file is committed for.</summary>
        public static IReadOnlyList<string> Versions { get; } = new[] { "server2019", "server23h2" };

        private static readonly Dictionary<string, WmiSchemaData> Cache = new Dictionary<string, WmiSchemaData>(StringComparer.Ordinal);
        private readonly Dictionary<(string Ns, string Name), WmiClass> _classes = new Dictionary<(string, string), WmiClass>();

        private WmiSchemaData(string version, string commit, IEnumerable<WmiClass> classes)
        {
            Version = version;
            Commit = commit;
            Classes = classes.ToList();
            foreach (var c in Classes) _classes[(c.Namespace, c.Name)] = c;
        }

        public string Version { get; }
        /// <summary>The microsoft/wmi commit the data was derived from.</summary>
        public string Commit { get; }
        public IReadOnlyList<WmiClass> Classes { get; }

        /// <summary>The data of <paramref name="version"/> (server2019 or server23h2), read once from the embedded file.</summary>
        public static WmiSchemaData Load(string version)
        {
            lock (Cache)
            {
                if (Cache.TryGetValue(version, out var cached)) return cached;
                if (!Versions.Contains(version))
                    throw new ArgumentException($"No WMI schema data for '{version}'; known: {string.Join(", ", Versions)}.", nameof(version));
                var asm = typeof(WmiSchemaData).Assembly;
                string resource = "VirtualNetworks.HyperV.Simulator.Schema.wmi-" + version + ".json";
                using var stream = asm.GetManifestResourceStream(resource)
                    ?? throw new InvalidOperationException($"Embedded resource {resource} is missing from the simulator assembly.");
                var data = Parse(stream);
                if (data.Version != version) throw new InvalidOperationException($"{resource} says version '{data.Version}'.");
                return Cache[version] = data;
            }
        }

        public static WmiSchemaData Parse(Stream json)
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var source = root.GetProperty("source");
            var classes = new List<WmiClass>();
            foreach (var c in root.GetProperty("classes").EnumerateArray())
            {
                var props = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var p in c.GetProperty("properties").EnumerateObject()) props.Add(p.Name, p.Value.GetString()!);
                var methods = new Dictionary<string, WmiMethod>(StringComparer.Ordinal);
                foreach (var m in c.GetProperty("methods").EnumerateObject())
                {
                    var ps = m.Value.GetProperty("parameters").EnumerateArray()
                        .Select(p => new WmiParameter(p[0].GetString()!, p[1].GetString()!, p[2].GetString()!)).ToList();
                    methods.Add(m.Name, new WmiMethod(m.Name, m.Value.GetProperty("returns").GetString()!, ps));
                }
                var parent = c.GetProperty("parent");
                classes.Add(new WmiClass(c.GetProperty("name").GetString()!, c.GetProperty("namespace").GetString()!,
                    parent.ValueKind == JsonValueKind.Null ? null : parent.GetString(), props, methods));
            }
            return new WmiSchemaData(source.GetProperty("version").GetString()!, source.GetProperty("commit").GetString()!, classes);
        }

        /// <summary>The class named exactly <paramref name="name"/> in <paramref name="ns"/> (default root\virtualization\v2), or null.</summary>
        public WmiClass? Find(string name, string ns = V2) => _classes.TryGetValue((NormalizeNs(ns), name), out var c) ? c : null;

        /// <summary>The class and its ancestors, the class first.</summary>
        public IEnumerable<WmiClass> Lineage(WmiClass c)
        {
            for (WmiClass? x = c; x != null; x = x.Parent == null ? null : Find(x.Parent, x.Namespace)) yield return x;
        }

        /// <summary>Every property of the class, inherited ones included (the most derived declaration wins).</summary>
        public IReadOnlyDictionary<string, string> AllProperties(WmiClass c)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var x in Lineage(c)) foreach (var p in x.Properties) if (!result.ContainsKey(p.Key)) result[p.Key] = p.Value;
            return result;
        }

        /// <summary>The method as the class sees it (its own declaration or the nearest ancestor's), or null.</summary>
        public WmiMethod? FindMethod(WmiClass c, string name) =>
            Lineage(c).Select(x => x.Methods.TryGetValue(name, out var m) ? m : null).FirstOrDefault(m => m != null);

        public bool IsA(WmiClass c, string baseName) => Lineage(c).Any(x => x.Name == baseName);

        /// <summary>The classes of <paramref name="ns"/> that are <paramref name="c"/> or derive from it.</summary>
        public IEnumerable<WmiClass> SelfAndSubclasses(WmiClass c) => Classes.Where(x => x.Namespace == c.Namespace && IsA(x, c.Name));

        public static string NormalizeNs(string ns) => (ns ?? "").Replace('\\', '/').ToLowerInvariant();
    }
}
