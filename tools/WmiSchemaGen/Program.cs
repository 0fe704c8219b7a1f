using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace VirtualNetworks.WmiSchemaGen
{
    /// <summary>
    /// Derives the facts of a WMI schema (classes, parents, typed properties, methods with parameter directions and
    /// types) from microsoft/wmi's wmigen output and writes them as compact JSON. Only facts carry over: no code, no
    /// prose. Command line:
    /// <code>
    /// WmiSchemaGen --source DIR --version server2019 --commit SHA --out FILE [--cimv2-class CIM_DataFile ...]
    /// </code>
    /// DIR is an extracted tree of microsoft/wmi (at least &lt;version&gt;/root/virtualization/v2 and
    /// &lt;version&gt;/root/cimv2). Every class of root\virtualization\v2 is written except WMI system classes
    /// (<c>__*</c>, unless a written class derives from one); of root\cimv2 only the named classes and their ancestors.
    /// </summary>
    /// <remarks>
    /// How wmigen encodes a class (one Go file per class): <c>type X struct { *Parent; Prop GoType; ... }</c> (the root
    /// embeds <c>*cim.WmiInstance</c>); a method is a Go method whose body calls <c>InvokeMethod*("Name", ...)</c>, its
    /// parameters marked <c>/* IN */</c>, <c>/* OUT */</c> or <c>/* IN/OUT */</c> (the <c>/*Custom IN*/</c> ones are
    /// wmigen's own job-waiting arguments, not WMI parameters), its return type in a
    /// <c>&lt;param name="ReturnValue" type="..."&gt;</c> comment. Types, as written: Go <c>string</c> (CIM string or
    /// datetime: wmigen does not tell them apart), <c>bool</c>, <c>uint8..uint64</c>, <c>int8..int64</c> (sint*),
    /// <c>float32/64</c> (real*), a class name (a REF or an embedded instance of that class), <c>interface{}</c> (an
    /// untyped embedded object), or a ValueMap enumeration type declared <c>type E int</c> whatever the CIM type (an
    /// integer of any width, or a string with a ValueMap such as VirtualSystemSubType: written "enum"). <c>[]T</c> is an array.
    /// </remarks>
    internal static class Program
    {
        private const string V2 = "root/virtualization/v2";
        private const string Cimv2 = "root/cimv2";

        private static int Main(string[] args)
        {
            try
            {
                string? source = null, version = null, commit = null, output = null;
                var cimv2Roots = new List<string>();
                for (int i = 0; i < args.Length; i++)
                {
                    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
                    switch (args[i])
                    {
                        case "--source": source = Next(); break;
                        case "--version": version = Next(); break;
                        case "--commit": commit = Next(); break;
                        case "--out": output = Next(); break;
                        case "--cimv2-class": cimv2Roots.Add(Next()); break;
                        default: throw new ArgumentException("unknown argument " + args[i]);
                    }
                }
                if (source == null || version == null || commit == null || output == null)
                    throw new ArgumentException("usage: WmiSchemaGen --source DIR --version NAME --commit SHA --out FILE [--cimv2-class CLASS ...]");
                if (!Regex.IsMatch(commit, "^[0-9a-f]{40}$")) throw new ArgumentException("--commit must be a full 40-digit commit hash");
                if (!Regex.IsMatch(version, "^[a-z0-9]+$")) throw new ArgumentException("--version must be a directory name such as server2019");
                if (cimv2Roots.Count == 0) cimv2Roots.Add("CIM_DataFile");

                var v2 = GoPackage.Load(Path.Combine(source, version, "root", "virtualization", "v2"));
                var cimv2 = GoPackage.Load(Path.Combine(source, version, "root", "cimv2"));
                var classes = new List<(string Ns, GoClass Class)>();
                foreach (var c in Closure(v2, v2.Classes.Keys.Where(n => !n.StartsWith("__", StringComparison.Ordinal))))
                    classes.Add((V2, c));
                foreach (var c in Closure(cimv2, cimv2Roots)) classes.Add((Cimv2, c));

                var json = Write(version, commit, classes);
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
                File.WriteAllText(output, json, new UTF8Encoding(false));
                Console.WriteLine($"WmiSchemaGen: {version}: {classes.Count} classes, {classes.Sum(c => c.Class.Properties.Count)} properties, " +
                                  $"{classes.Sum(c => c.Class.Methods.Count)} methods -> {output}");
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException || ex is FormatException || ex is IOException)
            {
                Console.Error.WriteLine("WmiSchemaGen: " + ex.Message);
                return 1;
            }
        }

        /// <summary>The named classes and all their ancestors, parents first, then by name.</summary>
        private static IEnumerable<GoClass> Closure(GoPackage package, IEnumerable<string> roots)
        {
            var wanted = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var root in roots)
            {
                for (string? n = root; n != null; n = package.Class(n).Parent)
                    if (!wanted.Add(n)) break;
            }
            return wanted.Select(package.Class);
        }

        private static string Write(string version, string commit, List<(string Ns, GoClass Class)> classes)
        {
            var sb = new StringBuilder();
            sb.Append("{\n");
            sb.Append("  \"format\": \"virtualnetworks-wmi-schema/1\",\n");
            sb.Append("  \"generator\": \"tools/WmiSchemaGen\",\n");
            sb.Append("  \"source\": { \"repository\": \"https://github.com/microsoft/wmi\", \"commit\": ").Append(Q(commit))
              .Append(", \"version\": ").Append(Q(version)).Append(", \"license\": \"MIT\" },\n");
            sb.Append("  \"types\": \"string (CIM string or datetime), boolean, uint8..uint64, sint8..sint64, real32, real64, enum (ValueMap-qualified: an integer of unrecorded width, or a string), " +
                      "class:NAME (REF or embedded instance of NAME), object (untyped embedded object); suffix [] = array\",\n");
            sb.Append("  \"classes\": [\n");
            for (int i = 0; i < classes.Count; i++)
            {
                var (ns, c) = classes[i];
                sb.Append("    { \"name\": ").Append(Q(c.Name)).Append(", \"namespace\": ").Append(Q(ns))
                  .Append(", \"parent\": ").Append(c.Parent == null ? "null" : Q(c.Parent));
                sb.Append(", \"properties\": {");
                sb.Append(string.Join(", ", c.Properties.Select(p => Q(p.Name) + ": " + Q(p.Type))));
                sb.Append("}, \"methods\": {");
                sb.Append(string.Join(", ", c.Methods.Select(m =>
                    Q(m.Name) + ": { \"returns\": " + Q(m.ReturnType) + ", \"parameters\": [" +
                    string.Join(", ", m.Parameters.Select(p => "[" + Q(p.Direction) + ", " + Q(p.Name) + ", " + Q(p.Type) + "]")) + "] }")));
                sb.Append("} }").Append(i + 1 < classes.Count ? ",\n" : "\n");
            }
            sb.Append("  ]\n}\n");
            return sb.ToString();
        }

        private static string Q(string s)
        {
            var sb = new StringBuilder("\"");
            foreach (var ch in s)
            {
                if (ch == '"' || ch == '\\') sb.Append('\\').Append(ch);
                else if (ch < 0x20) sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                else sb.Append(ch);
            }
            return sb.Append('"').ToString();
        }
    }

    internal sealed class GoProperty
    {
        public string Name = "";
        public string Type = "";
    }

    internal sealed class GoParameter
    {
        public string Direction = "";
        public string Name = "";
        public string Type = "";
    }

    internal sealed class GoMethod
    {
        public string Name = "";
        public string ReturnType = "uint32";
        public List<GoParameter> Parameters = new List<GoParameter>();
    }

    internal sealed class GoClass
    {
        public string Name = "";
        public string? Parent;
        public List<GoProperty> Properties = new List<GoProperty>();
        public List<GoMethod> Methods = new List<GoMethod>();
        /// <summary>Raw Go types, resolved once the whole package is read.</summary>
        public List<(GoProperty Property, string GoType)> RawProperties = new List<(GoProperty, string)>();
        public List<(GoParameter Parameter, string GoType)> RawParameters = new List<(GoParameter, string)>();
    }

    /// <summary>One Go package of wmigen output (one WMI namespace).</summary>
    internal sealed class GoPackage
    {
        private static readonly Regex StructStart = new Regex(@"^type (\w+) struct \{\s*$", RegexOptions.Multiline);
        private static readonly Regex EnumType = new Regex(@"^type (\w+) int\s*$", RegexOptions.Multiline);
        private static readonly Regex Field = new Regex(@"^\t(\w+) (\S+)\s*$");
        private static readonly Regex Embedded = new Regex(@"^\t\*(?:(\w+)\.)?(\w+)\s*$");
        private static readonly Regex FuncStart = new Regex(@"^func \(instance \*(\w+)\) (\w+)\(", RegexOptions.Multiline);
        private static readonly Regex Param = new Regex(@"/\*\s*(IN|OUT|IN/OUT|OPTIONAL IN)\s*\*/\s*(\w+)\s+([^,)\s]+)");
        private static readonly Regex AnyMarker = new Regex(@"/\*\s*([^*]*?)\s*\*/\s*\w+\s");
        private static readonly Regex Invoke = new Regex(@"instance\.InvokeMethod\w*\(""(\w+)""");
        private static readonly Regex ReturnDoc = new Regex(@"<param name=""ReturnValue"" type=""(\S+) ?"">");

        public Dictionary<string, GoClass> Classes { get; } = new Dictionary<string, GoClass>(StringComparer.Ordinal);
        private readonly HashSet<string> _enums = new HashSet<string>(StringComparer.Ordinal);
        public string Directory { get; }

        private GoPackage(string directory) => Directory = directory;

        public GoClass Class(string name) => Classes.TryGetValue(name, out var c) ? c
            : throw new FormatException($"class {name} is not defined in {Directory}");

        public static GoPackage Load(string directory)
        {
            if (!System.IO.Directory.Exists(directory)) throw new IOException("no such directory: " + directory);
            var package = new GoPackage(directory);
            foreach (var file in System.IO.Directory.GetFiles(directory, "*.go").OrderBy(f => f, StringComparer.Ordinal))
                package.ReadFile(file, File.ReadAllText(file).Replace("\r\n", "\n"));
            foreach (var c in package.Classes.Values)
            {
                foreach (var (p, t) in c.RawProperties) p.Type = package.MapType(t, c.Name + "." + p.Name);
                foreach (var (p, t) in c.RawParameters) p.Type = package.MapType(t, c.Name + " parameter " + p.Name);
                if (c.Parent != null && !package.Classes.ContainsKey(c.Parent))
                    throw new FormatException($"{c.Name}: parent {c.Parent} is not defined in {directory}");
            }
            return package;
        }

        private void ReadFile(string file, string text)
        {
            foreach (Match m in EnumType.Matches(text)) _enums.Add(m.Groups[1].Value);
            var s = StructStart.Match(text);
            if (!s.Success) return;
            var cls = new GoClass { Name = s.Groups[1].Value };
            if (Classes.ContainsKey(cls.Name)) throw new FormatException($"class {cls.Name} defined twice ({file})");
            int end = text.IndexOf("\n}\n", s.Index, StringComparison.Ordinal);
            if (end < 0) throw new FormatException("unterminated struct in " + file);
            foreach (var line in text.Substring(s.Index + s.Length, end - s.Index - s.Length).Split('\n'))
            {
                if (line.Trim().Length == 0 || line.TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
                var e = Embedded.Match(line);
                if (e.Success)
                {
                    if (cls.Parent != null || cls.Properties.Count > 0) throw new FormatException($"{cls.Name}: unexpected embedded type ({file})");
                    bool root = e.Groups[1].Value == "cim" && e.Groups[2].Value == "WmiInstance";
                    cls.Parent = root ? null : e.Groups[2].Value;
                    continue;
                }
                var f = Field.Match(line);
                if (!f.Success) throw new FormatException($"{cls.Name}: cannot read struct line '{line.Trim()}' ({file})");
                var p = new GoProperty { Name = f.Groups[1].Value };
                cls.Properties.Add(p);
                cls.RawProperties.Add((p, f.Groups[2].Value));
            }
            // methods: a Go method of the class whose body invokes a WMI method
            var funcs = FuncStart.Matches(text).Cast<Match>().Where(m => m.Groups[1].Value == cls.Name).ToList();
            for (int i = 0; i < funcs.Count; i++)
            {
                int start = funcs[i].Index;
                int stop = i + 1 < funcs.Count ? funcs[i + 1].Index : text.Length;
                int bodyStart = text.IndexOf(") {\n", start, StringComparison.Ordinal);
                if (bodyStart < 0 || bodyStart > stop) continue;
                string body = text.Substring(bodyStart, stop - bodyStart);
                var inv = Invoke.Match(body);
                if (!inv.Success) continue;
                string signature = text.Substring(start, bodyStart - start);
                // the doc comment block right above the func
                int docStart = text.LastIndexOf("\n\n", Math.Max(0, start - 2), StringComparison.Ordinal);
                string doc = docStart >= 0 ? text.Substring(docStart, start - docStart) : "";
                var method = new GoMethod { Name = inv.Groups[1].Value };
                var rd = ReturnDoc.Match(doc);
                if (rd.Success) method.ReturnType = MapType(rd.Groups[1].Value.Trim(), cls.Name + "." + method.Name + " return");
                foreach (Match am in AnyMarker.Matches(signature))
                {
                    var marker = am.Groups[1].Value;
                    if (marker != "IN" && marker != "OUT" && marker != "IN/OUT" && marker != "OPTIONAL IN" && marker != "Custom IN" && marker != "Custon IN")
                        throw new FormatException($"{cls.Name}.{method.Name}: unknown parameter marker '/* {marker} */' ({file})");
                }
                foreach (Match pm in Param.Matches(signature))
                {
                    var p = new GoParameter
                    {
                        Direction = pm.Groups[1].Value switch { "IN" => "in", "OPTIONAL IN" => "in", "OUT" => "out", _ => "inout" },
                        Name = pm.Groups[2].Value,
                    };
                    method.Parameters.Add(p);
                    cls.RawParameters.Add((p, pm.Groups[3].Value));
                }
                if (cls.Methods.Any(x => x.Name == method.Name)) throw new FormatException($"{cls.Name}.{method.Name} defined twice ({file})");
                cls.Methods.Add(method);
            }
            Classes[cls.Name] = cls;
        }

        private string MapType(string go, string what)
        {
            bool array = go.StartsWith("[]", StringComparison.Ordinal);
            string t = array ? go.Substring(2) : go;
            string? mapped = t switch
            {
                "string" => "string",
                "bool" => "boolean",
                "uint8" or "byte" => "uint8",
                "uint16" => "uint16",
                "uint32" => "uint32",
                "uint64" => "uint64",
                "int8" => "sint8",
                "int16" => "sint16",
                "int32" => "sint32",
                "int64" => "sint64",
                "float32" => "real32",
                "float64" => "real64",
                "interface{}" => "object",
                _ => null,
            };
            if (mapped == null)
            {
                string bare = t.Contains('.') ? t.Substring(t.LastIndexOf('.') + 1) : t;
                if (_enums.Contains(t)) mapped = "enum";
                else if (Regex.IsMatch(bare, @"^(__)?[A-Za-z]+_\w+$") && !t.Contains(".") && Classes.ContainsKey(bare)) mapped = "class:" + bare;
                else if (t.Contains('.') && Regex.IsMatch(bare, @"^[A-Za-z]+_\w+$")) mapped = "class:" + bare; // another namespace's class
                else if (Regex.IsMatch(bare, @"^(__|Win32_|CIM_|Msvm_|MSFT_)\w+$")) mapped = "class:" + bare; // a class of another namespace
                else throw new FormatException($"{what}: unknown Go type '{go}' in {Directory}");
            }
            return mapped + (array ? "[]" : "");
        }
    }
}
