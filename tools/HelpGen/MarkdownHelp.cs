using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace VirtualNetworks.HelpGen
{
    /// <summary>One example: title, the code of its first fenced block, text before it and remarks after it.</summary>
    internal sealed class ExampleDoc
    {
        public string Title = string.Empty;
        public string? Code;
        public List<string> Introduction = new List<string>();
        public List<string> Remarks = new List<string>();
    }

    /// <summary>An INPUTS or OUTPUTS entry: a type name and what it means.</summary>
    internal sealed class TypeDoc
    {
        public string TypeName = string.Empty;
        public List<string> Description = new List<string>();
    }

    internal sealed class LinkDoc
    {
        public string Text = string.Empty;
        public string Uri = string.Empty;
    }

    /// <summary>The parsed content of docs/help/&lt;Verb-Noun&gt;.md (format: docs/help-format.md).</summary>
    internal sealed class CommandHelpDoc
    {
        public string Path = string.Empty;
        public string Title = string.Empty;
        public List<string> Synopsis = new List<string>();
        public List<string> Description = new List<string>();
        public List<ExampleDoc> Examples = new List<ExampleDoc>();
        /// <summary>Parameter name (without the dash) to its paragraphs, in file order.</summary>
        public List<KeyValuePair<string, List<string>>> Parameters = new List<KeyValuePair<string, List<string>>>();
        public List<TypeDoc>? Inputs;
        public List<TypeDoc>? Outputs;
        public List<string> Notes = new List<string>();
        public List<LinkDoc> RelatedLinks = new List<LinkDoc>();
        public HashSet<string> SectionsSeen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        /// <summary>Problems found while parsing (unknown sections, duplicates...), each a full sentence.</summary>
        public List<string> Problems = new List<string>();
    }

    /// <summary>A heading-structured markdown file: lines, with fenced code blocks kept intact.</summary>
    internal static class MarkdownHelp
    {
        public static readonly string[] KnownSections =
        {
            "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS",
        };

        private static readonly Regex Fence = new Regex(@"^\s*(```|~~~)");
        private static readonly Regex Heading = new Regex(@"^(#{1,6})\s+(.*?)\s*#*\s*$");
        private static readonly Regex ListItem = new Regex(@"^\s*([-*+]|\d+[.)])\s+");
        private static readonly Regex MarkdownLink = new Regex(@"^\[(?<text>[^\]]*)\]\((?<uri>[^)]*)\)\s*$");

        /// <summary>A section of a file: heading level, heading text, body lines, line number of the heading.</summary>
        internal sealed class Section
        {
            public int Level;
            public string Title = string.Empty;
            public int Line;
            public List<string> Body = new List<string>();
        }

        /// <summary>Splits a file into sections at every heading outside code fences (level 0 = text before the first heading).</summary>
        public static List<Section> Split(IEnumerable<string> lines)
        {
            var sections = new List<Section> { new Section { Level = 0, Line = 0 } };
            bool inFence = false;
            string fence = string.Empty;
            int n = 0;
            foreach (string raw in lines)
            {
                n++;
                string line = raw.TrimEnd('\r');
                Match f = Fence.Match(line);
                if (f.Success)
                {
                    if (!inFence) { inFence = true; fence = f.Groups[1].Value; }
                    else if (IsClosingFence(line, fence)) inFence = false;
                    sections[sections.Count - 1].Body.Add(line);
                    continue;
                }
                Match h = inFence ? Match.Empty : Heading.Match(line);
                if (h.Success)
                {
                    sections.Add(new Section { Level = h.Groups[1].Value.Length, Title = h.Groups[2].Value.Trim(), Line = n });
                    continue;
                }
                sections[sections.Count - 1].Body.Add(line);
            }
            return sections;
        }

        /// <summary>
        /// Turns body lines into paragraphs: consecutive text lines join with single spaces; a blank
        /// line ends a paragraph; each list item is its own paragraph (kept with its marker); a fenced
        /// code block becomes one paragraph with its lines kept (fence lines dropped).
        /// </summary>
        public static List<string> Paragraphs(IEnumerable<string> body)
        {
            var paras = new List<string>();
            var current = new StringBuilder();
            List<string>? code = null;
            string fence = string.Empty;

            void Flush()
            {
                if (current.Length > 0) paras.Add(current.ToString());
                current.Clear();
            }

            void FlushCode()
            {
                string text = string.Join("\n", code!).Trim('\n');
                if (text.Length > 0) paras.Add(text);
                code = null;
            }

            foreach (string raw in body)
            {
                string line = raw.TrimEnd();
                Match f = Fence.Match(line);
                if (code != null)
                {
                    if (IsClosingFence(line, fence)) FlushCode();
                    else code.Add(line);
                    continue;
                }
                if (f.Success)
                {
                    Flush();
                    code = new List<string>();
                    fence = f.Groups[1].Value;
                    continue;
                }
                if (line.Trim().Length == 0)
                {
                    Flush();
                    continue;
                }
                if (ListItem.IsMatch(line))
                {
                    Flush();
                    current.Append(line.Trim());
                    continue;
                }
                if (current.Length > 0) current.Append(' ');
                current.Append(line.Trim());
            }
            Flush();
            if (code != null) FlushCode();
            return paras;
        }

        private static bool IsClosingFence(string line, string fence)
        {
            string t = line.Trim();
            return t.Length >= fence.Length && t.Trim(fence[0]).Length == 0;
        }

        /// <summary>Splits body lines into (text before first fenced block, first block's code, text after it).</summary>
        public static (List<string> Before, string? Code, List<string> After) SplitFirstCodeBlock(List<string> body)
        {
            int start = -1, end = -1;
            string fence = string.Empty;
            for (int i = 0; i < body.Count; i++)
            {
                Match f = Fence.Match(body[i]);
                if (!f.Success) continue;
                if (start < 0) { start = i; fence = f.Groups[1].Value; continue; }
                if (IsClosingFence(body[i], fence)) { end = i; break; }
            }
            if (start < 0 || end < 0) return (body, null, new List<string>());
            string code = string.Join("\n", body.Skip(start + 1).Take(end - start - 1)).Trim('\n');
            return (body.Take(start).ToList(), code, body.Skip(end + 1).ToList());
        }

        public static CommandHelpDoc ParseCommand(string path) => ParseCommand(path, File.ReadAllLines(path));

        public static CommandHelpDoc ParseCommand(string path, IEnumerable<string> lines)
        {
            var doc = new CommandHelpDoc { Path = path };
            string file = System.IO.Path.GetFileName(path);
            List<Section> sections = Split(lines);
            string? current = null; // current level-2 section
            var parameterNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

            foreach (Section s in sections)
            {
                if (s.Level == 0)
                {
                    if (Paragraphs(s.Body).Count > 0)
                        doc.Problems.Add($"{file}: text before the '# Verb-Noun' title.");
                    continue;
                }
                if (s.Level == 1)
                {
                    if (doc.Title.Length > 0)
                        doc.Problems.Add($"{file}:{s.Line}: a second '# ' title ('{s.Title}'); one per file.");
                    else
                        doc.Title = s.Title;
                    if (Paragraphs(s.Body).Count > 0)
                        doc.Problems.Add($"{file}:{s.Line}: text between the title and the first '## ' section.");
                    current = null;
                    continue;
                }
                if (s.Level == 2)
                {
                    string name = Regex.Replace(s.Title, @"\s+", " ").ToUpperInvariant();
                    if (!KnownSections.Contains(name))
                    {
                        doc.Problems.Add($"{file}:{s.Line}: unknown section '## {s.Title}' (known: {string.Join(", ", KnownSections)}).");
                        current = null;
                        continue;
                    }
                    if (!doc.SectionsSeen.Add(name))
                        doc.Problems.Add($"{file}:{s.Line}: section '## {name}' appears twice.");
                    current = name;
                    List<string> paras = Paragraphs(s.Body);
                    switch (name)
                    {
                        case "SYNOPSIS": doc.Synopsis.AddRange(paras); break;
                        case "DESCRIPTION": doc.Description.AddRange(paras); break;
                        case "NOTES": doc.Notes.AddRange(paras); break;
                        case "RELATED LINKS":
                            foreach (string p in paras) doc.RelatedLinks.Add(ParseLink(p));
                            break;
                        case "INPUTS":
                        case "OUTPUTS":
                            var list = new List<TypeDoc>();
                            if (name == "INPUTS") doc.Inputs = list; else doc.Outputs = list;
                            // "None" (or any text) written directly under the section is one entry without a description.
                            foreach (string p in paras) list.Add(new TypeDoc { TypeName = p });
                            break;
                        default:
                            if (paras.Count > 0)
                                doc.Problems.Add($"{file}:{s.Line}: text directly under '## {name}'; put it under '### ' subsections.");
                            break;
                    }
                    continue;
                }
                if (s.Level == 3)
                {
                    switch (current)
                    {
                        case "EXAMPLES":
                            var (before, code, after) = SplitFirstCodeBlock(s.Body);
                            doc.Examples.Add(new ExampleDoc
                            {
                                Title = s.Title,
                                Code = code,
                                Introduction = Paragraphs(before),
                                Remarks = Paragraphs(after),
                            });
                            break;
                        case "PARAMETERS":
                            string pname = s.Title.Trim();
                            if (!pname.StartsWith("-", StringComparison.Ordinal) || pname.Length < 2 || pname.Contains(' '))
                            {
                                doc.Problems.Add($"{file}:{s.Line}: parameter heading '### {s.Title}' must be '### -Name'.");
                                break;
                            }
                            pname = pname.Substring(1);
                            if (!parameterNames.Add(pname))
                            {
                                doc.Problems.Add($"{file}:{s.Line}: parameter -{pname} is documented twice.");
                                break;
                            }
                            doc.Parameters.Add(new KeyValuePair<string, List<string>>(pname, Paragraphs(s.Body)));
                            break;
                        case "INPUTS":
                        case "OUTPUTS":
                            var target = current == "INPUTS" ? doc.Inputs! : doc.Outputs!;
                            target.Add(new TypeDoc { TypeName = s.Title.Trim(), Description = Paragraphs(s.Body) });
                            break;
                        default:
                            doc.Problems.Add($"{file}:{s.Line}: '### {s.Title}' is only allowed under EXAMPLES, PARAMETERS, INPUTS or OUTPUTS.");
                            break;
                    }
                    continue;
                }
                doc.Problems.Add($"{file}:{s.Line}: heading level {s.Level} ('{s.Title}') is not used by the help format.");
            }
            return doc;
        }

        private static LinkDoc ParseLink(string paragraph)
        {
            string text = ListItem.Replace(paragraph, string.Empty).Trim();
            Match m = MarkdownLink.Match(text);
            if (!m.Success)
                return new LinkDoc { Text = text };
            string uri = m.Groups["uri"].Value.Trim();
            bool web = uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            return new LinkDoc { Text = m.Groups["text"].Value.Trim(), Uri = web ? uri : string.Empty };
        }

        /// <summary>Converts docs/help/about_X.md into the plain-text layout Get-Help expects for about_X.help.txt.</summary>
        public static string AboutToText(string path, IEnumerable<string> lines, List<string> problems)
        {
            string file = System.IO.Path.GetFileName(path);
            string expectedTopic = System.IO.Path.GetFileNameWithoutExtension(path);
            List<Section> sections = Split(lines);
            var sb = new StringBuilder();
            bool sawTitle = false, sawShort = false, sawLong = false;
            foreach (Section s in sections)
            {
                if (s.Level == 0)
                {
                    if (Paragraphs(s.Body).Count > 0) problems.Add($"{file}: text before the '# {expectedTopic}' title.");
                    continue;
                }
                if (s.Level == 1)
                {
                    if (sawTitle) { problems.Add($"{file}:{s.Line}: a second '# ' title."); continue; }
                    sawTitle = true;
                    if (!string.Equals(s.Title, expectedTopic, StringComparison.Ordinal))
                        problems.Add($"{file}:{s.Line}: the title is '{s.Title}'; it must be the file name, '{expectedTopic}'.");
                    sb.Append("TOPIC\n    ").Append(expectedTopic).Append("\n\n");
                    AppendBody(sb, s.Body, 4);
                    continue;
                }
                string title = s.Title.ToUpper(CultureInfo.InvariantCulture);
                if (s.Level == 2)
                {
                    if (title == "SHORT DESCRIPTION") sawShort = Paragraphs(s.Body).Count > 0;
                    if (title == "LONG DESCRIPTION") sawLong = Paragraphs(s.Body).Count > 0;
                    sb.Append(title).Append('\n');
                    AppendBody(sb, s.Body, 4);
                }
                else
                {
                    sb.Append("  ").Append(s.Title).Append('\n');
                    AppendBody(sb, s.Body, 4);
                }
            }
            if (!sawTitle) problems.Add($"{file}: no '# {expectedTopic}' title.");
            if (!sawShort) problems.Add($"{file}: no text under '## SHORT DESCRIPTION'.");
            if (!sawLong) problems.Add($"{file}: no text under '## LONG DESCRIPTION'.");
            return sb.ToString().TrimEnd('\n') + "\n";
        }

        private static void AppendBody(StringBuilder sb, List<string> body, int indent)
        {
            var paras = ParagraphBlocks(body);
            for (int i = 0; i < paras.Count; i++)
            {
                (string text, bool isCode) = paras[i];
                if (isCode)
                {
                    foreach (string l in text.Split('\n'))
                        sb.Append(l.Length == 0 ? string.Empty : new string(' ', indent + 4) + l).Append('\n');
                }
                else
                {
                    bool item = ListItem.IsMatch(text);
                    Wrap(sb, text, indent, item ? indent + 2 : indent, 80);
                    // Items of one list stay together.
                    if (item && i + 1 < paras.Count && !paras[i + 1].IsCode && ListItem.IsMatch(paras[i + 1].Text))
                        continue;
                }
                sb.Append('\n');
            }
        }

        private static List<(string Text, bool IsCode)> ParagraphBlocks(List<string> body)
        {
            // Like Paragraphs, but remembers which paragraphs were code so they are not re-wrapped.
            var result = new List<(string, bool)>();
            var (before, code, after) = SplitFirstCodeBlock(body);
            foreach (string p in Paragraphs(before)) result.Add((p, false));
            if (code == null) return result;
            result.Add((code, true));
            result.AddRange(ParagraphBlocks(after));
            return result;
        }

        private static void Wrap(StringBuilder sb, string text, int firstIndent, int restIndent, int width)
        {
            var line = new StringBuilder(new string(' ', firstIndent));
            int lineStart = firstIndent;
            bool empty = true;
            foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!empty && line.Length + 1 + word.Length > width)
                {
                    sb.Append(line).Append('\n');
                    line.Clear().Append(' ', restIndent);
                    lineStart = restIndent;
                    empty = true;
                }
                if (!empty) line.Append(' ');
                line.Append(word);
                empty = false;
            }
            if (line.Length > lineStart) sb.Append(line).Append('\n');
        }
    }
}
