using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV.Simulator
{
    /// <summary>A parsed WQL data query: <c>SELECT * | p[, p] FROM Class [WHERE condition]</c>.</summary>
    internal sealed class WqlQuery
    {
        public WqlQuery(IReadOnlyList<string>? properties, string className, WqlExpr? where)
        {
            Properties = properties; ClassName = className; Where = where;
        }
        /// <summary>Null for <c>*</c>.</summary>
        public IReadOnlyList<string>? Properties { get; }
        public string ClassName { get; }
        public WqlExpr? Where { get; }

        public IEnumerable<string> ReferencedProperties()
        {
            if (Properties != null) foreach (var p in Properties) yield return p;
            if (Where != null) foreach (var p in Where.Properties()) yield return p;
        }
    }

    internal abstract class WqlExpr
    {
        public abstract bool Evaluate(CimObject o);
        public abstract IEnumerable<string> Properties();
    }

    internal sealed class WqlAnd : WqlExpr
    {
        private readonly WqlExpr _a, _b;
        public WqlAnd(WqlExpr a, WqlExpr b) { _a = a; _b = b; }
        public override bool Evaluate(CimObject o) => _a.Evaluate(o) && _b.Evaluate(o);
        public override IEnumerable<string> Properties() => _a.Properties().Concat(_b.Properties());
    }

    internal sealed class WqlOr : WqlExpr
    {
        private readonly WqlExpr _a, _b;
        public WqlOr(WqlExpr a, WqlExpr b) { _a = a; _b = b; }
        public override bool Evaluate(CimObject o) => _a.Evaluate(o) || _b.Evaluate(o);
        public override IEnumerable<string> Properties() => _a.Properties().Concat(_b.Properties());
    }

    internal sealed class WqlNot : WqlExpr
    {
        private readonly WqlExpr _a;
        public WqlNot(WqlExpr a) { _a = a; }
        public override bool Evaluate(CimObject o) => !_a.Evaluate(o);
        public override IEnumerable<string> Properties() => _a.Properties();
    }

    internal sealed class WqlIsNull : WqlExpr
    {
        private readonly string _prop; private readonly bool _negate;
        public WqlIsNull(string prop, bool negate) { _prop = prop; _negate = negate; }
        public override bool Evaluate(CimObject o) => (o[_prop] == null) != _negate;
        public override IEnumerable<string> Properties() { yield return _prop; }
    }

    internal sealed class WqlCompare : WqlExpr
    {
        private readonly string _prop; private readonly string _op; private readonly object? _literal;
        private readonly Regex? _like;

        public WqlCompare(string prop, string op, object? literal)
        {
            _prop = prop; _op = op; _literal = literal;
            if (op == "LIKE") _like = LikeToRegex(literal as string ?? throw new WqlException("LIKE needs a string pattern"));
        }

        public override IEnumerable<string> Properties() { yield return _prop; }

        public override bool Evaluate(CimObject o)
        {
            var value = o[_prop];
            if (value == null || _literal == null) return false; // SQL-like: comparisons with NULL are false
            if (_like != null) return _like.IsMatch(ToText(value));
            int? cmp = Compare(value, _literal);
            if (cmp == null) return _op == "<>";
            return _op switch
            {
                "=" => cmp == 0,
                "<>" => cmp != 0,
                "<" => cmp < 0,
                ">" => cmp > 0,
                "<=" => cmp <= 0,
                ">=" => cmp >= 0,
                _ => false,
            };
        }

        private static string ToText(object v) => v switch
        {
            CimReference r => r.ToPath(),
            bool b => b ? "TRUE" : "FALSE",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString() ?? "",
        };

        private static int? Compare(object value, object literal)
        {
            if (value is bool vb)
            {
                bool? lb = literal is bool b ? b : literal is string s && bool.TryParse(s, out var p) ? p : (bool?)null;
                if (lb == null) return null;
                return vb == lb.Value ? 0 : 1;
            }
            if (IsNumber(value))
            {
                decimal v = Convert.ToDecimal(value, CultureInfo.InvariantCulture);
                decimal l;
                if (IsNumber(literal)) l = Convert.ToDecimal(literal, CultureInfo.InvariantCulture);
                else if (literal is string s && decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) l = d;
                else return null;
                return v.CompareTo(l);
            }
            return string.Compare(ToText(value), ToText(literal), StringComparison.OrdinalIgnoreCase);
        }

        internal static bool IsNumber(object o) => o is byte || o is sbyte || o is short || o is ushort || o is int || o is uint || o is long ||
            o is ulong || o is float || o is double || o is decimal;

        private static Regex LikeToRegex(string pattern)
        {
            var sb = new StringBuilder("^");
            for (int i = 0; i < pattern.Length; i++)
            {
                char c = pattern[i];
                if (c == '%') sb.Append(".*");
                else if (c == '_') sb.Append('.');
                else if (c == '[')
                {
                    int end = pattern.IndexOf(']', i + 1);
                    if (end < 0) throw new WqlException("unterminated [ in LIKE pattern");
                    string set = pattern.Substring(i + 1, end - i - 1);
                    if (set.Length == 0) throw new WqlException("empty [] in LIKE pattern");
                    bool neg = set[0] == '^';
                    if (neg) set = set.Substring(1);
                    sb.Append('[').Append(neg ? "^" : "");
                    foreach (char s in set) sb.Append(s == '-' ? "-" : Regex.Escape(s.ToString()));
                    sb.Append(']');
                    i = end;
                }
                else sb.Append(Regex.Escape(c.ToString()));
            }
            sb.Append('$');
            return new Regex(sb.ToString(), RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.CultureInvariant);
        }
    }

    internal sealed class WqlException : Exception
    {
        public WqlException(string message) : base(message) { }
    }

    /// <summary>A small recursive-descent WQL parser (the subset documented in the README).</summary>
    internal static class WqlParser
    {
        private enum T { Ident, String, Number, Op, LParen, RParen, Comma, Star, End }

        private readonly struct Token
        {
            public Token(T kind, string text, object? value = null) { Kind = kind; Text = text; Value = value; }
            public T Kind { get; }
            public string Text { get; }
            public object? Value { get; }
            public bool Is(string keyword) => Kind == T.Ident && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);
            public override string ToString() => Kind == T.End ? "end of query" : "'" + Text + "'";
        }

        public static WqlQuery Parse(string wql)
        {
            var tokens = Lex(wql ?? "");
            int i = 0;
            Token Peek() => tokens[i];
            Token Next() => tokens[i++];
            void Expect(string kw) { if (!Peek().Is(kw)) throw new WqlException($"expected {kw}, found {Peek()}"); i++; }

            Expect("SELECT");
            List<string>? props = null;
            if (Peek().Kind == T.Star) i++;
            else
            {
                props = new List<string>();
                while (true)
                {
                    var t = Next();
                    if (t.Kind != T.Ident || IsReserved(t.Text)) throw new WqlException($"expected a property name, found {t}");
                    props.Add(t.Text);
                    if (Peek().Kind != T.Comma) break;
                    i++;
                }
            }
            Expect("FROM");
            var cls = Next();
            if (cls.Kind != T.Ident || IsReserved(cls.Text)) throw new WqlException($"expected a class name, found {cls}");
            WqlExpr? where = null;
            if (Peek().Is("WHERE"))
            {
                i++;
                where = ParseOr();
            }
            if (Peek().Kind != T.End) throw new WqlException($"unexpected {Peek()}");
            return new WqlQuery(props, cls.Text, where);

            WqlExpr ParseOr()
            {
                var left = ParseAnd();
                while (Peek().Is("OR")) { i++; left = new WqlOr(left, ParseAnd()); }
                return left;
            }
            WqlExpr ParseAnd()
            {
                var left = ParseNot();
                while (Peek().Is("AND")) { i++; left = new WqlAnd(left, ParseNot()); }
                return left;
            }
            WqlExpr ParseNot()
            {
                if (Peek().Is("NOT")) { i++; return new WqlNot(ParseNot()); }
                return ParsePrimary();
            }
            WqlExpr ParsePrimary()
            {
                if (Peek().Kind == T.LParen)
                {
                    i++;
                    var e = ParseOr();
                    if (Next().Kind != T.RParen) throw new WqlException("expected )");
                    return e;
                }
                var prop = Next();
                if (prop.Kind != T.Ident || IsReserved(prop.Text)) throw new WqlException($"expected a property name, found {prop}");
                if (Peek().Is("IS"))
                {
                    i++;
                    bool negate = false;
                    if (Peek().Is("NOT")) { negate = true; i++; }
                    Expect("NULL");
                    return new WqlIsNull(prop.Text, negate);
                }
                string op;
                if (Peek().Is("LIKE")) { i++; op = "LIKE"; }
                else if (Peek().Kind == T.Op) { op = Next().Text; if (op == "!=") op = "<>"; }
                else throw new WqlException($"expected an operator after {prop}, found {Peek()}");
                var lit = Next();
                object? value = lit.Kind switch
                {
                    T.String => lit.Value,
                    T.Number => lit.Value,
                    T.Ident when lit.Is("TRUE") => true,
                    T.Ident when lit.Is("FALSE") => false,
                    T.Ident when lit.Is("NULL") => null,
                    _ => throw new WqlException($"expected a literal, found {lit}"),
                };
                if (op == "LIKE" && !(value is string)) throw new WqlException("LIKE needs a string literal");
                return new WqlCompare(prop.Text, op, value);
            }
        }

        private static bool IsReserved(string s) => new[] { "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IS", "NULL", "TRUE", "FALSE" }
            .Contains(s, StringComparer.OrdinalIgnoreCase);

        private static List<Token> Lex(string s)
        {
            var list = new List<Token>();
            int i = 0;
            while (i < s.Length)
            {
                char c = s[i];
                if (char.IsWhiteSpace(c)) { i++; continue; }
                if (c == '\'' || c == '"')
                {
                    var sb = new StringBuilder();
                    int start = i++;
                    bool closed = false;
                    while (i < s.Length)
                    {
                        char d = s[i];
                        if (d == '\\')
                        {
                            if (i + 1 >= s.Length) break;
                            sb.Append(s[i + 1]);
                            i += 2;
                            continue;
                        }
                        if (d == c) { closed = true; i++; break; }
                        sb.Append(d);
                        i++;
                    }
                    if (!closed) throw new WqlException("unterminated string literal at " + start);
                    list.Add(new Token(T.String, s.Substring(start, i - start), sb.ToString()));
                    continue;
                }
                if (char.IsDigit(c) || (c == '-' && i + 1 < s.Length && char.IsDigit(s[i + 1])))
                {
                    int start = i++;
                    while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
                    string text = s.Substring(start, i - start);
                    if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) throw new WqlException($"bad number '{text}'");
                    list.Add(new Token(T.Number, text, d));
                    continue;
                }
                if (char.IsLetter(c) || c == '_')
                {
                    int start = i;
                    while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                    list.Add(new Token(T.Ident, s.Substring(start, i - start)));
                    continue;
                }
                switch (c)
                {
                    case '(': list.Add(new Token(T.LParen, "(")); i++; continue;
                    case ')': list.Add(new Token(T.RParen, ")")); i++; continue;
                    case ',': list.Add(new Token(T.Comma, ",")); i++; continue;
                    case '*': list.Add(new Token(T.Star, "*")); i++; continue;
                    case '=': list.Add(new Token(T.Op, "=")); i++; continue;
                    case '<':
                    case '>':
                    case '!':
                        string two = i + 1 < s.Length ? s.Substring(i, 2) : "";
                        if (two == "<>" || two == "<=" || two == ">=" || two == "!=") { list.Add(new Token(T.Op, two)); i += 2; continue; }
                        if (c == '!') throw new WqlException("unexpected '!'");
                        list.Add(new Token(T.Op, c.ToString())); i++; continue;
                }
                throw new WqlException($"unexpected character '{c}' at {i}");
            }
            list.Add(new Token(T.End, ""));
            return list;
        }
    }
}
