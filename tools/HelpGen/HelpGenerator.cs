using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Xml;

namespace VirtualNetworks.HelpGen
{
    /// <summary>The outcome of a run: the files written (none when there are gaps) and every gap found.</summary>
    internal sealed class HelpGenResult
    {
        public List<string> Gaps = new List<string>();
        public List<string> Written = new List<string>();
        public int CommandCount;
        public bool Ok => Gaps.Count == 0;
    }

    /// <summary>
    /// Merges the cmdlets found in an assembly with docs/help/*.md and writes
    /// &lt;AssemblyFile&gt;-Help.xml plus about_*.help.txt. Nothing is written unless every cmdlet,
    /// section and parameter is documented (see docs/help-format.md for the rules).
    /// </summary>
    internal static class HelpGenerator
    {
        public static HelpGenResult Run(string assemblyPath, string helpDirectory, string outputDirectory)
        {
            Assembly assembly = LoadAssembly(assemblyPath);
            return Run(assembly, Path.GetFileName(assemblyPath), helpDirectory, outputDirectory);
        }

        /// <summary>Loads the cmdlet assembly; its own dependencies (VirtualNetworks.Core, ...) are resolved from its directory.</summary>
        public static Assembly LoadAssembly(string assemblyPath)
        {
            string full = Path.GetFullPath(assemblyPath);
            if (!File.Exists(full))
                throw new FileNotFoundException($"the cmdlet assembly '{full}' does not exist (build it first).");
            string dir = Path.GetDirectoryName(full)!;
            AssemblyLoadContext.Default.Resolving += (context, name) =>
            {
                string candidate = Path.Combine(dir, name.Name + ".dll");
                return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
            };
            return AssemblyLoadContext.Default.LoadFromAssemblyPath(full);
        }

        public static HelpGenResult Run(Assembly assembly, string assemblyFileName, string helpDirectory, string outputDirectory)
        {
            var result = new HelpGenResult();
            string moduleName = Path.GetFileNameWithoutExtension(assemblyFileName);
            List<CmdletModel> cmdlets = CmdletModel.FromAssembly(assembly);
            result.CommandCount = cmdlets.Count;

            bool haveDirectory = Directory.Exists(helpDirectory);
            if (!haveDirectory)
                result.Gaps.Add($"the help directory '{Path.GetFullPath(helpDirectory)}' does not exist.");
            if (cmdlets.Count == 0)
                result.Gaps.Add($"{assemblyFileName} contains no public cmdlet class; nothing to document.");

            var docs = new List<(CmdletModel Cmdlet, CommandHelpDoc Doc)>();
            var mdFiles = (haveDirectory ? Directory.GetFiles(helpDirectory, "*.md") : Array.Empty<string>())
                .Where(f => !Path.GetFileName(f).StartsWith("about_", StringComparison.OrdinalIgnoreCase))
                .ToDictionary(f => Path.GetFileNameWithoutExtension(f), StringComparer.OrdinalIgnoreCase);

            foreach (CmdletModel c in cmdlets)
            {
                if (!mdFiles.TryGetValue(c.Name, out string? md))
                {
                    result.Gaps.Add($"{c.Name}: no help file {Path.Combine(helpDirectory, c.Name + ".md")}.");
                    continue;
                }
                if (!string.Equals(Path.GetFileNameWithoutExtension(md), c.Name, StringComparison.Ordinal))
                    result.Gaps.Add($"{c.Name}: the help file is named '{Path.GetFileName(md)}'; use the exact casing '{c.Name}.md'.");
                CommandHelpDoc doc = MarkdownHelp.ParseCommand(md);
                Validate(c, doc, result.Gaps);
                docs.Add((c, doc));
            }
            foreach (string stale in mdFiles.Keys.Where(k => !cmdlets.Any(c => string.Equals(c.Name, k, StringComparison.OrdinalIgnoreCase))).OrderBy(k => k))
                result.Gaps.Add($"{Path.GetFileName(mdFiles[stale])}: documents '{stale}', which is not a cmdlet in {assemblyFileName}.");

            var abouts = new List<(string Name, string Text)>();
            string[] aboutFiles = haveDirectory ? Directory.GetFiles(helpDirectory, "about_*.md") : Array.Empty<string>();
            if (!aboutFiles.Any(f => string.Equals(Path.GetFileNameWithoutExtension(f), "about_" + moduleName, StringComparison.Ordinal)))
                result.Gaps.Add($"no about topic: {Path.Combine(helpDirectory, "about_" + moduleName + ".md")} is missing.");
            foreach (string f in aboutFiles.OrderBy(f => f, StringComparer.Ordinal))
            {
                var problems = new List<string>();
                string text = MarkdownHelp.AboutToText(f, File.ReadAllLines(f), problems);
                result.Gaps.AddRange(problems);
                abouts.Add((Path.GetFileNameWithoutExtension(f), text));
            }

            if (!result.Ok)
                return result;

            Directory.CreateDirectory(outputDirectory);
            string maml = Path.Combine(outputDirectory, assemblyFileName + "-Help.xml");
            File.WriteAllText(maml, MamlWriter.Write(docs), new UTF8Encoding(false));
            result.Written.Add(maml);
            foreach ((string name, string text) in abouts)
            {
                string path = Path.Combine(outputDirectory, name + ".help.txt");
                // With a BOM, so Windows PowerShell 5.1 reads any non-ASCII text right.
                File.WriteAllText(path, text.Replace("\n", Environment.NewLine), new UTF8Encoding(true));
                result.Written.Add(path);
            }
            return result;
        }

        /// <summary>
        /// Writes a skeleton docs/help/&lt;Verb-Noun&gt;.md for every cmdlet that has none (and the about topic
        /// when missing): all headings, every parameter, no text, so the normal run keeps failing
        /// until someone writes it. Never overwrites a file. Returns the files written.
        /// </summary>
        public static List<string> WriteSkeletons(Assembly assembly, string assemblyFileName, string helpDirectory)
        {
            var written = new List<string>();
            Directory.CreateDirectory(helpDirectory);
            foreach (CmdletModel c in CmdletModel.FromAssembly(assembly))
            {
                string path = Path.Combine(helpDirectory, c.Name + ".md");
                if (File.Exists(path)) continue;
                var sb = new StringBuilder();
                sb.Append("# ").Append(c.Name).Append("\n\n## SYNOPSIS\n\n## DESCRIPTION\n\n## EXAMPLES\n\n### Example 1: \n```powershell\n```\n\n## PARAMETERS\n");
                foreach (ParameterModel p in c.Parameters.Where(p => !p.IsShouldProcess))
                    sb.Append("\n### -").Append(p.Name).Append('\n');
                sb.Append("\n## INPUTS\n\n## OUTPUTS\n\n## NOTES\n\n## RELATED LINKS\n");
                File.WriteAllText(path, sb.ToString(), new UTF8Encoding(false));
                written.Add(path);
            }
            string about = Path.Combine(helpDirectory, "about_" + Path.GetFileNameWithoutExtension(assemblyFileName) + ".md");
            if (!File.Exists(about))
            {
                File.WriteAllText(about, "# " + Path.GetFileNameWithoutExtension(about) + "\n\n## SHORT DESCRIPTION\n\n## LONG DESCRIPTION\n", new UTF8Encoding(false));
                written.Add(about);
            }
            return written;
        }

        /// <summary>Adds one line per gap between the cmdlet and its markdown.</summary>
        internal static void Validate(CmdletModel c, CommandHelpDoc doc, List<string> gaps)
        {
            string file = Path.GetFileName(doc.Path);
            foreach (string p in doc.Problems) gaps.Add($"{c.Name}: {p}");
            if (!string.Equals(doc.Title, c.Name, StringComparison.Ordinal))
                gaps.Add($"{c.Name}: {file}: the title must be '# {c.Name}' (found '{doc.Title}').");
            if (doc.Synopsis.Count == 0)
                gaps.Add($"{c.Name}: {file}: no text under '## SYNOPSIS'.");
            if (doc.Description.Count == 0)
                gaps.Add($"{c.Name}: {file}: no text under '## DESCRIPTION'.");
            if (doc.Examples.Count == 0)
                gaps.Add($"{c.Name}: {file}: no example ('## EXAMPLES' with at least one '### Example 1: ...' holding a ```powershell block).");
            for (int i = 0; i < doc.Examples.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(doc.Examples[i].Code))
                    gaps.Add($"{c.Name}: {file}: example '{doc.Examples[i].Title}' has no code (a ```powershell block, not empty).");
                else if (doc.Examples[i].Introduction.Count > 0)
                    gaps.Add($"{c.Name}: {file}: example '{doc.Examples[i].Title}' has text before its code block; put the explanation after the code (Get-Help would glue it to the code).");
            }

            var documented = doc.Parameters.ToDictionary(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
            foreach (ParameterModel p in c.Parameters)
            {
                if (p.IsShouldProcess) continue; // WhatIf/Confirm get the standard text unless the file gives one
                if (!documented.TryGetValue(p.Name, out List<string>? text) || text.Count == 0)
                    gaps.Add($"{c.Name}: parameter -{p.Name} has no description (add '### -{p.Name}' under '## PARAMETERS' in {file}).");
            }
            foreach (KeyValuePair<string, List<string>> d in doc.Parameters)
            {
                if (CmdletModel.CommonParameters.Contains(d.Key))
                    gaps.Add($"{c.Name}: {file}: -{d.Key} is a common parameter; remove its section.");
                else if (!c.Parameters.Any(p => string.Equals(p.Name, d.Key, StringComparison.OrdinalIgnoreCase)))
                    gaps.Add($"{c.Name}: {file}: documents parameter -{d.Key}, which {c.Name} does not have.");
                else if (!c.Parameters.Any(p => string.Equals(p.Name, d.Key, StringComparison.Ordinal)))
                    gaps.Add($"{c.Name}: {file}: parameter -{d.Key} must be spelled '-{c.Parameters.First(p => string.Equals(p.Name, d.Key, StringComparison.OrdinalIgnoreCase)).Name}'.");
            }
        }
    }
}
