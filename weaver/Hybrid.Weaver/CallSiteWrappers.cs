using System;
using System.Collections.Generic;
using System.Globalization;
using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;

namespace Hybrid.Weaving;

/// <summary>
/// Generates the call-site wrappers of one module (docs/weaver.md, "Call-site guards"): per call target and call kind a
/// guard class with its Handler delegate and Target slot, and the Call_k method that call sites call instead, all nested
/// in one holder class. <see cref="CallSiteWeaver"/> decides which call sites use them.
/// </summary>
internal sealed class CallSiteWrappers
{
    private readonly ModuleDefinition _module;
    private readonly ContractWriter _weaver;
    private readonly Dictionary<string, CallSiteWrapper> _wrappers = new Dictionary<string, CallSiteWrapper>(StringComparer.Ordinal);
    private readonly List<CallSiteWrapper> _order = new List<CallSiteWrapper>();
    private Dictionary<string, TypeReference>? _typeReferences;
    private TypeDefinition? _holder;
    private MethodReference? _attributeCtor;

    public CallSiteWrappers(ModuleDefinition module, ContractWriter weaver)
    {
        _module = module;
        _weaver = weaver;
    }

    /// <summary>The wrappers made so far, in the order of their numbers (Guard_k, Call_k).</summary>
    public IReadOnlyList<CallSiteWrapper> All => _order;

    /// <summary>The holder class of all wrappers; null while there are none.</summary>
    public TypeDefinition? Holder => _holder;

    private TypeDefinition HolderType()
    {
        if (_holder == null)
        {
            _holder = new TypeDefinition("", CallSiteWeaver.HolderName,
                TypeAttributes.NotPublic | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.BeforeFieldInit | TypeAttributes.Class,
                _module.TypeSystem.Object);
            _holder.CustomAttributes.Add(new CustomAttribute(_weaver.CompilerGeneratedCtor));
            _module.Types.Add(_holder);
        }
        return _holder;
    }

    private MethodReference AttributeCtor()
    {
        return _attributeCtor ??= _weaver.InjectAttribute(CallSiteWeaver.CallSiteAttributeName,
            ("declaringType", "DeclaringType", _weaver.SystemType),
            ("methodName", "MethodName", _module.TypeSystem.String),
            ("genericArity", "GenericArity", _module.TypeSystem.Int32),
            ("signature", "Signature", _module.TypeSystem.String),
            ("callKind", "CallKind", _module.TypeSystem.String));
    }

    /// <summary>The wrapper for calls of <paramref name="target"/> made with <paramref name="kind"/>, created on first use.</summary>
    public CallSiteWrapper GetWrapper(CallTarget target, string kind)
    {
        var key = target.Key + "|" + kind;
        if (_wrappers.TryGetValue(key, out var w))
            return w;
        w = Create(target, kind, _order.Count);
        _wrappers.Add(key, w);
        _order.Add(w);
        return w;
    }

    private CallSiteWrapper Create(CallTarget target, string kind, int k)
    {
        var holderType = HolderType();
        var suffix = k.ToString(CultureInfo.InvariantCulture);
        int n = target.TypeArity, m = target.MethodArity;
        bool generic = n + m > 0;
        var open = target.Open;
        var element = target.DeclaringType;

        // Resolution is best effort (reference assemblies may be absent): it tells value types apart reliably and
        // supplies generic constraints, without which a wrapper around e.g. Enum.Parse<T> where T : struct would not JIT.
        var typeDef = TryResolve(() => element.Resolve());
        var methodDef = generic ? TryResolve(() => open.Resolve()) : null;
        if (typeDef != null && typeDef.IsValueType && !element.IsValueType)
            element.IsValueType = true;
        bool valueType = typeDef?.IsValueType ?? element.IsValueType;

        var guard = new TypeDefinition("", "Guard_" + suffix,
            TypeAttributes.NestedPublic | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.BeforeFieldInit | TypeAttributes.Class,
            _module.TypeSystem.Object);
        holderType.NestedTypes.Add(guard);
        guard.CustomAttributes.Add(new CustomAttribute(_weaver.CompilerGeneratedCtor));
        var id = new CustomAttribute(AttributeCtor());
        id.ConstructorArguments.Add(new CustomAttributeArgument(_weaver.SystemType, element));
        id.ConstructorArguments.Add(new CustomAttributeArgument(_module.TypeSystem.String, open.Name));
        id.ConstructorArguments.Add(new CustomAttributeArgument(_module.TypeSystem.Int32, m));
        id.ConstructorArguments.Add(new CustomAttributeArgument(_module.TypeSystem.String, target.Signature));
        id.ConstructorArguments.Add(new CustomAttributeArgument(_module.TypeSystem.String, kind));
        guard.CustomAttributes.Add(id);

        var handler = new TypeDefinition("", "Handler", TypeAttributes.NestedPublic | TypeAttributes.Sealed | TypeAttributes.Class, _weaver.MulticastDelegate);
        guard.NestedTypes.Add(handler);

        var wrapper = new MethodDefinition("Call_" + suffix,
            MethodAttributes.Assembly | MethodAttributes.Static | MethodAttributes.HideBySig, _module.TypeSystem.Void)
        {
            // Inlined into callers where the JIT can: an empty slot then costs a load and a branch at the call site.
            ImplAttributes = MethodImplAttributes.IL | MethodImplAttributes.Managed | MethodImplAttributes.AggressiveInlining,
        };
        wrapper.CustomAttributes.Add(new CustomAttribute(_weaver.CompilerGeneratedCtor));
        holderType.Methods.Add(wrapper);

        if (generic)
        {
            foreach (var owner in new IGenericParameterProvider[] { guard, handler, wrapper })
            {
                for (int i = 0; i < n; i++)
                    owner.GenericParameters.Add(new GenericParameter("T" + i.ToString(CultureInfo.InvariantCulture), owner));
                for (int j = 0; j < m; j++)
                    owner.GenericParameters.Add(new GenericParameter("M" + j.ToString(CultureInfo.InvariantCulture), owner));
                CopyConstraints(typeDef, methodDef, owner.GenericParameters, n, m, element.Scope);
            }
        }
        var toHandler = new GenericRemapper(handler.GenericParameters, n);
        var toWrapper = new GenericRemapper(wrapper.GenericParameters, n);

        // Shape: instance first for instance calls ('ref T' for value types), then the parameters; newobj returns the new object.
        var shape = new List<(string Name, ParameterAttributes Attributes, TypeReference Type, bool Self)>();
        TypeReference InstanceOf(IList<GenericParameter> ps)
        {
            if (n == 0)
                return element;
            var g = new GenericInstanceType(element);
            for (int i = 0; i < n; i++)
                g.GenericArguments.Add(ps[i]);
            return g;
        }
        if (open.HasThis && kind != "newobj")
            shape.Add(("self", ParameterAttributes.None, null!, true));
        int index = 0;
        foreach (var p in open.Parameters)
        {
            var name = string.IsNullOrEmpty(p.Name) ? "arg" + index.ToString(CultureInfo.InvariantCulture) : p.Name;
            shape.Add((name, p.Attributes & (ParameterAttributes.In | ParameterAttributes.Out), p.ParameterType, false));
            index++;
        }
        TypeReference ParameterType((string Name, ParameterAttributes Attributes, TypeReference Type, bool Self) s, IList<GenericParameter> ps, GenericRemapper map)
        {
            if (!s.Self)
                return map.Remap(s.Type);
            var inst = InstanceOf(ps);
            return valueType ? new ByReferenceType(inst) : inst;
        }
        TypeReference ReturnType(IList<GenericParameter> ps, GenericRemapper map)
            => kind == "newobj" ? InstanceOf(ps) : map.Remap(open.ReturnType);

        var invoke = HandlerDelegate.AddMembers(handler, _module, ReturnType(handler.GenericParameters, toHandler));
        foreach (var s in shape)
            invoke.Parameters.Add(new ParameterDefinition(s.Name, s.Attributes, ParameterType(s, handler.GenericParameters, toHandler)));

        var field = MethodGuardBuilder.AddTargetSlot(guard, handler, generic);

        wrapper.ReturnType = ReturnType(wrapper.GenericParameters, toWrapper);
        foreach (var s in shape)
            wrapper.Parameters.Add(new ParameterDefinition(s.Name, s.Attributes, ParameterType(s, wrapper.GenericParameters, toWrapper)));

        // References used inside the wrapper, instantiated over its own method variables.
        FieldReference fieldRef = field;
        MethodReference invokeRef = invoke;
        MethodReference targetRef;
        if (generic)
        {
            var guardInst = new GenericInstanceType(guard);
            var handlerInst = new GenericInstanceType(handler);
            foreach (var gp in wrapper.GenericParameters)
            {
                guardInst.GenericArguments.Add(gp);
                handlerInst.GenericArguments.Add(gp);
            }
            fieldRef = new FieldReference(field.Name, field.FieldType, guardInst);
            invokeRef = new MethodReference("Invoke", invoke.ReturnType, handlerInst) { HasThis = true };
            foreach (var p in invoke.Parameters)
                invokeRef.Parameters.Add(new ParameterDefinition(p.ParameterType));
        }
        var declaring = InstanceOf(wrapper.GenericParameters);
        var r = new MethodReference(open.Name, open.ReturnType, declaring)
        {
            HasThis = open.HasThis,
            ExplicitThis = open.ExplicitThis,
            CallingConvention = open.CallingConvention,
        };
        foreach (var p in open.Parameters)
            r.Parameters.Add(new ParameterDefinition(p.ParameterType)); // signature types stay over !i/!!j: encoded by position
        for (int j = 0; j < m; j++)
            r.GenericParameters.Add(new GenericParameter("M" + j.ToString(CultureInfo.InvariantCulture), r));
        targetRef = r;
        if (m > 0)
        {
            var gi = new GenericInstanceMethod(r);
            for (int j = 0; j < m; j++)
                gi.GenericArguments.Add(wrapper.GenericParameters[n + j]);
            targetRef = gi;
        }

        var il = wrapper.Body.GetILProcessor();
        var pop = Instruction.Create(OpCodes.Pop);
        il.Emit(OpCodes.Ldsfld, fieldRef);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Brfalse, pop);
        foreach (var p in wrapper.Parameters)
            il.Emit(OpCodes.Ldarg, p);
        il.Emit(OpCodes.Callvirt, invokeRef);
        il.Emit(OpCodes.Ret);
        il.Append(pop);
        foreach (var p in wrapper.Parameters)
            il.Emit(OpCodes.Ldarg, p);
        il.Emit(kind == "newobj" ? OpCodes.Newobj : kind == "callvirt" ? OpCodes.Callvirt : OpCodes.Call, targetRef);
        il.Emit(OpCodes.Ret);
        wrapper.Body.OptimizeMacros();

        return new CallSiteWrapper { Target = target, Kind = kind, Guard = guard, Method = wrapper };
    }

    private static T? TryResolve<T>(Func<T> resolve) where T : class
    {
        try
        {
            return resolve();
        }
        catch (Exception e) when (e is AssemblyResolutionException || e is System.IO.IOException || e is BadImageFormatException
            || e is InvalidOperationException || e is NotSupportedException || e is ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Copies special constraints and constraint types from the resolved definitions onto a wrapper's parameters.</summary>
    private void CopyConstraints(TypeDefinition? typeDef, MethodDefinition? methodDef, IList<GenericParameter> targets, int n, int m, IMetadataScope scope)
    {
        var map = new GenericRemapper(targets, n);
        void Copy(IList<GenericParameter> sources, int offset, int count)
        {
            if (sources.Count != count)
                return;
            for (int i = 0; i < count; i++)
            {
                var src = sources[i];
                targets[offset + i].Attributes = src.Attributes & ~GenericParameterAttributes.VarianceMask;
                if (!src.HasConstraints)
                    continue;
                foreach (var c in src.Constraints)
                {
                    var t = Rescope(c.ConstraintType, map, scope);
                    if (t != null)
                        targets[offset + i].Constraints.Add(new GenericParameterConstraint(t));
                }
            }
        }
        if (typeDef != null)
            Copy(typeDef.GenericParameters, 0, n);
        if (methodDef != null)
            Copy(methodDef.GenericParameters, n, m);
    }

    /// <summary>
    /// Re-expresses a constraint type from a foreign (resolved) module in this module: through a type reference the
    /// module already has, else through the scope the target itself is referenced from. Never adds an assembly reference.
    /// </summary>
    private TypeReference? Rescope(TypeReference t, GenericRemapper map, IMetadataScope scope)
    {
        switch (t)
        {
            case GenericParameter gp:
                return map.Remap(gp);
            case GenericInstanceType g:
            {
                var element = Rescope(g.ElementType, map, scope);
                if (element == null)
                    return null;
                var copy = new GenericInstanceType(element);
                foreach (var a in g.GenericArguments)
                {
                    var arg = Rescope(a, map, scope);
                    if (arg == null)
                        return null;
                    copy.GenericArguments.Add(arg);
                }
                return copy;
            }
            case TypeSpecification _:
                return null;
            default:
            {
                if (_typeReferences == null)
                {
                    _typeReferences = new Dictionary<string, TypeReference>(StringComparer.Ordinal);
                    foreach (var r in _module.GetTypeReferences())
                        if (!_typeReferences.ContainsKey(r.FullName))
                            _typeReferences.Add(r.FullName, r);
                }
                if (_typeReferences.TryGetValue(t.FullName, out var existing))
                    return existing;
                if (t.Module == _module)
                    return t;
                TypeReference copy;
                if (t.DeclaringType != null)
                {
                    var outer = Rescope(t.DeclaringType, map, scope);
                    if (outer == null)
                        return null;
                    copy = new TypeReference("", t.Name, _module, scope, t.IsValueType) { DeclaringType = outer };
                }
                else
                    copy = new TypeReference(t.Namespace, t.Name, _module, scope, t.IsValueType);
                _typeReferences[t.FullName] = copy;
                return copy;
            }
        }
    }
}
