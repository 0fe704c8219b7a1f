using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.HyperV.Simulator;
using Xunit;
using Xunit.Abstractions;

namespace VirtualNetworks.HyperV.Tests.Schema
{
    /// <summary>
    /// Every class, property, method and parameter name the backend's source uses (re-derived by
    /// <see cref="BackendSourceNames"/>) exists, spelled exactly so, in the real schema of both Windows Server versions
    /// (Schema/wmi-*.json of the simulator, from microsoft/wmi). A typo fails here, whichever code path it is on.
    /// </summary>
    public class BackendNamesTests
    {
        private readonly ITestOutputHelper _out;
        public BackendNamesTests(ITestOutputHelper output) => _out = output;

        /// <summary>Files whose identifier-shaped literals are not WMI schema names (only the Bare check skips them).</summary>
        private static readonly HashSet<string> NonSchemaFiles = new HashSet<string>(StringComparer.Ordinal)
        {
            "HyperVErrors.cs",           // error ids (HyperV*)
            "HyperVBackendOptions.cs",   // backend option names
            "Gateway/MiCimGateway.cs",   // MI session option names, protocol words
            "Cim/CimXml.cs",             // CIM-XML (DSP0201) element and attribute names
        };

        /// <summary>Identifier-shaped literals that are not WMI names, and why.</summary>
        private static readonly Dictionary<string, string> NonSchemaWords = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["New"] = "job state text", ["Starting"] = "job state text / step label", ["Running"] = "job state text", ["Suspended"] = "job state text",
            ["Completed"] = "job state / return code text", ["Terminated"] = "job state text", ["Killed"] = "job state text",
            ["Exception"] = "job state text", ["Service"] = "job state text", ["Failed"] = "return code text", ["Timeout"] = "return code text",
            ["Suspending"] = "step label", ["Resuming"] = "step label", ["IPv4"] = "Notes family value", ["IPv6"] = "Notes family value",
            ["HyperV"] = "backend name", ["VlanSettingData"] = "class-name suffix (EndsWith)", ["BandwidthSettingData"] = "class-name suffix (EndsWith)",
        };

        /// <summary>Classes the backend reads without naming them: the embedded instances in GetError/GetErrorEx's string outputs.</summary>
        private static readonly string[] ImplicitClasses = { "Msvm_Error" };

        public static IEnumerable<object[]> Versions() => WmiSchemaData.Versions.Select(v => new object[] { v });

        private static List<NameUse> AllUses()
        {
            var root = BackendSourceNames.RepositoryRoot();
            return BackendSourceNames.BackendSources(root).SelectMany(f => BackendSourceNames.Extract(f.Path, f.Text)).ToList();
        }

        [Theory]
        [MemberData(nameof(Versions))]
        public void Every_name_the_backend_uses_is_in_the_real_schema(string version)
        {
            var uses = AllUses();
            var problems = Check(WmiSchemaData.Load(version), uses);
            var distinct = uses.Where(u => u.Role != NameRole.Bare).Select(u => (u.Role, u.Name)).Distinct().ToList();
            _out.WriteLine($"{version}: {uses.Count} uses, {distinct.Count} distinct (role, name) pairs: " +
                           string.Join(", ", distinct.GroupBy(d => d.Role).Select(g => $"{g.Count()} {g.Key}")));
            foreach (var g in uses.GroupBy(u => (u.Role, u.Name, u.BoundTo)).OrderBy(g => g.Key.Role).ThenBy(g => g.Key.Name, StringComparer.Ordinal))
                _out.WriteLine($"  {g.Key.Role} {g.Key.Name}{(g.Key.BoundTo != null ? " (" + g.Key.BoundTo + ")" : "")} x{g.Count()}");
            Assert.True(problems.Count == 0, $"{problems.Count} name(s) of the backend are not in the real {version} schema:\n" + string.Join("\n", problems));
            // the extractor keeps finding what the backend uses (a lexer regression must not make this test vacuous)
            Assert.True(distinct.Count(d => d.Role == NameRole.Class) >= 20, "classes found: " + distinct.Count(d => d.Role == NameRole.Class));
            Assert.True(distinct.Count(d => d.Role == NameRole.Property) >= 50, "properties found: " + distinct.Count(d => d.Role == NameRole.Property));
            Assert.True(distinct.Count(d => d.Role == NameRole.Method) >= 15, "methods found: " + distinct.Count(d => d.Role == NameRole.Method));
            Assert.True(distinct.Count(d => d.Role == NameRole.InParameter) >= 15, "parameters found: " + distinct.Count(d => d.Role == NameRole.InParameter));
            Assert.Contains(uses, u => u.Role == NameRole.InParameter && u.Name == "AffectedConfiguration" && u.BoundTo == "AddFeatureSettings");
            Assert.Contains(uses, u => u.Role == NameRole.Property && u.Name == "VirtualSystemSubType" && u.BoundTo == "Msvm_VirtualSystemSettingData");
            Assert.Contains(uses, u => u.Role == NameRole.Property && u.Name == "SystemName" && u.BoundTo == "Msvm_ShutdownComponent");
        }

        [Fact]
        public void A_misspelled_name_in_any_position_is_caught()
        {
            const string source = @"
class X {
    void F(HyperVHost host, HostOp op, CimReference vm, CancellationToken ct) {
        var vsms = host.Singleton(op, ""Msvm_VirtualSystemManagementService"", ct);
        var vssd = new CimObject(""Msvm_VirtualSystemSettingData"")
            .Set(""ElementName"", CimDataType.String, false, ""r1"")
            .Set(""SecureBootEnabld"", CimDataType.Boolean, false, false);       // property of a chain
        host.Invoke(op, $""DefineSystem {vm}"", vm, ""DefineSystem"", ct, new[] {
            CimMethodParameter.String(""SystemSetings"", CimXml.Write(vssd)),  // parameter of DefineSystem
        });
        host.Invoke(op, ""step"", vm, ""RequestStateChang"", ct, Array.Empty<CimMethodParameter>()); // method
        var rows = host.Query(op, ""SELECT * FROM Msvm_ComputerSytem WHERE Name = '"" + x + ""'"", ct); // class in WQL
        var c = host.Query(op, ""SELECT * FROM Msvm_ShutdownComponent WHERE SystemNam = '"" + x + ""'"", ct); // WQL condition
        var n = rows[0].GetString(""ElementNam"");                           // property read
        var r = host.Resulting(op, ""step"", res, ""ResultingSystm"", ""Msvm_ComputerSystem"", ct); // out parameter
        var label = $""{(a ? ""AddKvpItms"" : ""x"")}"";                       // bare literal inside an interpolation hole
    }
}";
            var uses = BackendSourceNames.Extract("Sample.cs", source);
            var problems = Check(WmiSchemaData.Load("server2019"), uses);
            foreach (var typo in new[] { "SecureBootEnabld", "SystemSetings", "RequestStateChang", "Msvm_ComputerSytem", "SystemNam", "ElementNam", "ResultingSystm", "AddKvpItms" })
                Assert.Contains(problems, p => p.Contains(" " + typo + " (at", StringComparison.Ordinal) || p.Contains("'" + typo + "' (at", StringComparison.Ordinal));
            Assert.True(problems.Count == 8, string.Join("\n", problems));
            Assert.Contains(uses, u => u.Role == NameRole.Property && u.Name == "SecureBootEnabld" && u.BoundTo == "Msvm_VirtualSystemSettingData");
            Assert.Contains(uses, u => u.Role == NameRole.InParameter && u.Name == "SystemSetings" && u.BoundTo == "DefineSystem");
        }

        /// <summary>Every problem, one line each (empty = all names real).</summary>
        internal static List<string> Check(WmiSchemaData data, List<NameUse> uses)
        {
            var problems = new List<string>();
            WmiClass? FindClass(string name) => data.Find(name, WmiSchemaData.V2) ?? data.Find(name, WmiSchemaData.Cimv2);

            // the classes the backend names, those it reads implicitly, and every subclass (queries and associations are polymorphic)
            var named = new HashSet<WmiClass>();
            foreach (var u in uses.Where(u => u.Role == NameRole.Class))
            {
                var c = FindClass(u.Name);
                if (c == null) problems.Add($"class {u.Name} (at {u.File}:{u.Line}) is not in the real schema{Near(data.Classes.Select(x => x.Name), u.Name)}");
                else named.Add(c);
            }
            foreach (var n in ImplicitClasses) named.Add(FindClass(n) ?? throw new InvalidOperationException(n));
            var methodUses = uses.Where(u => u.Role == NameRole.Method).ToList();
            var invoked = new List<(WmiClass Class, WmiMethod Method)>();
            void AddInvoked()
            {
                invoked.Clear();
                var used = named.SelectMany(data.SelfAndSubclasses).Distinct().ToList();
                foreach (var name in methodUses.Select(u => u.Name).Distinct())
                    foreach (var c in used)
                        if (data.FindMethod(c, name) is WmiMethod m) invoked.Add((c, m));
            }
            AddInvoked();
            // the class types of the invoked methods' outputs (Job → CIM_ConcreteJob and its subclasses) are read too
            foreach (var (_, m) in invoked.ToList())
                foreach (var p in m.Parameters.Where(p => p.IsOut && p.Type.StartsWith("class:", StringComparison.Ordinal)))
                    if (FindClass(p.Type.Substring(6).TrimEnd('[', ']')) is WmiClass oc) named.Add(oc);
            AddInvoked();
            var usedClasses = named.SelectMany(data.SelfAndSubclasses).Distinct().ToList();
            var properties = new HashSet<string>(usedClasses.SelectMany(c => data.AllProperties(c).Keys), StringComparer.Ordinal);
            var outs = new HashSet<string>(invoked.SelectMany(x => x.Method.Parameters).Where(p => p.IsOut).Select(p => p.Name), StringComparer.Ordinal);
            var ins = new HashSet<string>(invoked.SelectMany(x => x.Method.Parameters).Where(p => p.IsIn).Select(p => p.Name), StringComparer.Ordinal);
            var everything = new HashSet<string>(data.Classes.SelectMany(c =>
                new[] { c.Name }.Concat(c.Properties.Keys).Concat(c.Methods.Keys).Concat(c.Methods.Values.SelectMany(m => m.Parameters.Select(p => p.Name)))), StringComparer.Ordinal);

            foreach (var u in uses)
            {
                string at = $"(at {u.File}:{u.Line})";
                switch (u.Role)
                {
                    case NameRole.Method:
                        if (!invoked.Any(x => x.Method.Name == u.Name))
                            problems.Add($"method {u.Name} {at} is on none of the classes the backend uses{Near(invoked.Select(x => x.Method.Name).Concat(usedClasses.SelectMany(c => c.Methods.Keys)), u.Name)}");
                        break;
                    case NameRole.Property when u.BoundTo != null:
                        if (FindClass(u.BoundTo) is WmiClass bc && !data.AllProperties(bc).ContainsKey(u.Name))
                            problems.Add($"property {u.Name} {at} is not a property of {u.BoundTo}{Near(data.AllProperties(bc).Keys, u.Name)}");
                        break;
                    case NameRole.Property:
                        if (!properties.Contains(u.Name))
                            problems.Add($"property {u.Name} {at} is on none of the classes the backend uses{Near(properties, u.Name)}");
                        break;
                    case NameRole.InParameter when u.BoundTo != null:
                        var of = invoked.Where(x => x.Method.Name == u.BoundTo).ToList();
                        if (of.Count == 0 ? !ins.Contains(u.Name) : !of.Any(x => x.Method.Parameter(u.Name)?.IsIn == true))
                            problems.Add($"parameter {u.Name} {at} is no input of {u.BoundTo}{Near(of.SelectMany(x => x.Method.Parameters).Where(p => p.IsIn).Select(p => p.Name), u.Name)}");
                        break;
                    case NameRole.InParameter:
                        if (!ins.Contains(u.Name)) problems.Add($"parameter {u.Name} {at} is no input of any method the backend invokes{Near(ins, u.Name)}");
                        break;
                    case NameRole.OutParameter:
                        if (!outs.Contains(u.Name)) problems.Add($"parameter {u.Name} {at} is no output of any method the backend invokes{Near(outs, u.Name)}");
                        break;
                    case NameRole.PropertyOrOutParameter:
                        if (!outs.Contains(u.Name) && !properties.Contains(u.Name))
                            problems.Add($"name {u.Name} {at} is neither an output of an invoked method nor a property of a used class{Near(outs.Concat(properties), u.Name)}");
                        break;
                    case NameRole.Bare:
                        if (NonSchemaFiles.Contains(u.File) || NonSchemaWords.ContainsKey(u.Name) || everything.Contains(u.Name)) break;
                        problems.Add($"literal '{u.Name}' {at} is no name in the real schema and no listed non-schema word{Near(everything, u.Name)}");
                        break;
                }
            }
            return problems.Distinct().ToList();
        }

        /// <summary>" (did you mean X?)" for the closest real name, when there is a close one.</summary>
        private static string Near(IEnumerable<string> candidates, string name)
        {
            var best = candidates.Distinct().Select(c => (c, d: Distance(c.ToLowerInvariant(), name.ToLowerInvariant()))).OrderBy(x => x.d).FirstOrDefault();
            return best.c != null && best.d <= Math.Max(2, name.Length / 4) ? $" (did you mean {best.c}?)" : "";
        }

        private static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
                for (int j = 1; j <= b.Length; j++)
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            return d[a.Length, b.Length];
        }
    }
}
