using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hybrid.Weaving;

/// <summary>
/// A method that is called from the module being woven but not defined in it (framework methods, other
/// assemblies). Identified by its declaring type definition, name, generic arity and open signature, so call sites
/// with different instantiations (<c>Count&lt;int&gt;</c>, <c>Count&lt;string&gt;</c>) share one target.
/// </summary>
internal sealed class CallTarget
{
    private CallTarget(MethodReference open, TypeReference declaringType, int typeArity, int methodArity)
    {
        Open = open;
        DeclaringType = declaringType;
        TypeArity = typeArity;
        MethodArity = methodArity;
        TypeName = CallSiteNames.UserTypeName(declaringType);
        Signature = CallSiteNames.Signature(open);
        Key = (declaringType.Scope?.Name ?? "") + "|" + declaringType.FullName + "|" + open.Name + "|" + methodArity.ToString(CultureInfo.InvariantCulture)
            + "|" + (open.HasThis ? "instance " : "static ") + Signature;
    }

    /// <summary>The method reference as written, over the declaring type's and method's own generic variables (!i, !!j).</summary>
    public MethodReference Open { get; }

    /// <summary>The declaring type, uninstantiated (e.g. <c>List`1</c>).</summary>
    public TypeReference DeclaringType { get; }

    public int TypeArity { get; }

    public int MethodArity { get; }

    public string TypeName { get; }

    public string Name => Open.Name;

    /// <summary>Canonical signature (docs/weaver.md, "Call-site guards"), e.g. <c>System.Int32(System.Collections.Generic.IEnumerable`1&lt;!!0&gt;)</c>.</summary>
    public string Signature { get; }

    public string Key { get; }

    /// <summary>Human-readable: <c>System.Linq.Enumerable.Count``1(System.Collections.Generic.IEnumerable`1&lt;!!0&gt;)</c>.</summary>
    public string Display => TypeName + "." + Name + (MethodArity > 0 ? "``" + MethodArity.ToString(CultureInfo.InvariantCulture) : "")
        + "(" + string.Join(",", Open.Parameters.Select(p => CallSiteNames.Canonical(p.ParameterType))) + ")";

    internal static bool IsCallOpcode(Code code)
        => code == Code.Call || code == Code.Callvirt || code == Code.Newobj || code == Code.Ldftn || code == Code.Ldvirtftn;

    /// <summary>Returns the target of a call instruction's operand when it lies outside the module, otherwise null.</summary>
    internal static CallTarget? From(MethodReference mr)
    {
        var declared = mr.DeclaringType;
        // Array methods (Get/Set/Address/.ctor of T[,]) are provided by the runtime and have no name to select.
        if (declared == null || declared is ArrayType || declared is GenericParameter)
            return null;
        var element = declared.GetElementType();
        // Methods defined in this module are woven with a method guard instead.
        if (element is TypeDefinition || element is GenericParameter || element.Scope is ModuleDefinition)
            return null;
        var open = mr is GenericInstanceMethod gim ? gim.ElementMethod : mr;
        var typeArity = declared is GenericInstanceType git ? git.GenericArguments.Count : 0;
        var methodArity = mr is GenericInstanceMethod g ? g.GenericArguments.Count : 0;
        return new CallTarget(open, element, typeArity, methodArity);
    }

    /// <summary>Every distinct external call target in the module's method bodies, in metadata order of first use.</summary>
    internal static List<CallTarget> Scan(ModuleDefinition module)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<CallTarget>();
        foreach (var type in module.GetTypes())
        {
            if (CallSiteWeaver.IsHolder(type))
                continue;
            foreach (var m in type.Methods)
            {
                if (!m.HasBody)
                    continue;
                foreach (var ins in m.Body.Instructions)
                {
                    if (!IsCallOpcode(ins.OpCode.Code) || !(ins.Operand is MethodReference mr))
                        continue;
                    var t = From(mr);
                    if (t != null && seen.Add(t.Key))
                        result.Add(t);
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Targets picked by a selector, with the same syntax as for defined methods: <c>Ns.Type.Method</c>,
    /// <c>Ns.Type.Property</c> (accessors), <c>Ns.Type..ctor</c>, a parameter list, or a glob.
    /// </summary>
    internal static List<CallTarget> Select(IEnumerable<CallTarget> targets, Selector sel)
    {
        if (sel.Glob != null)
        {
            return targets.Where(t =>
                sel.Glob.IsMatch(sel.Parameters != null
                    ? t.TypeName + "." + t.Name + "(" + string.Join(",", t.Open.Parameters.Select(p => CallSiteNames.Canonical(p.ParameterType))) + ")"
                    : t.TypeName + "." + t.Name)
                && (sel.Parameters == null || ParametersMatch(t, sel.Parameters))).ToList();
        }
        var wanted = StripArity(sel.TypeName);
        var ofType = targets.Where(t => t.TypeName == sel.TypeName || StripArity(t.TypeName) == wanted).ToList();
        var named = ofType.Where(t => t.Name == sel.MemberName).ToList();
        if (named.Count == 0)
        {
            // Property and event names select their accessors, as for defined methods.
            var accessors = new[] { "get_", "set_", "add_", "remove_" }.Select(p => p + sel.MemberName).ToList();
            named = ofType.Where(t => accessors.Contains(t.Name)).ToList();
        }
        if (sel.Parameters != null)
            named = named.Where(t => ParametersMatch(t, sel.Parameters)).ToList();
        return named;
    }

    private static string StripArity(string name) => Regex.Replace(name, "`[0-9]+", "");

    private static bool ParametersMatch(CallTarget t, string[] wanted)
    {
        var ps = t.Open.Parameters;
        if (ps.Count != wanted.Length)
            return false;
        for (int i = 0; i < wanted.Length; i++)
            if (!CallSiteNames.ParameterPattern(ps[i].ParameterType).IsMatch(wanted[i]))
                return false;
        return true;
    }
}
