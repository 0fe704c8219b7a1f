using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace VirtualNetworks.HyperV.Cim
{
    /// <summary>
    /// The project's own CIM-XML (DMTF DSP0201) writer and reader for embedded instances. Hyper-V methods take settings
    /// as EmbeddedInstance strings; Microsoft's samples send DSP0201 <c>INSTANCE</c> text, which is what
    /// <see cref="Write(CimObject)"/> produces:
    /// <code>
    /// &lt;INSTANCE CLASSNAME="Msvm_VirtualSystemSettingData"&gt;
    ///   &lt;PROPERTY NAME="ElementName" TYPE="string"&gt;&lt;VALUE&gt;r1&lt;/VALUE&gt;&lt;/PROPERTY&gt;
    ///   &lt;PROPERTY.ARRAY NAME="Notes" TYPE="string"&gt;&lt;VALUE.ARRAY&gt;&lt;VALUE&gt;...&lt;/VALUE&gt;&lt;/VALUE.ARRAY&gt;&lt;/PROPERTY.ARRAY&gt;
    /// &lt;/INSTANCE&gt;
    /// </code>
    /// A property without a VALUE child is NULL. Key properties carry <c>&lt;QUALIFIER NAME="key" TYPE="boolean"&gt;</c>.
    /// Object paths inside settings (Parent, HostResource) are ordinary strings (see <see cref="CimReference.ToPath"/>).
    /// The reader accepts the same text, plus what Hyper-V returns (WMI DTD 2.0 with system properties and qualifiers,
    /// optionally wrapped in CIM/VALUE.OBJECT elements), and is what parses Msvm_Error and KVP items.
    /// </summary>
    public static class CimXml
    {
        /// <summary>Serializes one instance as a DSP0201 INSTANCE element (no XML declaration).</summary>
        public static string Write(CimObject instance)
        {
            if (instance == null) throw new ArgumentNullException(nameof(instance));
            var root = new XElement("INSTANCE", new XAttribute("CLASSNAME", instance.ClassName));
            foreach (var p in instance.Properties)
            {
                if (p.Type == CimDataType.Reference || p.Type == CimDataType.Instance)
                    throw new NotSupportedException(
                        $"{instance.ClassName}.{p.Name}: reference and object-typed properties are not written into embedded instances; " +
                        "Hyper-V settings carry object paths as strings.");
                XElement element;
                string type = CimTypes.XmlName(p.Type);
                if (p.IsArray)
                {
                    element = new XElement("PROPERTY.ARRAY", new XAttribute("NAME", p.Name), new XAttribute("TYPE", type));
                    if (p.Value is Array a)
                        element.Add(new XElement("VALUE.ARRAY", a.Cast<object?>().Select(v => new XElement("VALUE", Format(v)))));
                }
                else
                {
                    element = new XElement("PROPERTY", new XAttribute("NAME", p.Name), new XAttribute("TYPE", type));
                    if (p.Value != null) element.Add(new XElement("VALUE", Format(p.Value)));
                }
                if (p.IsKey)
                    element.AddFirst(new XElement("QUALIFIER", new XAttribute("NAME", "key"), new XAttribute("TYPE", "boolean"), new XElement("VALUE", "TRUE")));
                root.Add(element);
            }
            return root.ToString(SaveOptions.DisableFormatting);
        }

        private static string Format(object? value) => value switch
        {
            null => "",
            bool b => b ? "TRUE" : "FALSE",
            float f => f.ToString("R", CultureInfo.InvariantCulture),
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };

        /// <summary>Parses the first INSTANCE element of <paramref name="text"/>; throws <see cref="FormatException"/> on bad input.</summary>
        public static CimObject Read(string text, string? @namespace = null, string? host = null)
        {
            if (string.IsNullOrWhiteSpace(text)) throw new FormatException("An embedded instance is empty.");
            XElement doc;
            try
            {
                var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null };
                using var reader = XmlReader.Create(new System.IO.StringReader(text), settings);
                doc = XElement.Load(reader);
            }
            catch (XmlException ex)
            {
                throw new FormatException("An embedded instance is not well-formed XML: " + ex.Message, ex);
            }
            var instance = doc.Name.LocalName == "INSTANCE" ? doc : doc.Descendants("INSTANCE").FirstOrDefault();
            if (instance == null) throw new FormatException("An embedded instance has no INSTANCE element.");
            string? className = (string?)instance.Attribute("CLASSNAME");
            if (string.IsNullOrEmpty(className)) throw new FormatException("The INSTANCE element has no CLASSNAME.");
            var result = new CimObject(className!, @namespace, host);
            foreach (var element in instance.Elements())
            {
                string kind = element.Name.LocalName;
                if (kind == "QUALIFIER") continue;
                if (kind != "PROPERTY" && kind != "PROPERTY.ARRAY" && kind != "PROPERTY.REFERENCE")
                    throw new FormatException($"Unexpected element <{kind}> in INSTANCE {className}.");
                string? name = (string?)element.Attribute("NAME");
                if (string.IsNullOrEmpty(name)) throw new FormatException($"A property of {className} has no NAME.");
                if (name!.StartsWith("__", StringComparison.Ordinal)) continue; // WMI system properties (__PATH, __CLASS, ...)
                bool isKey = element.Elements("QUALIFIER").Any(q =>
                    string.Equals((string?)q.Attribute("NAME"), "key", StringComparison.OrdinalIgnoreCase) &&
                    string.Equals(q.Element("VALUE")?.Value?.Trim(), "TRUE", StringComparison.OrdinalIgnoreCase));
                if (kind == "PROPERTY.REFERENCE")
                {
                    var text2 = element.Descendants("VALUE.REFERENCE").FirstOrDefault()?.Value;
                    result.Set(name, CimDataType.String, false, text2, isKey);
                    continue;
                }
                string typeName = (string?)element.Attribute("TYPE") ?? "string";
                if (!CimTypes.TryParse(typeName, out var type))
                    throw new FormatException($"{className}.{name} has unknown TYPE '{typeName}'.");
                try
                {
                    if (kind == "PROPERTY.ARRAY")
                    {
                        var array = element.Element("VALUE.ARRAY");
                        object? value = array == null ? null : array.Elements("VALUE").Select(v => (object?)v.Value).ToList();
                        result.Set(name, type, true, value, isKey);
                    }
                    else
                    {
                        var v = element.Element("VALUE");
                        result.Set(name, type, false, v?.Value, isKey);
                    }
                }
                catch (ArgumentException ex)
                {
                    throw new FormatException($"{className}.{name}: {ex.Message}", ex);
                }
            }
            return result;
        }
    }
}
