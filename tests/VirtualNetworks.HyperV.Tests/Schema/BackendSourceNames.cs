using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace VirtualNetworks.HyperV.Tests.Schema
{
    /// <summary>What a name in the backend's source is used as.</summary>
    public enum NameRole
    {
        Class,
        /// <summary>A property of an instance (read, written, a key, in a WQL SELECT list or condition).</summary>
        Property,
        Method,
        /// <summary>An input parameter passed to a method (CimMethodParameter).</summary>
        InParameter,
        /// <summary>An output parameter read from a method result (Resulting, r["X"]).</summary>
        OutParameter,
        /// <summary>r["X"] / o["X"]: an output parameter or a property (the indexer is the same shape on both).</summary>
        PropertyOrOutParameter,
        /// <summary>An identifier-shaped literal in no known position: it must still be a real name or a listed non-CIM word.</summary>
        Bare,
    }

    /// <summary>One use of a name: role, the class or method it is bound to when the source says so, and where it is.</summary>
    public sealed class NameUse
    {
        public NameRole Role;
        public string Name = "";
        /// <summary>Property: the class of a <c>new CimObject("C").Set(...)</c> / <c>Template(op, "C", ...).Set(...)</c>
        /// chain or of the WQL FROM; in-parameter: the method of the enclosing Invoke.</summary>
        public string? BoundTo;
        public string File = "";
        public int Line;
        public override string ToString() => $"{Role} {Name}{(BoundTo != null ? " (" + BoundTo + ")" : "")} at {File}:{Line}";
    }

    /// <summary>
    /// Re-derives, from the C# source of src/VirtualNetworks.HyperV, every WMI name the backend uses: a small C# lexer
    /// (strings, verbatim and interpolated strings with their holes, comments, brackets) and the positions the backend
    /// passes names in. The positions are the backend's conventions and listed here once:
    /// <list type="bullet">
    /// <item>class: any literal <c>Msvm_*</c>, <c>CIM_*</c>, <c>Win32_*</c>; the class after FROM in WQL text;</item>
    /// <item>property: the first argument of GetString/GetStrings/GetUInt16/GetUInt16s/GetUInt32/GetUInt64/GetInt64/
    /// GetBoolean/Has/Property/Set/Key and of <c>KeyValuePair&lt;string, object&gt;(…)</c> (reference keys); WQL SELECT
    /// lists and conditions (<c>Name = '</c>, <c>Name LIKE '</c>, ...: WQL as the backend writes it, operators between
    /// spaces; <c>kind=router</c> is not WQL);</item>
    /// <item>method: argument 3 of <c>Invoke(op, step, target, method, …)</c> and <c>Kvp(host, op, vm, method, …)</c>,
    /// argument 1 of <c>InvokeMethod</c>/<c>InvokeAndWait</c>/<c>Complete</c>/<c>WaitForJob</c>;</item>
    /// <item>in-parameter: the first argument of <c>CimMethodParameter.*(…)</c> / <c>new CimMethodParameter(…)</c>, bound
    /// to the method of the enclosing Invoke when there is one; out-parameter: argument 3 of
    /// <c>Resulting(op, step, result, name, class)</c>; <c>x["Name"]</c>: out-parameter or property.</item>
    /// </list>
    /// Every other identifier-shaped literal (PascalCase) is kept as <see cref="NameRole.Bare"/>: it must be a real name
    /// of some kind or a listed non-CIM word, so a misspelling in a position this list does not know still fails.
    /// </summary>
    public static class BackendSourceNames
    {
        private static readonly Regex ClassName = new Regex(@"^(Msvm|CIM|Win32)_[A-Za-z0-9_]+$");
        private static readonly Regex PascalIdentifier = new Regex(@"^[A-Z][A-Za-z0-9_]*$");
        private static readonly HashSet<string> PropertyCalls = new HashSet<string>(StringComparer.Ordinal)
        {
            "GetString", "GetStrings", "GetUInt16", "GetUInt16s", "GetUInt32", "GetUInt64", "GetInt64", "GetBoolean", "Has", "Property", "Set", "Key",
            "KeyValuePair",
        };
        private static readonly Dictionary<string, int> MethodArgument = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["Invoke"] = 3, ["Kvp"] = 3, ["InvokeMethod"] = 1, ["InvokeAndWait"] = 1, ["Complete"] = 1, ["WaitForJob"] = 1,
        };
        private static readonly HashSet<string> WqlKeywords = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IS", "NULL", "TRUE", "FALSE", "ISA",
        };

        /// <summary>The repository root (the directory holding VirtualNetworks.sln) above the test's base directory.</summary>
        public static string RepositoryRoot()
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "VirtualNetworks.sln"))) return d.FullName;
            throw new InvalidOperationException("VirtualNetworks.sln not found above " + AppContext.BaseDirectory);
        }

        /// <summary>The backend's C# files (obj/ and bin/ excluded), relative path → text.</summary>
        public static IReadOnlyList<(string Path, string Text)> BackendSources(string root)
        {
            string dir = Path.Combine(root, "src", "VirtualNetworks.HyperV");
            return Directory.GetFiles(dir, "*.cs", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/'))
                .Where(f => !f.StartsWith("obj/", StringComparison.Ordinal) && !f.StartsWith("bin/", StringComparison.Ordinal))
                .OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => (f, File.ReadAllText(Path.Combine(dir, f)))).ToList();
        }

        public static List<NameUse> Extract(string file, string text)
        {
            var tokens = Lexer.Tokenize(text);
            var uses = new List<NameUse>();
            var stack = new List<Frame>();
            var chainAfter = new Dictionary<int, string>(); // token index of a ')' → the class its call chain builds
            for (int i = 0; i < tokens.Count; i++)
            {
                var t = tokens[i];
                if (t.Kind == TokenKind.Punct && (t.Text == "(" || t.Text == "[" || t.Text == "{"))
                {
                    var f = new Frame { Open = t.Text };
                    if (t.Text == "(" || t.Text == "[")
                    {
                        int j = i - 1;
                        if (j >= 0 && tokens[j].Text == ">" && t.Text == "(") j = MatchBack(tokens, j, "<", ">") - 1; // Name<...>(
                        if (j >= 0 && tokens[j].Kind == TokenKind.Identifier)
                        {
                            f.Call = t.Text == "[" ? "[]" : tokens[j].Text;
                            if (j >= 2 && tokens[j - 1].Text == "." && tokens[j - 2].Kind == TokenKind.Identifier) f.Qualifier = tokens[j - 2].Text;
                            if (t.Text == "(" && f.Call == "Set" && j >= 2 && tokens[j - 1].Text == "." && chainAfter.TryGetValue(j - 2, out var chained))
                                f.Bound = chained;
                        }
                        else if (t.Text == "[" && j >= 0 && (tokens[j].Text == ")" || tokens[j].Text == "]")) f.Call = "[]";
                    }
                    stack.Add(f);
                    continue;
                }
                if (t.Kind == TokenKind.Punct && (t.Text == ")" || t.Text == "]" || t.Text == "}"))
                {
                    if (stack.Count == 0) continue;
                    var f = stack[stack.Count - 1];
                    stack.RemoveAt(stack.Count - 1);
                    string? builds = f.Call == "CimObject" ? f.ClassArg0 : f.Call == "Template" ? f.ClassArg1 : f.Call == "Set" ? f.Bound : null;
                    if (builds != null) chainAfter[i] = builds;
                    continue;
                }
                if (t.Kind == TokenKind.Punct && t.Text == "," && stack.Count > 0) { stack[stack.Count - 1].Arg++; continue; }
                if (t.Kind != TokenKind.String) continue;

                var frame = stack.Count > 0 ? stack[stack.Count - 1] : null;
                string s = t.Text;
                void Add(NameRole role, string name, string? bound = null) =>
                    uses.Add(new NameUse { Role = role, Name = name, BoundTo = bound, File = file, Line = t.Line });

                if (ClassName.IsMatch(s))
                {
                    Add(NameRole.Class, s);
                    if (frame != null && frame.Arg == 0) frame.ClassArg0 = s;
                    if (frame != null && frame.Arg == 1) frame.ClassArg1 = s;
                    continue;
                }
                if (PascalIdentifier.IsMatch(s) && s.Any(char.IsLower))
                {
                    if (frame != null && frame.Arg == 0 && PropertyCalls.Contains(frame.Call))
                        Add(NameRole.Property, s, frame.Call == "Set" ? frame.Bound : null);
                    else if (frame != null && frame.Arg == 0 && (frame.Qualifier == "CimMethodParameter" || frame.Call == "CimMethodParameter"))
                        Add(NameRole.InParameter, s, stack.AsEnumerable().Reverse().Select(x => x.Method).FirstOrDefault(m => m != null));
                    else if (frame != null && MethodArgument.TryGetValue(frame.Call, out var mi) && frame.Arg == mi)
                    {
                        Add(NameRole.Method, s);
                        frame.Method = s;
                    }
                    else if (frame != null && frame.Call == "Resulting" && frame.Arg == 3) Add(NameRole.OutParameter, s);
                    else if (frame != null && frame.Call == "[]" && frame.Arg == 0) Add(NameRole.PropertyOrOutParameter, s);
                    else Add(NameRole.Bare, s);
                    continue;
                }
                foreach (var (role, name, bound) in Wql(s)) Add(role, name, bound);
            }
            return uses;
        }

        /// <summary>Class and property names in WQL text (a whole query or a fragment such as <c>" OR ElementName = '"</c>).</summary>
        internal static IEnumerable<(NameRole, string, string?)> Wql(string s)
        {
            string? cls = null;
            string conditions = "";
            var select = Regex.Match(s, @"\bSELECT\s+(.+?)\s+FROM\s+(\w+)(.*)$", RegexOptions.Singleline);
            var from = Regex.Match(s, @"\bFROM\s+(\w+)(.*)$", RegexOptions.Singleline);
            if (select.Success)
            {
                cls = select.Groups[2].Value;
                yield return (NameRole.Class, cls, null);
                if (select.Groups[1].Value.Trim() != "*")
                    foreach (var p in select.Groups[1].Value.Split(',').Select(x => x.Trim()))
                        yield return (NameRole.Property, p, cls);
                conditions = select.Groups[3].Value;
            }
            else if (from.Success)
            {
                cls = from.Groups[1].Value;
                yield return (NameRole.Class, cls, null);
                conditions = from.Groups[2].Value;
            }
            else if (Regex.IsMatch(s, @"^\s*(?:(?:WHERE|AND|OR|NOT)\s+)?\(?\s*[A-Za-z_]\w*\s+(?:=|<>|!=|<=|>=|<|>|LIKE|IS)(?:\s|$)"))
                conditions = s;
            foreach (Match m in Regex.Matches(conditions, @"(?<![\w.'])([A-Za-z_]\w*)\s+(?:=|<>|!=|<=|>=|<|>|LIKE|IS)(?=\s|$)"))
            {
                var name = m.Groups[1].Value;
                if (WqlKeywords.Contains(name)) continue;
                yield return (NameRole.Property, name, cls);
            }
        }

        private static int MatchBack(List<Token> tokens, int close, string open, string closeText)
        {
            int depth = 0;
            for (int k = close; k >= 0; k--)
            {
                if (tokens[k].Text == closeText) depth++;
                else if (tokens[k].Text == open && --depth == 0) return k;
            }
            return 0;
        }

        private sealed class Frame
        {
            public string Open = "";
            public string Call = "";
            public string? Qualifier;
            public int Arg;
            public string? Method;
            public string? Bound;
            public string? ClassArg0, ClassArg1;
        }
    }

    internal enum TokenKind { Identifier, String, Punct, Other }

    internal sealed class Token
    {
        public TokenKind Kind;
        public string Text = "";
        public int Line;
        public override string ToString() => Kind + " " + Text;
    }

    /// <summary>Just enough C# lexing: comments, preprocessor lines, char literals, regular/verbatim/interpolated strings
    /// (an interpolated string yields its literal text, holes as U+0001, then the tokens of its holes), identifiers, punctuation.</summary>
    internal static class Lexer
    {
        public static List<Token> Tokenize(string text)
        {
            var tokens = new List<Token>();
            int line = 1;
            Lex(text, 0, text.Length, tokens, ref line);
            return tokens;
        }

        private static void Lex(string s, int start, int end, List<Token> tokens, ref int line)
        {
            int i = start;
            bool lineStart = true;
            while (i < end)
            {
                char c = s[i];
                if (c == '\n') { line++; i++; lineStart = true; continue; }
                if (char.IsWhiteSpace(c)) { i++; continue; }
                if (lineStart && c == '#') { while (i < end && s[i] != '\n') i++; continue; }
                lineStart = false;
                if (c == '/' && i + 1 < end && s[i + 1] == '/') { while (i < end && s[i] != '\n') i++; continue; }
                if (c == '/' && i + 1 < end && s[i + 1] == '*')
                {
                    int close = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    int stop = close < 0 ? end : close + 2;
                    line += Count(s, i, stop, '\n');
                    i = stop;
                    continue;
                }
                if (c == '\'')
                {
                    i++;
                    while (i < end && s[i] != '\'') i += s[i] == '\\' ? 2 : 1;
                    i++;
                    continue;
                }
                bool interpolated = false, verbatim = false;
                int p = i;
                while (p < end && (s[p] == '$' || s[p] == '@'))
                {
                    if (s[p] == '$') interpolated = true; else verbatim = true;
                    p++;
                }
                if (p < end && s[p] == '"' && (p > i || c == '"'))
                {
                    int tokenLine = line;
                    var sb = new StringBuilder();
                    var holes = new List<(int, int, int)>();
                    i = p + 1;
                    while (i < end)
                    {
                        char ch = s[i];
                        if (ch == '\n') line++;
                        if (verbatim && ch == '"' && i + 1 < end && s[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        if (ch == '"') { i++; break; }
                        if (!verbatim && ch == '\\' && i + 1 < end)
                        {
                            char e = s[i + 1];
                            sb.Append(e switch { 'n' => '\n', 'r' => '\r', 't' => '\t', '0' => '\0', _ => e });
                            i += 2;
                            continue;
                        }
                        if (interpolated && ch == '{')
                        {
                            if (i + 1 < end && s[i + 1] == '{') { sb.Append('{'); i += 2; continue; }
                            int holeStart = i + 1, depth = 1, k = i + 1, holeLine = line;
                            while (k < end && depth > 0)
                            {
                                if (s[k] == '"') { k = SkipString(s, k, end); continue; }
                                if (s[k] == '{') depth++;
                                else if (s[k] == '}') depth--;
                                if (s[k] == '\n') line++;
                                if (depth > 0) k++;
                            }
                            holes.Add((holeStart, k, holeLine));
                            sb.Append('\u0001');
                            i = k + 1;
                            continue;
                        }
                        if (interpolated && ch == '}' && i + 1 < end && s[i + 1] == '}') { sb.Append('}'); i += 2; continue; }
                        sb.Append(ch);
                        i++;
                    }
                    tokens.Add(new Token { Kind = TokenKind.String, Text = sb.ToString(), Line = tokenLine });
                    foreach (var (hs, he, hl) in holes)
                    {
                        int l = hl;
                        // a hole's format specifier (":X6") is not code
                        int colon = TopLevelColon(s, hs, he);
                        Lex(s, hs, colon < 0 ? he : colon, tokens, ref l);
                    }
                    continue;
                }
                if (char.IsLetter(c) || c == '_' || (c == '@' && i + 1 < end && char.IsLetter(s[i + 1])))
                {
                    int b = c == '@' ? i + 1 : i;
                    int k = b;
                    while (k < end && (char.IsLetterOrDigit(s[k]) || s[k] == '_')) k++;
                    tokens.Add(new Token { Kind = TokenKind.Identifier, Text = s.Substring(b, k - b), Line = line });
                    i = k;
                    continue;
                }
                if (char.IsDigit(c))
                {
                    while (i < end && (char.IsLetterOrDigit(s[i]) || s[i] == '.' || s[i] == '_')) i++;
                    continue;
                }
                tokens.Add(new Token { Kind = TokenKind.Punct, Text = c.ToString(), Line = line });
                i++;
            }
        }

        private static int SkipString(string s, int k, int end)
        {
            k++;
            while (k < end && s[k] != '"') k += s[k] == '\\' ? 2 : 1;
            return k + 1;
        }

        private static int TopLevelColon(string s, int start, int end)
        {
            int depth = 0;
            for (int k = start; k < end; k++)
            {
                char ch = s[k];
                if (ch == '"') { k = SkipString(s, k, end) - 1; continue; }
                if (ch == '(' || ch == '[' || ch == '{') depth++;
                else if (ch == ')' || ch == ']' || ch == '}') depth--;
                else if (ch == '?' && depth == 0) return -1; // a conditional: the colon belongs to it
                else if (ch == ':' && depth == 0) return k;
            }
            return -1;
        }

        private static int Count(string s, int from, int to, char ch)
        {
            int n = 0;
            for (int k = from; k < to && k < s.Length; k++) if (s[k] == ch) n++;
            return n;
        }
    }
}
