using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace VirtualNetworks.HyperV.Cim
{
    /// <summary>
    /// A CIM instance, free of any Microsoft.Management.Infrastructure type: class, namespace, host and typed properties in
    /// declaration order. Instances read from a host are snapshots; editing one changes only the local copy (which is
    /// how Hyper-V settings are changed: fetch, edit, send back as an embedded instance).
    /// </summary>
    public sealed class CimObject
    {
        private readonly List<CimProperty> _order = new List<CimProperty>();
        private readonly Dictionary<string, int> _index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);

        public CimObject(string className, string? @namespace = null, string? host = null)
        {
            if (string.IsNullOrEmpty(className)) throw new ArgumentException("A CIM instance needs a class name.", nameof(className));
            ClassName = className;
            Namespace = string.IsNullOrEmpty(@namespace) ? CimReference.VirtualizationNamespace : @namespace!;
            Host = host ?? "";
        }

        public string ClassName { get; }
        public string Namespace { get; }
        public string Host { get; }

        public IReadOnlyList<CimProperty> Properties => _order;

        public bool Has(string name) => _index.ContainsKey(name);

        public CimProperty? Property(string name) => _index.TryGetValue(name, out var i) ? _order[i] : null;

        public object? this[string name] => Property(name)?.Value;

        /// <summary>Adds or replaces a property with an explicit type.</summary>
        public CimObject Set(string name, CimDataType type, bool isArray, object? value, bool isKey = false)
        {
            var p = new CimProperty(name, type, isArray, value, isKey);
            if (_index.TryGetValue(name, out var i)) _order[i] = p;
            else
            {
                _index[name] = _order.Count;
                _order.Add(p);
            }
            return this;
        }

        /// <summary>Changes the value of an existing property, keeping its declared type; throws when it does not exist.</summary>
        public CimObject Set(string name, object? value)
        {
            if (!_index.TryGetValue(name, out var i))
                throw new ArgumentException($"{ClassName} has no property '{name}' in this instance; use the typed overload to add one.", nameof(name));
            _order[i] = _order[i].WithValue(value);
            return this;
        }

        public CimObject Clone()
        {
            var c = new CimObject(ClassName, Namespace, Host);
            foreach (var p in _order)
            {
                c._index[p.Name] = c._order.Count;
                c._order.Add(p);
            }
            return c;
        }

        /// <summary>The reference to this instance from its key properties (InstanceID for setting data).</summary>
        public CimReference ToReference()
        {
            var keys = _order.Where(p => p.IsKey && p.Value != null).Select(p => new KeyValuePair<string, object>(p.Name, p.Value!)).ToList();
            if (keys.Count == 0)
                throw new InvalidOperationException($"This {ClassName} instance carries no key property, so it cannot be referenced.");
            return new CimReference(ClassName, keys, Namespace, Host);
        }

        // ------------------------------------------------------------------ typed reads (null when absent or null)

        public string? GetString(string name) => this[name] switch
        {
            null => null,
            string s => s,
            Array a => a.Length == 0 ? null : Convert.ToString(a.GetValue(0), CultureInfo.InvariantCulture),
            object o => Convert.ToString(o, CultureInfo.InvariantCulture),
        };

        public string[] GetStrings(string name) => this[name] switch
        {
            null => Array.Empty<string>(),
            string s => new[] { s },
            Array a => a.Cast<object?>().Select(v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "").ToArray(),
            object o => new[] { Convert.ToString(o, CultureInfo.InvariantCulture) ?? "" },
        };

        public ulong? GetUInt64(string name)
        {
            var v = this[name];
            if (v == null || v is Array) return null;
            try { return Convert.ToUInt64(v, CultureInfo.InvariantCulture); }
            catch (Exception ex) when (ex is FormatException || ex is OverflowException || ex is InvalidCastException) { return null; }
        }

        public long? GetInt64(string name)
        {
            var v = this[name];
            if (v == null || v is Array) return null;
            try { return Convert.ToInt64(v, CultureInfo.InvariantCulture); }
            catch (Exception ex) when (ex is FormatException || ex is OverflowException || ex is InvalidCastException) { return null; }
        }

        public uint? GetUInt32(string name) => GetInt64(name) is long l && l >= 0 && l <= uint.MaxValue ? (uint)l : (uint?)null;

        public ushort? GetUInt16(string name) => GetInt64(name) is long l && l >= 0 && l <= ushort.MaxValue ? (ushort)l : (ushort?)null;

        public bool? GetBoolean(string name) => this[name] switch
        {
            bool b => b,
            string s when bool.TryParse(s, out var b) => b,
            _ => null,
        };

        /// <summary>The first element of a uint16 array property (e.g. OperationalStatus), or null.</summary>
        public ushort[] GetUInt16s(string name) => this[name] switch
        {
            Array a => a.Cast<object?>().Where(v => v != null).Select(v => Convert.ToUInt16(v, CultureInfo.InvariantCulture)).ToArray(),
            null => Array.Empty<ushort>(),
            object o => new[] { Convert.ToUInt16(o, CultureInfo.InvariantCulture) },
        };

        public override string ToString() => ClassName + " {" + string.Join("; ", _order.Select(p => p.ToString())) + "}";
    }
}
