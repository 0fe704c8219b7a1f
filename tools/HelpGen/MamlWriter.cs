using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Xml;

namespace VirtualNetworks.HelpGen
{
    /// <summary>Writes the MAML document Get-Help reads for binary cmdlets (one command:command per cmdlet).</summary>
    internal static class MamlWriter
    {
        public const string MshNs = "http://msh";
        public const string MamlNs = "http://schemas.microsoft.com/maml/2004/10";
        public const string CommandNs = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        public const string DevNs = "http://schemas.microsoft.com/maml/dev/2004/10";

        private static readonly Dictionary<string, string> StandardText = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["WhatIf"] = "Shows what would happen if the cmdlet runs. The cmdlet is not run.",
            ["Confirm"] = "Prompts you for confirmation before running the cmdlet.",
        };

        public static string Write(IEnumerable<(CmdletModel Cmdlet, CommandHelpDoc Doc)> commands)
        {
            var settings = new XmlWriterSettings
            {
                Indent = true,
                IndentChars = "  ",
                Encoding = new UTF8Encoding(false),
                NewLineChars = "\n",
            };
            var sb = new StringBuilder();
            using (var sw = new Utf8StringWriter(sb))
            using (XmlWriter w = XmlWriter.Create(sw, settings))
            {
                w.WriteStartDocument();
                w.WriteStartElement("helpItems", MshNs);
                w.WriteAttributeString("schema", "maml");
                foreach ((CmdletModel c, CommandHelpDoc d) in commands)
                    WriteCommand(w, c, d);
                w.WriteEndElement();
                w.WriteEndDocument();
            }
            return sb.ToString() + "\n";
        }

        private static void WriteCommand(XmlWriter w, CmdletModel c, CommandHelpDoc d)
        {
            w.WriteStartElement("command", "command", CommandNs);
            w.WriteAttributeString("xmlns", "maml", null, MamlNs);
            w.WriteAttributeString("xmlns", "command", null, CommandNs);
            w.WriteAttributeString("xmlns", "dev", null, DevNs);

            w.WriteStartElement("command", "details", CommandNs);
            w.WriteElementString("command", "name", CommandNs, c.Name);
            w.WriteElementString("command", "verb", CommandNs, c.Verb);
            w.WriteElementString("command", "noun", CommandNs, c.Noun);
            Description(w, d.Synopsis);
            w.WriteEndElement();

            Description(w, d.Description);

            // Syntax: one item per parameter set.
            w.WriteStartElement("command", "syntax", CommandNs);
            foreach (string set in c.ParameterSets)
            {
                w.WriteStartElement("command", "syntaxItem", CommandNs);
                w.WriteElementString("maml", "name", MamlNs, c.Name);
                foreach ((ParameterModel p, ParameterInSet s) in c.ParametersOf(set))
                    Parameter(w, p, TextOf(d, p), s.Mandatory, s.Position, Pipeline(s.ByValue, s.ByPropertyName), inSyntax: true);
                w.WriteEndElement();
            }
            w.WriteEndElement();

            // Parameters: each once, with what holds across its sets.
            w.WriteStartElement("command", "parameters", CommandNs);
            foreach (ParameterModel p in c.Parameters)
            {
                List<ParameterInSet> sets = p.Sets.Values.ToList();
                bool mandatory = sets.Count > 0 && sets.All(s => s.Mandatory);
                List<string> text = TextOf(d, p);
                if (!mandatory && sets.Any(s => s.Mandatory))
                {
                    var names = p.Sets.Where(kv => kv.Value.Mandatory).Select(kv => kv.Key);
                    text = text.Concat(new[] { "Mandatory in the parameter set(s): " + string.Join(", ", names) + "." }).ToList();
                }
                ParameterInSet primary = c.DefaultParameterSet != null && p.Sets.TryGetValue(c.DefaultParameterSet, out ParameterInSet? ds)
                    ? ds
                    : sets.FirstOrDefault() ?? new ParameterInSet();
                int position = sets.Select(s => s.Position).Distinct().Count() == 1 ? primary.Position : int.MinValue;
                Parameter(w, p, text, mandatory, position, Pipeline(sets.Any(s => s.ByValue), sets.Any(s => s.ByPropertyName)), inSyntax: false);
            }
            w.WriteEndElement();

            TypeList(w, "inputTypes", "inputType", d.Inputs, InferredInputs(c));
            TypeList(w, "returnValues", "returnValue", d.Outputs, c.OutputTypes.Count > 0 ? c.OutputTypes : new List<string> { "None" });

            if (d.Notes.Count > 0)
            {
                w.WriteStartElement("maml", "alertSet", MamlNs);
                w.WriteStartElement("maml", "alert", MamlNs);
                foreach (string para in d.Notes) w.WriteElementString("maml", "para", MamlNs, para);
                w.WriteEndElement();
                w.WriteEndElement();
            }

            w.WriteStartElement("command", "examples", CommandNs);
            int n = 0;
            foreach (ExampleDoc e in d.Examples)
            {
                n++;
                w.WriteStartElement("command", "example", CommandNs);
                w.WriteElementString("maml", "title", MamlNs, "-------------------------- " + ExampleTitle(e.Title, n) + " --------------------------");
                w.WriteElementString("dev", "code", DevNs, e.Code ?? string.Empty);
                w.WriteStartElement("dev", "remarks", DevNs);
                foreach (string para in e.Remarks) w.WriteElementString("maml", "para", MamlNs, para);
                w.WriteElementString("maml", "para", MamlNs, string.Empty); // a blank line before the next example
                w.WriteEndElement();
                w.WriteEndElement();
            }
            w.WriteEndElement();

            w.WriteStartElement("command", "relatedLinks", CommandNs);
            foreach (LinkDoc l in d.RelatedLinks)
            {
                w.WriteStartElement("maml", "navigationLink", MamlNs);
                w.WriteElementString("maml", "linkText", MamlNs, l.Text);
                w.WriteElementString("maml", "uri", MamlNs, l.Uri);
                w.WriteEndElement();
            }
            w.WriteEndElement();

            w.WriteEndElement(); // command:command
        }

        private static string ExampleTitle(string title, int n)
        {
            string t = title.Trim();
            return t.StartsWith("Example", StringComparison.OrdinalIgnoreCase) ? t : $"Example {n}: {t}";
        }

        private static List<string> TextOf(CommandHelpDoc d, ParameterModel p)
        {
            foreach (KeyValuePair<string, List<string>> kv in d.Parameters)
                if (string.Equals(kv.Key, p.Name, StringComparison.OrdinalIgnoreCase) && kv.Value.Count > 0)
                    return kv.Value;
            return StandardText.TryGetValue(p.Name, out string? std) && p.IsShouldProcess ? new List<string> { std } : new List<string>();
        }

        private static string Pipeline(bool byValue, bool byPropertyName)
        {
            if (byValue && byPropertyName) return "True (ByPropertyName, ByValue)";
            if (byValue) return "True (ByValue)";
            if (byPropertyName) return "True (ByPropertyName)";
            return "False";
        }

        private static void Parameter(XmlWriter w, ParameterModel p, List<string> text, bool required, int position, string pipeline, bool inSyntax)
        {
            bool variableLength = p.Type.IsArray;
            w.WriteStartElement("command", "parameter", CommandNs);
            w.WriteAttributeString("required", required ? "true" : "false");
            w.WriteAttributeString("variableLength", variableLength ? "true" : "false");
            w.WriteAttributeString("globbing", p.Wildcards ? "true" : "false");
            w.WriteAttributeString("pipelineInput", pipeline);
            w.WriteAttributeString("position", position == int.MinValue ? "named" : position.ToString(CultureInfo.InvariantCulture));
            w.WriteAttributeString("aliases", p.Aliases.Count == 0 ? "none" : string.Join(", ", p.Aliases));
            w.WriteElementString("maml", "name", MamlNs, p.Name);
            Description(w, text);
            if (inSyntax && p.AllowedValues.Count > 0)
            {
                w.WriteStartElement("command", "parameterValueGroup", CommandNs);
                foreach (string v in p.AllowedValues)
                {
                    w.WriteStartElement("command", "parameterValue", CommandNs);
                    w.WriteAttributeString("required", "false");
                    w.WriteAttributeString("command", "variableLength", CommandNs, "false");
                    w.WriteString(v);
                    w.WriteEndElement();
                }
                w.WriteEndElement();
            }
            if (!(inSyntax && p.IsSwitch))
            {
                w.WriteStartElement("command", "parameterValue", CommandNs);
                w.WriteAttributeString("required", p.IsSwitch ? "false" : "true");
                w.WriteAttributeString("variableLength", variableLength ? "true" : "false");
                w.WriteString(CmdletModel.ShortTypeName(p.Type));
                w.WriteEndElement();
            }
            w.WriteStartElement("dev", "type", DevNs);
            w.WriteElementString("maml", "name", MamlNs, CmdletModel.FullTypeName(p.Type));
            w.WriteElementString("maml", "uri", MamlNs, string.Empty);
            w.WriteEndElement();
            w.WriteElementString("dev", "defaultValue", DevNs, p.DefaultValue ?? (p.IsSwitch ? "False" : "None"));
            w.WriteEndElement();
        }

        private static List<string> InferredInputs(CmdletModel c)
        {
            var types = c.Parameters
                .Where(p => p.Sets.Values.Any(s => s.ByValue || s.ByPropertyName))
                .Select(p => CmdletModel.FullTypeName(p.Type))
                .Distinct()
                .ToList();
            return types.Count > 0 ? types : new List<string> { "None" };
        }

        private static void TypeList(XmlWriter w, string listName, string itemName, List<TypeDoc>? documented, List<string> inferred)
        {
            List<TypeDoc> items = documented != null && documented.Count > 0
                ? documented
                : inferred.Select(t => new TypeDoc { TypeName = t }).ToList();
            w.WriteStartElement("command", listName, CommandNs);
            foreach (TypeDoc t in items)
            {
                w.WriteStartElement("command", itemName, CommandNs);
                w.WriteStartElement("dev", "type", DevNs);
                w.WriteElementString("maml", "name", MamlNs, t.TypeName);
                w.WriteEndElement();
                Description(w, t.Description);
                w.WriteEndElement();
            }
            w.WriteEndElement();
        }

        private static void Description(XmlWriter w, IEnumerable<string> paras)
        {
            w.WriteStartElement("maml", "description", MamlNs);
            bool any = false;
            foreach (string para in paras)
            {
                w.WriteElementString("maml", "para", MamlNs, para);
                any = true;
            }
            if (!any) w.WriteElementString("maml", "para", MamlNs, string.Empty);
            w.WriteEndElement();
        }

        private sealed class Utf8StringWriter : StringWriter
        {
            public Utf8StringWriter(StringBuilder sb) : base(sb, CultureInfo.InvariantCulture) { }
            public override Encoding Encoding => new UTF8Encoding(false);
        }
    }
}
