using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation.Language;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// Reads a .psd1 the way Import-PowerShellDataFile does (that cmdlet is not in the NuGet engine):
    /// parse, require a single hashtable literal, and take its value with SafeGetValue, which refuses
    /// anything but constant data.
    /// </summary>
    internal static class ManifestData
    {
        public static Hashtable Read(string path)
        {
            ScriptBlockAst ast = Parser.ParseFile(path, out _, out ParseError[] errors);
            if (errors.Length > 0)
                throw new InvalidDataException($"{path}: {string.Join("; ", errors.Select(e => $"line {e.Extent.StartLineNumber}: {e.Message}"))}");
            if (ast.ParamBlock != null || ast.BeginBlock != null || ast.ProcessBlock != null || ast.EndBlock == null ||
                ast.EndBlock.Statements.Count != 1)
                throw new InvalidDataException($"{path}: a data file must hold exactly one hashtable literal.");
            HashtableAst? table = ast.EndBlock.Statements[0].Find(a => a is HashtableAst, false) as HashtableAst;
            if (table == null || table.Parent is not CommandExpressionAst)
                throw new InvalidDataException($"{path}: the statement is not a hashtable literal.");
            object? value = table.SafeGetValue();
            return value as Hashtable ?? throw new InvalidDataException($"{path}: the value is not a hashtable.");
        }

        /// <summary>A manifest value as a list of strings (a single string counts as one element); null when absent.</summary>
        public static List<string>? Strings(Hashtable h, string key)
        {
            if (!h.ContainsKey(key)) return null;
            object? v = h[key];
            if (v == null) return new List<string>();
            if (v is string s) return new List<string> { s };
            if (v is IEnumerable e) return e.Cast<object?>().Select(x => Convert.ToString(x) ?? string.Empty).ToList();
            return new List<string> { Convert.ToString(v) ?? string.Empty };
        }
    }
}
