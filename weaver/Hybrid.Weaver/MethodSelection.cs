using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>Turns selectors into the set of methods to weave, with diagnostics for selectors that match nothing.</summary>
internal sealed class MethodSelection
{
    private readonly List<(TypeDefinition Type, string Name)> _types = new List<(TypeDefinition, string)>();

    public MethodSelection(ModuleDefinition module)
    {
        foreach (var t in module.GetTypes())
            _types.Add((t, UserTypeName(t)));
    }

    /// <summary>Type name as users write it: namespace-qualified, nested types joined with '+', arity suffixes kept.</summary>
    public static string UserTypeName(TypeDefinition t)
        => t.DeclaringType != null ? UserTypeName(t.DeclaringType) + "+" + t.Name : (t.Namespace.Length > 0 ? t.Namespace + "." + t.Name : t.Name);

    public static string DisplayName(MethodDefinition m) => UserTypeName(m.DeclaringType) + "." + m.Name;

    public static string SignatureDisplay(MethodDefinition m)
        => DisplayName(m) + "(" + string.Join(",", m.Parameters.Select(p => FormatType(p.ParameterType))) + ")";

    /// <summary>Formats a type the way selectors spell parameters: modifiers dropped, nested types with '+'.</summary>
    public static string FormatType(TypeReference t)
    {
        switch (t)
        {
            case RequiredModifierType r: return FormatType(r.ElementType);
            case OptionalModifierType o: return FormatType(o.ElementType);
            case PinnedType p: return FormatType(p.ElementType);
            case SentinelType st: return FormatType(st.ElementType);
            case ByReferenceType b: return FormatType(b.ElementType) + "&";
            case PointerType p: return FormatType(p.ElementType) + "*";
            case ArrayType a: return FormatType(a.ElementType) + "[" + new string(',', a.Rank - 1) + "]";
            case GenericInstanceType g: return FormatType(g.ElementType) + "<" + string.Join(",", g.GenericArguments.Select(FormatType)) + ">";
            case GenericParameter gp: return gp.Name;
            case FunctionPointerType _: return "fnptr";
            default:
                return t.DeclaringType != null ? FormatType(t.DeclaringType) + "+" + t.Name : t.FullName;
        }
    }

    /// <summary>
    /// Resolves all selectors. Returns the selected methods; methods picked by an explicit (non-glob) selector are
    /// also in <paramref name="explicitlyNamed"/> so that skipping them becomes a warning rather than a quiet note.
    /// </summary>
    public HashSet<MethodDefinition> Select(IList<Selector> selectors, HashSet<MethodDefinition> explicitlyNamed, Action<Selector, string> noMatch)
    {
        var unmatched = new List<Selector>();
        var result = Select(selectors, explicitlyNamed, unmatched);
        foreach (var sel in unmatched)
            noMatch(sel, Suggest(sel));
        return result;
    }

    /// <summary>
    /// As above, but only collects the selectors that matched nothing: suggestions cost an edit-distance pass over
    /// every name, which adds up when hundreds of selectors go on to match call sites instead.
    /// </summary>
    public HashSet<MethodDefinition> Select(IList<Selector> selectors, HashSet<MethodDefinition> explicitlyNamed, List<Selector> unmatched)
    {
        var result = new HashSet<MethodDefinition>();
        foreach (var sel in selectors)
        {
            var count = 0;
            if (sel.Glob != null)
            {
                foreach (var (type, name) in _types)
                {
                    foreach (var m in type.Methods)
                    {
                        if (MethodEligibility.IsCompilerGenerated(m))
                            continue;
                        var target = sel.Parameters != null ? SignatureDisplay(m) : name + "." + m.Name;
                        if (sel.Glob.IsMatch(target) && (sel.Parameters == null || ParametersMatch(m, sel.Parameters)))
                        {
                            result.Add(m);
                            count++;
                        }
                    }
                }
            }
            else
            {
                foreach (var type in FindTypes(sel.TypeName))
                {
                    foreach (var m in FindMembers(type, sel.MemberName))
                    {
                        if (sel.Parameters != null && !ParametersMatch(m, sel.Parameters))
                            continue;
                        result.Add(m);
                        explicitlyNamed.Add(m);
                        count++;
                    }
                }
            }
            if (count == 0)
                unmatched.Add(sel);
        }
        return result;
    }

    /// <summary>
    /// True when a selector's type name refers to this assembly: one of its types (or the outer type of a nested
    /// name) or one of its namespaces. A miss there is a typo, not a method of another assembly.
    /// </summary>
    public bool IsOwnName(string typeName)
    {
        if (IsOwnType(typeName))
            return true;
        var plus = typeName.IndexOf('+');
        var outer = plus > 0 ? typeName.Substring(0, plus) : typeName;
        var dot = outer.LastIndexOf('.');
        var ns = dot > 0 ? outer.Substring(0, dot) : "";
        return _types.Any(t => t.Type.DeclaringType == null && t.Type.Namespace == ns && (ns.Length > 0 || t.Type.Name == outer));
    }

    /// <summary>True when the type (or, for a nested name, its outermost type) is defined in this assembly.</summary>
    public bool IsOwnType(string typeName)
    {
        if (FindTypes(typeName).Any())
            return true;
        var plus = typeName.IndexOf('+');
        return plus > 0 && FindTypes(typeName.Substring(0, plus)).Any();
    }

    private IEnumerable<TypeDefinition> FindTypes(string typeName)
    {
        var exact = _types.Where(t => string.Equals(t.Name, typeName, StringComparison.Ordinal)).Select(t => t.Type).ToList();
        if (exact.Count > 0)
            return exact;
        // Let users omit generic arity (Cache.Get for Cache`1.Get) when the name is otherwise unambiguous.
        var wanted = StripArity(typeName);
        return _types.Where(t => string.Equals(StripArity(t.Name), wanted, StringComparison.Ordinal)).Select(t => t.Type).ToList();
    }

    private static string StripArity(string name) => Regex.Replace(name, "`[0-9]+", "");

    private static IEnumerable<MethodDefinition> FindMembers(TypeDefinition type, string member)
    {
        var methods = type.Methods.Where(m => m.Name == member).ToList();
        if (methods.Count > 0)
            return methods;
        var accessors = new List<MethodDefinition>();
        foreach (var p in type.Properties.Where(p => p.Name == member))
        {
            if (p.GetMethod != null) accessors.Add(p.GetMethod);
            if (p.SetMethod != null) accessors.Add(p.SetMethod);
            if (p.HasOtherMethods) accessors.AddRange(p.OtherMethods);
        }
        foreach (var e in type.Events.Where(e => e.Name == member))
        {
            if (e.AddMethod != null) accessors.Add(e.AddMethod);
            if (e.RemoveMethod != null) accessors.Add(e.RemoveMethod);
            if (e.InvokeMethod != null) accessors.Add(e.InvokeMethod);
        }
        return accessors;
    }

    private static bool ParametersMatch(MethodDefinition m, string[] wanted)
    {
        if (m.Parameters.Count != wanted.Length)
            return false;
        for (int i = 0; i < wanted.Length; i++)
        {
            var actual = FormatType(m.Parameters[i].ParameterType).Replace(" ", "");
            if (!string.Equals(actual, wanted[i], StringComparison.Ordinal))
                return false;
        }
        return true;
    }

    /// <summary>Up to three existing names closest (Levenshtein) to what the user typed, to turn typos into one-line fixes.</summary>
    public string Suggest(Selector sel)
    {
        var typed = sel.Glob != null ? sel.Text : sel.TypeName + "." + sel.MemberName;
        var candidates = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (type, name) in _types)
        {
            if (name.StartsWith("<", StringComparison.Ordinal) || name.IndexOf("+<", StringComparison.Ordinal) >= 0)
                continue;
            candidates.Add(name + ".*");
            foreach (var m in type.Methods)
                if (!m.Name.StartsWith("<", StringComparison.Ordinal))
                    candidates.Add(name + "." + m.Name);
            foreach (var p in type.Properties)
                candidates.Add(name + "." + p.Name);
        }
        var best = candidates
            .Select(c => (Name: c, Distance: Levenshtein(typed, c)))
            .OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal)
            .Take(3)
            .Select(x => x.Name)
            .ToList();
        if (sel.Parameters != null)
        {
            var overloads = _types.Where(t => t.Name == sel.TypeName).SelectMany(t => t.Type.Methods.Where(m => m.Name == sel.MemberName)).Select(SignatureDisplay).ToList();
            if (overloads.Count > 0)
                return "existing overloads: " + string.Join(", ", overloads);
        }
        return best.Count == 0 ? "the assembly has no selectable methods" : "closest existing names: " + string.Join(", ", best);
    }

    internal static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            var tmp = prev; prev = cur; cur = tmp;
        }
        return prev[b.Length];
    }
}
