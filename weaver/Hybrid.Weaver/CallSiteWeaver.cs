using System;
using System.Collections.Generic;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hybrid.Weaving;

/// <summary>
/// Redirects the call sites of selected external methods in one module through injected wrappers
/// (docs/weaver.md, "Call-site guards").
/// </summary>
internal sealed class CallSiteWeaver
{
    internal const string HolderName = "<Hybrid>CallSites";
    internal const string CallSiteAttributeName = "HybridCallSiteAttribute";
    internal const string CallSitesAttributeName = "HybridCallSitesAttribute";

    private readonly ModuleDefinition _module;
    private readonly ContractWriter _weaver;
    private readonly Dictionary<string, CallTarget> _selected;
    private readonly Dictionary<string, (CallTarget Target, string Reason, string FirstCaller, int Count)> _leftAlone =
        new Dictionary<string, (CallTarget, string, string, int)>(StringComparer.Ordinal);
    private readonly List<string> _leftAloneOrder = new List<string>();
    private readonly CallSiteWrappers _wrappers;

    public CallSiteWeaver(ModuleDefinition module, ContractWriter weaver, IEnumerable<CallTarget> targets)
    {
        _module = module;
        _weaver = weaver;
        _wrappers = new CallSiteWrappers(module, weaver);
        _selected = new Dictionary<string, CallTarget>(StringComparer.Ordinal);
        foreach (var t in targets)
            _selected[t.Key] = t;
    }

    internal static bool IsHolder(TypeDefinition type)
    {
        for (var t = type; t != null; t = t.DeclaringType)
            if (t.DeclaringType == null && t.Namespace.Length == 0 && t.Name == HolderName)
                return true;
        return false;
    }

    public IReadOnlyList<WovenCallSite> Woven => _wrappers.All.Select(w => new WovenCallSite(w.Target.Display, w.Kind, w.Guard.FullName, w.Method.Name, w.Sites)).ToList();

    /// <summary>Call sites that were left alone: (target, reason, caller of the first one, count).</summary>
    public IEnumerable<(CallTarget Target, string Reason, string FirstCaller, int Count)> LeftAlone => _leftAloneOrder.Select(k => _leftAlone[k]);

    /// <summary>Rewrites every call site of a selected target in every method body of the module (woven methods and their Original copies included).</summary>
    public void Run()
    {
        foreach (var type in _module.GetTypes().ToList())
        {
            if (IsHolder(type))
                continue;
            foreach (var m in type.Methods.ToList())
                if (m.HasBody)
                    Rewrite(m);
        }
        if (_wrappers.Holder is { } holder)
        {
            var ctor = _weaver.InjectAttribute(CallSitesAttributeName, ("callSitesClass", "CallSitesClass", _weaver.SystemType));
            var attr = new CustomAttribute(ctor);
            attr.ConstructorArguments.Add(new CustomAttributeArgument(_weaver.SystemType, holder));
            _module.Assembly.CustomAttributes.Add(attr);
        }
    }

    private void Rewrite(MethodDefinition caller)
    {
        var instructions = caller.Body.Instructions;
        for (int i = 0; i < instructions.Count; i++)
        {
            var ins = instructions[i];
            var code = ins.OpCode.Code;
            if (!CallTarget.IsCallOpcode(code) || !(ins.Operand is MethodReference mr))
                continue;
            var found = CallTarget.From(mr);
            if (found == null || !_selected.TryGetValue(found.Key, out var target))
                continue;
            var prev = i > 0 ? instructions[i - 1] : null;
            string? why = null;
            string kind = "call";
            switch (code)
            {
                case Code.Call:
                    if (mr.Name == ".ctor")
                        why = "a constructor invoked with 'call' (a base or chained constructor call, or in-place struct initialisation) initialises an existing object and cannot be replaced; only 'new' expressions (newobj) are redirected";
                    break;
                case Code.Callvirt:
                    kind = "callvirt";
                    break;
                case Code.Newobj:
                    kind = "newobj";
                    if (IsDelegateConstructor(mr))
                        why = "delegate constructors are implemented by the runtime, which expects the target method pointer (ldftn/ldvirtftn) right before them; the delegates' static targets are redirected instead";
                    break;
                case Code.Ldftn:
                    if (mr.HasThis)
                        why = "a delegate or function pointer over an instance method (ldftn) keeps pointing at the method itself; only delegates over static methods are redirected";
                    break;
                case Code.Ldvirtftn:
                    why = "a delegate over a virtual method (ldvirtftn) keeps pointing at the method itself; only delegates over static methods are redirected";
                    break;
            }
            if (prev != null && prev.OpCode.Code == Code.Constrained)
                why = "a 'constrained.' call (a method called on a generic type parameter or on a value type through an interface/base method) is dispatched by the runtime per type argument and is left alone";
            if (target.Open.CallingConvention == MethodCallingConvention.VarArg || target.Open.ExplicitThis)
                why = "varargs (__arglist) and explicit-this methods cannot be forwarded through a delegate";
            if (why != null)
            {
                var key = target.Key + "|" + why;
                if (_leftAlone.TryGetValue(key, out var entry))
                    _leftAlone[key] = (entry.Target, entry.Reason, entry.FirstCaller, entry.Count + 1);
                else
                {
                    _leftAlone[key] = (target, why, caller.FullName, 1);
                    _leftAloneOrder.Add(key);
                }
                continue;
            }

            var w = _wrappers.GetWrapper(target, kind);
            // A tail call to the wrapper would be legal but would drop the caller's frame for no benefit, and
            // 'tail.' must immediately precede a call followed by ret; a nop keeps offsets of branch targets intact.
            if (prev != null && prev.OpCode.Code == Code.Tail)
            {
                prev.OpCode = OpCodes.Nop;
                prev.Operand = null;
            }
            // The instruction object stays the same, so its sequence point (and any branch targeting it) is kept.
            if (code != Code.Ldftn)
                ins.OpCode = OpCodes.Call;
            ins.Operand = WrapperReference(w, mr);
            w.Sites++;
        }
    }

    /// <summary>Delegate constructors always have the shape .ctor(object, native int).</summary>
    private static bool IsDelegateConstructor(MethodReference mr)
        => mr.Name == ".ctor" && mr.Parameters.Count == 2
           && mr.Parameters[0].ParameterType.MetadataType == MetadataType.Object
           && mr.Parameters[1].ParameterType.MetadataType == MetadataType.IntPtr;

    private static MethodReference WrapperReference(CallSiteWrapper w, MethodReference site)
    {
        if (!w.Method.HasGenericParameters)
            return w.Method;
        var gi = new GenericInstanceMethod(w.Method);
        if (site.DeclaringType is GenericInstanceType git)
            foreach (var a in git.GenericArguments)
                gi.GenericArguments.Add(a);
        if (site is GenericInstanceMethod gim)
            foreach (var a in gim.GenericArguments)
                gi.GenericArguments.Add(a);
        return gi;
    }
}
