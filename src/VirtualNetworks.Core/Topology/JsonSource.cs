using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Topology
{
    /// <summary>A 1-based line and column in the source text.</summary>
    internal readonly struct SourcePosition
    {
        public SourcePosition(int line, int column) { Line = line; Column = column; }
        public int Line { get; }
        public int Column { get; }
        public override string ToString() =>
            "line " + Line.ToString(CultureInfo.InvariantCulture) + ", column " + Column.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>What the syntax pass found.</summary>
    internal sealed class JsonScanResult
    {
        /// <summary>The syntax error, if any (then nothing else about the document is reliable).</summary>
        public string? SyntaxError { get; set; }
        public SourcePosition? SyntaxErrorPosition { get; set; }
        /// <summary>True when the text holds at least one JSON value (not just whitespace and comments).</summary>
        public bool HasContent { get; set; }
        /// <summary>Properties that appear more than once in the same object: (path, name, position of the repeat, position of the first).</summary>
        public List<(string Path, string Name, SourcePosition At, SourcePosition First)> Duplicates { get; } =
            new List<(string, string, SourcePosition, SourcePosition)>();
    }

    /// <summary>
    /// The text of one JSON document, read with Newtonsoft's <see cref="JsonTextReader"/>: a token pass that finds syntax
    /// errors (including truncation, which the reader itself reports only as end of input) and repeated property names
    /// (which <see cref="JToken"/> loading silently merges), then a <see cref="JToken"/> tree with line information.
    /// </summary>
    /// <remarks>
    /// Newtonsoft's positions point at the last character of a token (for a property name: at its ':'). Messages are
    /// easier to follow when they point at the first character, so <see cref="StartOf(int, int)"/> walks back from there.
    /// Newtonsoft's leniencies are kept: comments, trailing commas, single-quoted strings, unquoted property names.
    /// </remarks>
    internal sealed class JsonSource
    {
        private const int MaxDepth = 64;
        private static readonly Regex PositionSuffix = new Regex(@"\s*Path '.*', line \d+, position \d+\.$", RegexOptions.CultureInvariant | RegexOptions.Singleline);

        private readonly string _text;
        private readonly List<int> _lineStarts = new List<int> { 0 };

        public JsonSource(string text)
        {
            _text = text;
            // Same line breaks as JsonTextReader: "\r\n", "\n" and a lone "\r".
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '\r')
                {
                    if (i + 1 < text.Length && text[i + 1] == '\n') i++;
                    _lineStarts.Add(i + 1);
                }
                else if (text[i] == '\n')
                {
                    _lineStarts.Add(i + 1);
                }
            }
        }

        /// <summary>Reads every token once: syntax, truncation, content, repeated property names.</summary>
        public JsonScanResult Scan()
        {
            var result = new JsonScanResult();
            // One frame per open container: where it started, and for objects the property names seen so far.
            var open = new Stack<(bool IsObject, SourcePosition Start, Dictionary<string, SourcePosition>? Names)>();
            using (var reader = CreateReader())
            {
                try
                {
                    while (reader.Read())
                    {
                        switch (reader.TokenType)
                        {
                            case JsonToken.Comment:
                                continue;
                            case JsonToken.StartObject:
                                open.Push((true, Here(reader), new Dictionary<string, SourcePosition>(StringComparer.Ordinal)));
                                break;
                            case JsonToken.StartArray:
                                open.Push((false, Here(reader), null));
                                break;
                            case JsonToken.EndObject:
                            case JsonToken.EndArray:
                                if (open.Count > 0) open.Pop();
                                break;
                            case JsonToken.PropertyName:
                                var names = open.Count > 0 ? open.Peek().Names : null;
                                string name = (string)reader.Value!;
                                var at = StartOf(reader.LineNumber, reader.LinePosition);
                                if (names != null)
                                {
                                    if (names.TryGetValue(name, out var first)) result.Duplicates.Add((reader.Path, name, at, first));
                                    else names[name] = at;
                                }
                                break;
                        }
                        result.HasContent = true;
                    }
                    if (open.Count > 0)
                    {
                        // JsonTextReader reports a document cut off between tokens only as the end of input.
                        var (isObject, start, _) = open.Peek();
                        result.SyntaxError = "The text ends before the " + (isObject ? "object" : "array") + " that starts at " + start +
                                             " is closed (is the file truncated?).";
                        result.SyntaxErrorPosition = End();
                    }
                }
                catch (JsonReaderException ex)
                {
                    result.SyntaxError = PositionSuffix.Replace(ex.Message, "");
                    result.SyntaxErrorPosition = ex.LineNumber > 0 ? new SourcePosition(ex.LineNumber, Math.Max(1, ex.LinePosition)) : End();
                }
            }
            return result;
        }

        /// <summary>The document as a tree with line information; call only after a clean <see cref="Scan"/>.</summary>
        public JToken Load()
        {
            using (var reader = CreateReader())
            {
                return JToken.ReadFrom(reader, new JsonLoadSettings
                {
                    LineInfoHandling = LineInfoHandling.Load,
                    CommentHandling = CommentHandling.Ignore,
                    // Repeats were reported by Scan; keep the first value so later checks see what the author saw first.
                    DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Ignore,
                });
            }
        }

        /// <summary>Where <paramref name="token"/> starts in the text (for a property: its name), or null without line info.</summary>
        public SourcePosition? StartOf(JToken? token)
        {
            if (token is IJsonLineInfo info && info.HasLineInfo()) return StartOf(info.LineNumber, info.LinePosition);
            return null;
        }

        /// <summary>
        /// The first character of the token whose last character (or, for a property name, the following ':') Newtonsoft
        /// reports at 1-based (<paramref name="line"/>, <paramref name="position"/>).
        /// </summary>
        public SourcePosition StartOf(int line, int position)
        {
            int offset = OffsetOf(line, position);
            if (offset < 0) return new SourcePosition(line, Math.Max(1, position));

            // A property name's position is its ':'; step back to the end of the name.
            if (_text[offset] == ':')
            {
                offset--;
                while (offset > 0 && char.IsWhiteSpace(_text[offset])) offset--;
            }

            char c = _text[offset];
            if (c == '"' || c == '\'')
            {
                // Back to the opening quote: the first same quote not escaped by an odd number of backslashes.
                int i = offset - 1;
                while (i >= 0)
                {
                    if (_text[i] == c)
                    {
                        int backslashes = 0;
                        for (int k = i - 1; k >= 0 && _text[k] == '\\'; k--) backslashes++;
                        if (backslashes % 2 == 0) break;
                    }
                    i--;
                }
                offset = Math.Max(0, i);
            }
            else if (IsBareChar(c))
            {
                // Numbers, true/false/null, unquoted names.
                while (offset > 0 && IsBareChar(_text[offset - 1])) offset--;
            }
            return PositionOf(offset);
        }

        /// <summary>Just past the last non-whitespace character.</summary>
        public SourcePosition End()
        {
            int i = _text.Length - 1;
            while (i >= 0 && char.IsWhiteSpace(_text[i])) i--;
            if (i < 0) return new SourcePosition(1, 1);
            var last = PositionOf(i);
            return new SourcePosition(last.Line, last.Column + 1);
        }

        private JsonTextReader CreateReader() => new JsonTextReader(new StringReader(_text))
        {
            DateParseHandling = DateParseHandling.None, // "2024-01-01" stays a string
            FloatParseHandling = FloatParseHandling.Double,
            MaxDepth = MaxDepth,
        };

        private SourcePosition Here(JsonTextReader reader) => StartOf(reader.LineNumber, reader.LinePosition);

        private static bool IsBareChar(char c) =>
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '.' || c == '+' || c == '-';

        private int OffsetOf(int line, int position)
        {
            if (line < 1 || line > _lineStarts.Count || position < 1) return -1;
            int offset = _lineStarts[line - 1] + position - 1;
            return offset < _text.Length ? offset : -1;
        }

        private SourcePosition PositionOf(int offset)
        {
            int index = _lineStarts.BinarySearch(offset);
            if (index < 0) index = ~index - 1;
            return new SourcePosition(index + 1, offset - _lineStarts[index] + 1);
        }
    }
}
