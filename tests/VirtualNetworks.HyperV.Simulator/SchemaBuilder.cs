using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>A hand-written class refinement (Schema.cs <c>Def</c>): keys, exact types, flags, documentation URL.</summary>
    internal sealed class ClassSpec
    {
        public string Name = "";
        public string? Super;
        public string Namespace = CimReference.VirtualizationNamespace;
        public bool IsAbstract, EmbeddedOnly, IsAssociation;
        public string Url = "";
        public List<SimPropertyDef> Properties = new List<SimPropertyDef>();
    }

    /// <summary>A hand-written method refinement (Schema.cs <c>Method</c>): return codes, exact types, required, embedded class.</summary>
    internal sealed class MethodSpec
    {
        public string ClassName = "";
        public string Name = "";
        public SimReturnFamily Family;
        public List<SimParameterDef> Parameters = new List<SimParameterDef>();
        public Dictionary<uint, string> Codes = new Dictionary<uint, string>();
        public bool Used;
    }

    /// <summary>
    /// Builds the simulated classes from the real schema (<see cref="WmiSchemaData"/>) and applies the hand-written
    /// refinements, refusing any that the real schema contradicts.
    /// </summary>
    internal static class SchemaBuilder
    {
        public static void Build(WmiSchemaData data, List<ClassSpec> classSpecs, List<MethodSpec> methodSpecs, Dictionary<string, SimClassDef> byName)
        {
            var errors = new List<string>();
            var specs = new Dictionary<(string, string), ClassSpec>();
            foreach (var s in classSpecs)
            {
                string ns = WmiSchemaData.NormalizeNs(s.Namespace);
                if (data.Find(s.Name, ns) == null) { errors.Add($"class {s.Name} ({s.Namespace}) is not in the real schema"); continue; }
                specs[(ns, s.Name)] = s;
            }
            var built = new Dictionary<(string, string), SimClassDef>();
            foreach (var ns in new[] { WmiSchemaData.V2, WmiSchemaData.Cimv2 })
            {
                foreach (var wc in TopologicalOrder(data, ns))
                {
                    var sup = wc.Parent == null ? null : built[(ns, wc.Parent)];
                    specs.TryGetValue((ns, wc.Name), out var spec);
                    var all = data.AllProperties(wc);
                    bool association = all.Values.Count(t => t.StartsWith("class:", StringComparison.Ordinal) && !t.EndsWith("[]", StringComparison.Ordinal)) >= 2;
                    string cimNs = ns == WmiSchemaData.V2 ? CimReference.VirtualizationNamespace : CimReference.Cimv2Namespace;
                    var c = new SimClassDef(wc.Name, sup, cimNs,
                        spec?.Url ?? HyperVSchema.DocBase + wc.Name.ToLowerInvariant().Replace('_', '-'),
                        spec?.IsAbstract ?? false, spec?.EmbeddedOnly ?? false, (spec?.IsAssociation ?? false) || association);
                    if (spec?.Super != null && !data.IsA(wc, spec.Super))
                        errors.Add($"class {wc.Name}: the hand-written superclass {spec.Super} is not an ancestor in the real schema (parent {wc.Parent ?? "none"})");

                    // properties the class declares in the real schema (an inherited, possibly refined, one is kept when compatible)
                    foreach (var p in wc.Properties)
                    {
                        var (t, arr) = Default(p.Value);
                        var inherited = c.Property(p.Key);
                        if (inherited != null && Compatible(inherited.Type, inherited.IsArray, p.Value)) continue;
                        c.AddProperty(new SimPropertyDef(p.Key, t, arr, false));
                    }
                    // hand-written refinements
                    if (spec != null)
                    {
                        foreach (var sp in spec.Properties)
                        {
                            if (!all.TryGetValue(sp.Name, out var real))
                            {
                                var near = all.Keys.FirstOrDefault(k => string.Equals(k, sp.Name, StringComparison.OrdinalIgnoreCase));
                                errors.Add($"property {wc.Name}.{sp.Name} is not in the real schema" + (near != null ? $" (it spells it {near})" : ""));
                                continue;
                            }
                            if (!Compatible(sp.Type, sp.IsArray, real))
                            {
                                errors.Add($"property {wc.Name}.{sp.Name}: hand-written {sp} contradicts the real type {real}");
                                continue;
                            }
                            c.AddProperty(sp);
                        }
                    }
                    // methods the class declares in the real schema
                    foreach (var m in wc.Methods.Values)
                    {
                        var inherited = c.Method(m.Name);
                        var family = inherited?.Family ?? SimReturnFamily.HyperV;
                        var ps = m.Parameters.Select(p =>
                        {
                            var (t, arr) = Default(p.Type);
                            var old = inherited?.Parameter(p.Name);
                            if (old != null && Compatible(old.Type, old.IsArray, p.Type) && old.IsIn == p.IsIn && old.IsOut == p.IsOut) return old;
                            return new SimParameterDef(p.Name, t, arr, p.IsIn, p.IsOut, false, null);
                        }).ToList();
                        c.AddMethod(new SimMethodDef(m.Name, family, ps, inherited?.ReturnCodes ?? HyperVSchema.CodesOf(family), inherited?.Simulated ?? false));
                    }
                    // hand-written method refinements aimed at this class or, for methods it declares itself, an ancestor
                    var lineage = data.Lineage(wc).Select(x => x.Name).ToList();
                    foreach (var ms in methodSpecs.Where(x => lineage.Contains(x.ClassName)))
                    {
                        bool own = wc.Methods.ContainsKey(ms.Name);
                        if (!(own || ms.ClassName == wc.Name)) continue;
                        var realMethod = data.FindMethod(wc, ms.Name);
                        if (realMethod == null) continue; // a subclass may declare it (checked below: every spec must apply somewhere)
                        ms.Used = true;
                        var ps = new List<SimParameterDef>();
                        foreach (var rp in realMethod.Parameters)
                        {
                            var hp = ms.Parameters.FirstOrDefault(x => x.Name == rp.Name);
                            if (hp == null) { ps.Add(c.Method(ms.Name)!.Parameter(rp.Name)!); continue; }
                            if ((hp.IsIn && !rp.IsIn) || (hp.IsOut && !rp.IsOut))
                                errors.Add($"method {wc.Name}.{ms.Name}: parameter {rp.Name} is {rp.Direction} in the real schema, hand-written {(hp.IsIn ? "in" : "out")}");
                            else if (!Compatible(hp.Type, hp.IsArray, rp.Type))
                                errors.Add($"method {wc.Name}.{ms.Name}: parameter {rp.Name} is {rp.Type} in the real schema, hand-written {CimTypes.XmlName(hp.Type)}{(hp.IsArray ? "[]" : "")}");
                            ps.Add(new SimParameterDef(rp.Name, hp.Type, hp.IsArray, rp.IsIn, rp.IsOut, hp.Required, hp.EmbeddedClass));
                        }
                        foreach (var hp in ms.Parameters.Where(x => realMethod.Parameter(x.Name) == null))
                        {
                            var near = realMethod.Parameters.FirstOrDefault(x => string.Equals(x.Name, hp.Name, StringComparison.OrdinalIgnoreCase));
                            errors.Add($"method {wc.Name}.{ms.Name}: parameter {hp.Name} is not in the real schema" + (near != null ? $" (it spells it {near.Name})" : ""));
                        }
                        c.AddMethod(new SimMethodDef(ms.Name, ms.Family, ps, ms.Codes));
                    }
                    built[(ns, wc.Name)] = c;
                    // a root\cimv2 class named like a root\virtualization\v2 one (CIM_LogicalElement, ...) stays an unnamed ancestor
                    if (!byName.ContainsKey(wc.Name)) byName[wc.Name] = c;
                }
            }
            foreach (var ms in methodSpecs.Where(x => !x.Used))
                errors.Add($"method {ms.ClassName}.{ms.Name} is not in the real schema (neither the class nor a subclass has it)");
            if (errors.Count > 0)
                throw new InvalidOperationException($"The simulator's hand-written schema contradicts the real {data.Version} schema (microsoft/wmi {data.Commit}):\n  " +
                                                    string.Join("\n  ", errors));
        }

        private static IEnumerable<WmiClass> TopologicalOrder(WmiSchemaData data, string ns)
        {
            var done = new HashSet<string>(StringComparer.Ordinal);
            var result = new List<WmiClass>();
            void Visit(WmiClass c)
            {
                if (done.Contains(c.Name)) return;
                if (c.Parent != null) Visit(data.Find(c.Parent, ns) ?? throw new InvalidOperationException($"{c.Name}: parent {c.Parent} missing from {ns}"));
                done.Add(c.Name);
                result.Add(c);
            }
            foreach (var c in data.Classes.Where(x => x.Namespace == ns)) Visit(c);
            return result;
        }

        /// <summary>The simulator's type of a real-schema type when nothing hand-written refines it.</summary>
        internal static (CimDataType Type, bool IsArray) Default(string type)
        {
            bool arr = type.EndsWith("[]", StringComparison.Ordinal);
            string b = arr ? type.Substring(0, type.Length - 2) : type;
            if (b.StartsWith("class:", StringComparison.Ordinal)) return (CimDataType.Reference, arr);
            return b switch
            {
                "enum" => (CimDataType.UInt16, arr),
                "object" => (CimDataType.Instance, arr),
                _ => CimTypes.TryParse(b, out var t) ? (t, arr) : throw new InvalidOperationException($"unknown type '{type}' in the schema data"),
            };
        }

        /// <summary>Whether a hand-written type can be what the real schema declares (wmigen loses datetime, enum widths, REF vs embedded).</summary>
        internal static bool Compatible(CimDataType t, bool isArray, string real)
        {
            bool arr = real.EndsWith("[]", StringComparison.Ordinal);
            if (arr != isArray) return false;
            string b = arr ? real.Substring(0, real.Length - 2) : real;
            if (b.StartsWith("class:", StringComparison.Ordinal)) return t == CimDataType.Reference || t == CimDataType.Instance;
            switch (b)
            {
                case "string": return t == CimDataType.String || t == CimDataType.DateTime;
                case "enum": // wmigen writes every ValueMap-qualified property as a Go int type, string ones too (VirtualSystemSubType)
                    return t == CimDataType.String || t == CimDataType.UInt8 || t == CimDataType.UInt16 || t == CimDataType.UInt32 || t == CimDataType.UInt64 ||
                           t == CimDataType.SInt8 || t == CimDataType.SInt16 || t == CimDataType.SInt32 || t == CimDataType.SInt64;
                case "object": return t == CimDataType.Instance;
                default: return CimTypes.TryParse(b, out var rt) && rt == t;
            }
        }
    }
}
