using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace Hybrid.Weaving;

/// <summary>A parsed selector. See docs/weaver.md for the grammar.</summary>
internal sealed class Selector
{
    public string Text = "";
    public Regex? Glob;             // set when the selector contains * or ?
    public string TypeName = "";    // '+'-separated nested names, e.g. Ns.Outer+Inner`1
    public string MemberName = "";
    public string[]? Parameters;    // normalised parameter type names; null = all overloads

    private static readonly Dictionary<string, string> s_aliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["bool"] = "System.Boolean", ["byte"] = "System.Byte", ["sbyte"] = "System.SByte", ["char"] = "System.Char",
        ["short"] = "System.Int16", ["ushort"] = "System.UInt16", ["int"] = "System.Int32", ["uint"] = "System.UInt32",
        ["long"] = "System.Int64", ["ulong"] = "System.UInt64", ["float"] = "System.Single", ["double"] = "System.Double",
        ["decimal"] = "System.Decimal", ["string"] = "System.String", ["object"] = "System.Object", ["void"] = "System.Void",
        ["nint"] = "System.IntPtr", ["nuint"] = "System.UIntPtr",
    };

    public static Selector Parse(string text, out string? error)
    {
        error = null;
        var s = new Selector { Text = text };
        var t = (text ?? "").Trim();
        if (t.Length == 0)
        {
            error = "the selector is empty";
            return s;
        }

        string? paramList = null;
        var open = t.IndexOf('(');
        if (open >= 0)
        {
            if (!t.EndsWith(")", StringComparison.Ordinal))
            {
                error = "a parameter list must end with ')', e.g. Ns.Type.Method(System.Int32,System.String&)";
                return s;
            }
            paramList = t.Substring(open + 1, t.Length - open - 2);
            t = t.Substring(0, open).Trim();
            s.Parameters = SplitParameters(paramList).Select(NormalizeParameter).ToArray();
        }

        if (t.IndexOf('*') >= 0 || t.IndexOf('?') >= 0)
        {
            var pattern = "^" + Regex.Escape(t.Replace('/', '+')).Replace("\\*", ".*").Replace("\\?", ".") + "$";
            s.Glob = new Regex(pattern, RegexOptions.CultureInvariant);
            return s;
        }

        int split;
        if (t.EndsWith("..ctor", StringComparison.Ordinal) || t.EndsWith("..cctor", StringComparison.Ordinal))
            split = t.LastIndexOf("..", StringComparison.Ordinal);
        else
            split = t.LastIndexOf('.');
        if (split <= 0 || split == t.Length - 1)
        {
            error = "expected Namespace.Type.Member (e.g. MyApp.Clock.Now, MyApp.Cache`1.Get, MyApp.Outer+Inner..ctor) or a glob such as MyApp.*";
            return s;
        }
        s.TypeName = t.Substring(0, split).Replace('/', '+');
        s.MemberName = t.Substring(split + 1);
        return s;
    }

    private static IEnumerable<string> SplitParameters(string list)
    {
        if (list.Trim().Length == 0)
            yield break;
        int depth = 0, start = 0;
        for (int i = 0; i < list.Length; i++)
        {
            var c = list[i];
            if (c == '<' || c == '[' || c == '(') depth++;
            else if (c == '>' || c == ']' || c == ')') depth--;
            else if (c == ',' && depth == 0)
            {
                yield return list.Substring(start, i - start);
                start = i + 1;
            }
        }
        yield return list.Substring(start);
    }

    /// <summary>Accepts C#-ish spellings (int, ref string, out T) as well as the metadata form (System.String&amp;).</summary>
    internal static string NormalizeParameter(string p)
    {
        p = p.Trim();
        var byRef = false;
        foreach (var prefix in new[] { "ref ", "out ", "in " })
        {
            if (p.StartsWith(prefix, StringComparison.Ordinal))
            {
                byRef = true;
                p = p.Substring(prefix.Length).Trim();
            }
        }
        p = p.Replace(" ", "").Replace('/', '+');
        var core = p;
        var suffix = "";
        while (core.Length > 0 && (core.EndsWith("&", StringComparison.Ordinal) || core.EndsWith("*", StringComparison.Ordinal) || core.EndsWith("]", StringComparison.Ordinal)))
        {
            var cut = core.EndsWith("]", StringComparison.Ordinal) ? core.LastIndexOf('[') : core.Length - 1;
            if (cut < 0) break;
            suffix = core.Substring(cut) + suffix;
            core = core.Substring(0, cut);
        }
        if (s_aliases.TryGetValue(core, out var full))
            core = full;
        return core + suffix + (byRef && !suffix.EndsWith("&", StringComparison.Ordinal) ? "&" : "");
    }
}
