using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace VirtualNetworks.HyperV.Cim
{
    /// <summary>
    /// CIM intrinsic data types (DMTF DSP0004) as they appear in CIM-XML TYPE attributes. Arrays are the same type with
    /// <see cref="CimProperty.IsArray"/> set. .NET representations: bool, byte, sbyte, ushort, short, uint, int, ulong,
    /// long, float, double, char, string, string (CIM datetime text), <see cref="CimReference"/>, and one-dimensional
    /// arrays of those.
    /// </summary>
    public enum CimDataType
    {
        Boolean,
        UInt8,
        SInt8,
        UInt16,
        SInt16,
        UInt32,
        SInt32,
        UInt64,
        SInt64,
        Real32,
        Real64,
        Char16,
        String,
        DateTime,
        Reference,
        /// <summary>An embedded object passed as a <see cref="CimObject"/> (not as CIM-XML text).</summary>
        Instance,
    }

    /// <summary>Type names and .NET conversions for <see cref="CimDataType"/>.</summary>
    public static class CimTypes
    {
        private static readonly Dictionary<string, CimDataType> ByName = new Dictionary<string, CimDataType>(StringComparer.OrdinalIgnoreCase)
        {
            ["boolean"] = CimDataType.Boolean, ["uint8"] = CimDataType.UInt8, ["sint8"] = CimDataType.SInt8,
            ["uint16"] = CimDataType.UInt16, ["sint16"] = CimDataType.SInt16, ["uint32"] = CimDataType.UInt32,
            ["sint32"] = CimDataType.SInt32, ["uint64"] = CimDataType.UInt64, ["sint64"] = CimDataType.SInt64,
            ["real32"] = CimDataType.Real32, ["real64"] = CimDataType.Real64, ["char16"] = CimDataType.Char16,
            ["string"] = CimDataType.String, ["datetime"] = CimDataType.DateTime, ["reference"] = CimDataType.Reference,
        };

        /// <summary>The DSP0201 TYPE attribute value ("uint16", "string", ...).</summary>
        public static string XmlName(CimDataType type) => type switch
        {
            CimDataType.Boolean => "boolean",
            CimDataType.UInt8 => "uint8",
            CimDataType.SInt8 => "sint8",
            CimDataType.UInt16 => "uint16",
            CimDataType.SInt16 => "sint16",
            CimDataType.UInt32 => "uint32",
            CimDataType.SInt32 => "sint32",
            CimDataType.UInt64 => "uint64",
            CimDataType.SInt64 => "sint64",
            CimDataType.Real32 => "real32",
            CimDataType.Real64 => "real64",
            CimDataType.Char16 => "char16",
            CimDataType.String => "string",
            CimDataType.DateTime => "datetime",
            CimDataType.Reference => "reference",
            _ => "string",
        };

        public static bool TryParse(string name, out CimDataType type) => ByName.TryGetValue(name ?? "", out type);

        /// <summary>
        /// Converts <paramref name="value"/> (any .NET number, string, bool, reference or array of those) to the exact
        /// .NET type of <paramref name="type"/>; throws <see cref="FormatException"/> or <see cref="OverflowException"/>
        /// (wrapped as <see cref="ArgumentException"/>) when it does not fit.
        /// </summary>
        public static object? Coerce(object? value, CimDataType type, bool isArray)
        {
            if (value == null) return null;
            if (isArray)
            {
                if (value is string || !(value is System.Collections.IEnumerable items))
                    throw new ArgumentException($"expected an array of {XmlName(type)}, got {value.GetType().Name}");
                var list = items.Cast<object?>().Select(v => CoerceScalar(v, type)).ToList();
                return ToTypedArray(list, type);
            }
            return CoerceScalar(value, type);
        }

        private static object? CoerceScalar(object? value, CimDataType type)
        {
            if (value == null) return null;
            try
            {
                var inv = CultureInfo.InvariantCulture;
                switch (type)
                {
                    case CimDataType.Boolean:
                        if (value is bool b) return b;
                        if (value is string s) return bool.Parse(s.Trim());
                        throw new ArgumentException($"'{value}' is not a boolean");
                    case CimDataType.UInt8: return Convert.ToByte(value, inv);
                    case CimDataType.SInt8: return Convert.ToSByte(value, inv);
                    case CimDataType.UInt16: return Convert.ToUInt16(value, inv);
                    case CimDataType.SInt16: return Convert.ToInt16(value, inv);
                    case CimDataType.UInt32: return Convert.ToUInt32(value, inv);
                    case CimDataType.SInt32: return Convert.ToInt32(value, inv);
                    case CimDataType.UInt64: return Convert.ToUInt64(value, inv);
                    case CimDataType.SInt64: return Convert.ToInt64(value, inv);
                    case CimDataType.Real32: return Convert.ToSingle(value, inv);
                    case CimDataType.Real64: return Convert.ToDouble(value, inv);
                    case CimDataType.Char16: return Convert.ToChar(value, inv);
                    case CimDataType.String:
                    case CimDataType.DateTime:
                        if (value is string str) return str;
                        if (value is bool bb) return bb ? "TRUE" : "FALSE";
                        return Convert.ToString(value, inv);
                    case CimDataType.Reference:
                        if (value is CimReference r) return r;
                        if (value is CimObject o) return o.ToReference();
                        if (value is string path) return CimReference.Parse(path);
                        throw new ArgumentException($"'{value}' is not a reference");
                    case CimDataType.Instance:
                        if (value is CimObject io) return io;
                        throw new ArgumentException($"'{value}' is not an instance");
                }
            }
            catch (FormatException ex)
            {
                throw new ArgumentException($"'{value}' is not a valid {XmlName(type)}: {ex.Message}", ex);
            }
            catch (OverflowException ex)
            {
                throw new ArgumentException($"'{value}' is out of range for {XmlName(type)}", ex);
            }
            catch (InvalidCastException ex)
            {
                throw new ArgumentException($"'{value}' cannot be converted to {XmlName(type)}", ex);
            }
            throw new ArgumentException($"unsupported type {type}");
        }

        private static Array ToTypedArray(List<object?> items, CimDataType type)
        {
            Type element = type switch
            {
                CimDataType.Boolean => typeof(bool),
                CimDataType.UInt8 => typeof(byte),
                CimDataType.SInt8 => typeof(sbyte),
                CimDataType.UInt16 => typeof(ushort),
                CimDataType.SInt16 => typeof(short),
                CimDataType.UInt32 => typeof(uint),
                CimDataType.SInt32 => typeof(int),
                CimDataType.UInt64 => typeof(ulong),
                CimDataType.SInt64 => typeof(long),
                CimDataType.Real32 => typeof(float),
                CimDataType.Real64 => typeof(double),
                CimDataType.Char16 => typeof(char),
                CimDataType.Reference => typeof(CimReference),
                CimDataType.Instance => typeof(CimObject),
                _ => typeof(string),
            };
            var array = Array.CreateInstance(element, items.Count);
            for (int i = 0; i < items.Count; i++) array.SetValue(items[i], i);
            return array;
        }
    }

    /// <summary>One typed property value of a <see cref="CimObject"/> (or a method parameter).</summary>
    public sealed class CimProperty
    {
        public CimProperty(string name, CimDataType type, bool isArray, object? value, bool isKey = false)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("A CIM property needs a name.", nameof(name));
            Name = name;
            Type = type;
            IsArray = isArray;
            IsKey = isKey;
            Value = CimTypes.Coerce(value, type, isArray);
        }

        public string Name { get; }
        public CimDataType Type { get; }
        public bool IsArray { get; }
        /// <summary>True for key properties (they form the object's <see cref="CimReference"/>).</summary>
        public bool IsKey { get; }
        /// <summary>The value in its exact .NET type (see <see cref="CimDataType"/>), or null.</summary>
        public object? Value { get; }

        public CimProperty WithValue(object? value) => new CimProperty(Name, Type, IsArray, value, IsKey);

        public override string ToString() => Name + "=" + (Value is Array a ? "[" + string.Join(",", a.Cast<object>()) + "]" : Value);
    }

    /// <summary>An input parameter of a CIM method call.</summary>
    public sealed class CimMethodParameter
    {
        public CimMethodParameter(string name, CimDataType type, bool isArray, object? value)
        {
            Property = new CimProperty(name, type, isArray, value);
        }

        public static CimMethodParameter String(string name, string? value) => new CimMethodParameter(name, CimDataType.String, false, value);
        public static CimMethodParameter Strings(string name, IEnumerable<string>? values) => new CimMethodParameter(name, CimDataType.String, true, values?.ToArray());
        public static CimMethodParameter Reference(string name, CimReference? value) => new CimMethodParameter(name, CimDataType.Reference, false, value);
        public static CimMethodParameter References(string name, IEnumerable<CimReference> values) => new CimMethodParameter(name, CimDataType.Reference, true, values.ToArray());
        public static CimMethodParameter UInt16(string name, ushort value) => new CimMethodParameter(name, CimDataType.UInt16, false, value);
        public static CimMethodParameter UInt32s(string name, IEnumerable<uint> values) => new CimMethodParameter(name, CimDataType.UInt32, true, values.ToArray());
        public static CimMethodParameter Boolean(string name, bool value) => new CimMethodParameter(name, CimDataType.Boolean, false, value);

        internal CimProperty Property { get; }
        public string Name => Property.Name;
        public CimDataType Type => Property.Type;
        public bool IsArray => Property.IsArray;
        public object? Value => Property.Value;

        public override string ToString() => Property.ToString();
    }

    /// <summary>The outcome of a CIM method call: its return value and output parameters.</summary>
    public sealed class CimMethodResult
    {
        public CimMethodResult(uint returnValue, IDictionary<string, object?>? outParameters = null)
        {
            ReturnValue = returnValue;
            OutParameters = new Dictionary<string, object?>(outParameters ?? new Dictionary<string, object?>(), StringComparer.OrdinalIgnoreCase);
        }

        public uint ReturnValue { get; }
        /// <summary>
        /// Output parameters by name: <see cref="CimReference"/> / <see cref="CimReference"/>[] for REF outputs (often
        /// keys only: refresh them with <see cref="ICimGateway.GetInstance"/>), string / string[] for embedded-instance
        /// outputs (CIM-XML text; some providers return <see cref="CimObject"/>[] instead: accept both), and scalars.
        /// </summary>
        public IReadOnlyDictionary<string, object?> OutParameters { get; }

        public object? this[string name] => OutParameters.TryGetValue(name, out var v) ? v : null;

        public CimReference? Job => this["Job"] as CimReference;

        public override string ToString() => "ReturnValue=" + ReturnValue.ToString(CultureInfo.InvariantCulture);
    }
}
