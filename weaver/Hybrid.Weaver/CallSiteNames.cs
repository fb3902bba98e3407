using System;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>Names and canonical signatures for call targets (the engine computes the same strings from reflection).</summary>
internal static class CallSiteNames
{
    private const char GenericPlaceholder = '\u0001';

    public static string UserTypeName(TypeReference t)
        => t.DeclaringType != null ? UserTypeName(t.DeclaringType) + "+" + t.Name : (t.Namespace.Length > 0 ? t.Namespace + "." + t.Name : t.Name);

    /// <summary>
    /// <c>Return(Param,Param,...)</c> with every type in <see cref="Canonical"/> form. Computed from the open
    /// signature, so it is the same for every instantiation and for every version of the declaring assembly.
    /// </summary>
    public static string Signature(MethodReference open)
    {
        var ret = open.Name == ".ctor" ? "System.Void" : Canonical(open.ReturnType);
        return ret + "(" + string.Join(",", open.Parameters.Select(p => Canonical(p.ParameterType))) + ")";
    }

    /// <summary>
    /// Namespace-qualified names, nested types joined with '+', generic instances as <c>Name`n&lt;A,B&gt;</c>,
    /// type variables as <c>!i</c>, method variables as <c>!!j</c>, suffixes <c>&amp;</c>, <c>*</c>, <c>[]</c>,
    /// <c>[,]</c>; custom modifiers dropped; function pointers as <c>fnptr</c>.
    /// </summary>
    public static string Canonical(TypeReference t) => Format(t, false);

    /// <summary>Matches a selector's parameter spelling: type variables may be written by any name or as !i / !!j.</summary>
    public static Regex ParameterPattern(TypeReference t)
    {
        var text = Format(t, true);
        var pattern = Regex.Escape(text).Replace(GenericPlaceholder.ToString(), "(?:[A-Za-z_][A-Za-z0-9_]*|!!?[0-9]+)");
        return new Regex("^" + pattern + "$", RegexOptions.CultureInvariant);
    }

    private static string Format(TypeReference t, bool placeholder)
    {
        switch (t)
        {
            case RequiredModifierType r: return Format(r.ElementType, placeholder);
            case OptionalModifierType o: return Format(o.ElementType, placeholder);
            case PinnedType p: return Format(p.ElementType, placeholder);
            case SentinelType s: return Format(s.ElementType, placeholder);
            case ByReferenceType b: return Format(b.ElementType, placeholder) + "&";
            case PointerType p: return Format(p.ElementType, placeholder) + "*";
            case ArrayType a: return Format(a.ElementType, placeholder) + "[" + new string(',', Math.Max(0, a.Rank - 1)) + "]";
            case GenericInstanceType g:
                return Format(g.ElementType, placeholder) + "<" + string.Join(",", g.GenericArguments.Select(x => Format(x, placeholder))) + ">";
            case GenericParameter gp:
                return placeholder ? GenericPlaceholder.ToString()
                    : (gp.Type == GenericParameterType.Method ? "!!" : "!") + gp.Position.ToString(CultureInfo.InvariantCulture);
            case FunctionPointerType _: return "fnptr";
            default: return UserTypeName(t);
        }
    }
}
