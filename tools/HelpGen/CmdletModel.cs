using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Reflection;

namespace VirtualNetworks.HelpGen
{
    /// <summary>A parameter as one parameter set sees it.</summary>
    internal sealed class ParameterInSet
    {
        public bool Mandatory;
        public int Position = int.MinValue;
        public bool ByValue;
        public bool ByPropertyName;
        public bool RemainingArguments;
    }

    internal sealed class ParameterModel
    {
        public string Name = string.Empty;
        public Type Type = typeof(object);
        public List<string> Aliases = new List<string>();
        public bool Wildcards;
        public bool Dynamic;
        public string? DefaultValue;
        /// <summary>Values of an enum type or [ValidateSet], shown as {A | B} in the syntax.</summary>
        public List<string> AllowedValues = new List<string>();
        /// <summary>Set name to the parameter's behaviour in it; "__AllParameterSets" means every set.</summary>
        public Dictionary<string, ParameterInSet> Sets = new Dictionary<string, ParameterInSet>(StringComparer.OrdinalIgnoreCase);
        public bool IsSwitch => Type == typeof(SwitchParameter);
        /// <summary>True for WhatIf/Confirm added because the cmdlet supports ShouldProcess.</summary>
        public bool IsShouldProcess;
    }

    /// <summary>What the assembly says about one cmdlet: name, parameter sets, parameters, output types.</summary>
    internal sealed class CmdletModel
    {
        public const string AllSets = "__AllParameterSets";

        public static readonly HashSet<string> CommonParameters = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction",
            "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer",
            "PipelineVariable", "UseTransaction",
        };

        public static readonly HashSet<string> ShouldProcessParameters = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "WhatIf", "Confirm",
        };

        public string Name = string.Empty;
        public string Verb = string.Empty;
        public string Noun = string.Empty;
        public Type Type = typeof(object);
        public string? DefaultParameterSet;
        public bool SupportsShouldProcess;
        public List<ParameterModel> Parameters = new List<ParameterModel>();
        /// <summary>Parameter set names in a stable order: the default set first, then by first appearance.</summary>
        public List<string> ParameterSets = new List<string>();
        public List<string> OutputTypes = new List<string>();

        /// <summary>Every public, non-abstract Cmdlet class carrying [Cmdlet], sorted by command name.</summary>
        public static List<CmdletModel> FromAssembly(Assembly assembly)
        {
            Type[] types;
            try
            {
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException e)
            {
                string why = string.Join("; ", e.LoaderExceptions.Where(x => x != null).Select(x => x!.Message).Distinct());
                throw new InvalidOperationException($"cannot load the types of {assembly.GetName().Name}: {why}", e);
            }
            return types
                .Where(t => t.IsPublic && !t.IsAbstract && typeof(Cmdlet).IsAssignableFrom(t) && t.GetCustomAttribute<CmdletAttribute>() != null)
                .Select(FromType)
                .OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase)
                .ToList();
        }

        public static CmdletModel FromType(Type type)
        {
            CmdletAttribute attr = type.GetCustomAttribute<CmdletAttribute>()!;
            var metadata = new CommandMetadata(type);
            var model = new CmdletModel
            {
                Type = type,
                Verb = attr.VerbName,
                Noun = attr.NounName,
                Name = attr.VerbName + "-" + attr.NounName,
                DefaultParameterSet = string.IsNullOrEmpty(attr.DefaultParameterSetName) ? null : attr.DefaultParameterSetName,
                SupportsShouldProcess = attr.SupportsShouldProcess,
            };

            object? instance = null;
            try { instance = Activator.CreateInstance(type); }
            catch (Exception) { /* no defaults then */ }

            // Declaration order (CommandMetadata's dictionary does not promise one).
            var order = type.GetMembers(BindingFlags.Public | BindingFlags.Instance)
                .Select((m, i) => (m.Name, i))
                .GroupBy(x => x.Name, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.First().i, StringComparer.OrdinalIgnoreCase);

            foreach (ParameterMetadata p in metadata.Parameters.Values
                         .OrderBy(p => order.TryGetValue(p.Name, out int i) ? i : int.MaxValue))
            {
                if (CommonParameters.Contains(p.Name) || ShouldProcessParameters.Contains(p.Name))
                    continue;
                MemberInfo? member = (MemberInfo?)type.GetProperty(p.Name, BindingFlags.Public | BindingFlags.Instance)
                                     ?? type.GetField(p.Name, BindingFlags.Public | BindingFlags.Instance);
                var pm = new ParameterModel
                {
                    Name = p.Name,
                    Type = p.ParameterType,
                    Aliases = p.Aliases.ToList(),
                    Dynamic = p.IsDynamic,
                    Wildcards = member?.GetCustomAttributes(typeof(SupportsWildcardsAttribute), true).Length > 0,
                    DefaultValue = DefaultOf(member, instance, p.ParameterType),
                };
                foreach (KeyValuePair<string, ParameterSetMetadata> s in p.ParameterSets)
                {
                    pm.Sets[s.Key] = new ParameterInSet
                    {
                        Mandatory = s.Value.IsMandatory,
                        Position = s.Value.Position,
                        ByValue = s.Value.ValueFromPipeline,
                        ByPropertyName = s.Value.ValueFromPipelineByPropertyName,
                        RemainingArguments = s.Value.ValueFromRemainingArguments,
                    };
                }
                pm.AllowedValues = AllowedValuesOf(member, p.ParameterType);
                model.Parameters.Add(pm);
            }

            if (model.SupportsShouldProcess)
            {
                model.Parameters.Add(ShouldProcessParameter("WhatIf", "wi"));
                model.Parameters.Add(ShouldProcessParameter("Confirm", "cf"));
            }

            var sets = new List<string>();
            if (model.DefaultParameterSet != null) sets.Add(model.DefaultParameterSet);
            foreach (ParameterModel p in model.Parameters)
                foreach (string s in p.Sets.Keys)
                    if (s != AllSets && !sets.Contains(s, StringComparer.OrdinalIgnoreCase)) sets.Add(s);
            // A default set no parameter names explicitly still exists (all-set parameters only).
            if (sets.Count == 0) sets.Add(AllSets);
            model.ParameterSets = sets;

            foreach (OutputTypeAttribute o in type.GetCustomAttributes<OutputTypeAttribute>(true))
                foreach (PSTypeName t in o.Type)
                    if (!model.OutputTypes.Contains(t.Name)) model.OutputTypes.Add(t.Name);
            return model;
        }

        private static ParameterModel ShouldProcessParameter(string name, string alias) => new ParameterModel
        {
            Name = name,
            Type = typeof(SwitchParameter),
            Aliases = new List<string> { alias },
            IsShouldProcess = true,
            DefaultValue = "False",
            Sets = { [AllSets] = new ParameterInSet() },
        };

        /// <summary>Parameters of one set (those of every set included): positional by position, then the rest in declaration order.</summary>
        public List<(ParameterModel Parameter, ParameterInSet InSet)> ParametersOf(string set)
        {
            var list = new List<(ParameterModel, ParameterInSet)>();
            foreach (ParameterModel p in Parameters)
            {
                if (p.Sets.TryGetValue(set, out ParameterInSet? s) || p.Sets.TryGetValue(AllSets, out s))
                    list.Add((p, s!));
            }
            return list
                .Select((x, i) => (x, i))
                .OrderBy(t => t.x.Item2.Position == int.MinValue ? 1 : 0)
                .ThenBy(t => t.x.Item2.Position == int.MinValue ? t.i : t.x.Item2.Position)
                .ThenBy(t => t.x.Item1.IsShouldProcess ? 1 : 0)
                .Select(t => t.x)
                .ToList();
        }

        private static string? DefaultOf(MemberInfo? member, object? instance, Type type)
        {
            if (member == null) return null;
            var psDefault = member.GetCustomAttribute<PSDefaultValueAttribute>(true);
            if (psDefault != null)
                return psDefault.Help ?? Convert.ToString(psDefault.Value, CultureInfo.InvariantCulture);
            if (instance == null) return null;
            object? value;
            try
            {
                value = member is PropertyInfo pi ? pi.GetValue(instance) : ((FieldInfo)member).GetValue(instance);
            }
            catch (Exception)
            {
                return null;
            }
            if (value == null) return null;
            if (value is SwitchParameter sw) return sw.IsPresent ? "True" : "False";
            if (value is string str) return str.Length == 0 ? null : str;
            if (value is IEnumerable e)
            {
                if (!value.GetType().IsArray || !IsSimple(value.GetType().GetElementType()!)) return null;
                var items = e.Cast<object?>().Select(x => Convert.ToString(x, CultureInfo.InvariantCulture)).ToList();
                return items.Count == 0 ? null : string.Join(", ", items);
            }
            Type t = Nullable.GetUnderlyingType(type) ?? type;
            if (!IsSimple(value.GetType()))
                return null; // an object made by an initializer says nothing useful as text
            if (t.IsValueType && !t.IsEnum && value.Equals(Activator.CreateInstance(t)))
                return null; // 0, false, TimeSpan.Zero...: the type's own default says nothing
            return Convert.ToString(value, CultureInfo.InvariantCulture);
        }

        private static bool IsSimple(Type t) =>
            t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(Guid);

        private static List<string> AllowedValuesOf(MemberInfo? member, Type type)
        {
            var validateSet = member?.GetCustomAttribute<ValidateSetAttribute>(true);
            if (validateSet != null) return validateSet.ValidValues.ToList();
            Type t = Nullable.GetUnderlyingType(type) ?? type;
            if (t.IsArray) t = t.GetElementType()!;
            return t.IsEnum ? Enum.GetNames(t).ToList() : new List<string>();
        }

        /// <summary>Short display name: String[], Int32, Nullable types shown as their value type, generics as Name[Arg].</summary>
        public static string ShortTypeName(Type t)
        {
            Type? inner = Nullable.GetUnderlyingType(t);
            if (inner != null) return ShortTypeName(inner);
            if (t.IsArray) return ShortTypeName(t.GetElementType()!) + "[]";
            if (t.IsGenericType)
            {
                string n = t.Name;
                int tick = n.IndexOf('`');
                if (tick > 0) n = n.Substring(0, tick);
                return n + "[" + string.Join(", ", t.GetGenericArguments().Select(ShortTypeName)) + "]";
            }
            return t.Name;
        }

        /// <summary>Full display name: System.String[], System.Collections.Generic.List[System.Int32].</summary>
        public static string FullTypeName(Type t)
        {
            Type? inner = Nullable.GetUnderlyingType(t);
            if (inner != null) return FullTypeName(inner);
            if (t.IsArray) return FullTypeName(t.GetElementType()!) + "[]";
            if (t.IsGenericType)
            {
                string n = t.GetGenericTypeDefinition().FullName ?? t.Name;
                int tick = n.IndexOf('`');
                if (tick > 0) n = n.Substring(0, tick);
                return n + "[" + string.Join(", ", t.GetGenericArguments().Select(FullTypeName)) + "]";
            }
            return t.FullName ?? t.Name;
        }
    }
}
