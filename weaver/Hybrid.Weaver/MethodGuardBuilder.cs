using System;
using System.Collections.Generic;
using System.Linq;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// Builds the guard holder of a woven method (docs/weaver.md, "woven-assembly contract", 2): the nested class
/// <c>&lt;Hybrid&gt;Guard_k</c>, generic over the type's and the method's parameters so each closed instantiation has
/// its own slot, with its <c>Handler</c> delegate and its <c>Target</c> slot.
/// </summary>
internal sealed class MethodGuardBuilder
{
    private readonly ModuleDefinition _module;
    private readonly MethodReference _compilerGeneratedCtor;
    private readonly TypeReference _multicastDelegate;

    public MethodGuardBuilder(ModuleDefinition module, MethodReference compilerGeneratedCtor, TypeReference multicastDelegate)
    {
        _module = module;
        _compilerGeneratedCtor = compilerGeneratedCtor;
        _multicastDelegate = multicastDelegate;
    }

    /// <summary>
    /// Adds the holder of <paramref name="m"/> to its declaring type. Returns the definitions and, for use inside
    /// <paramref name="m"/>, the slot and Invoke references instantiated over its own type and method variables.
    /// </summary>
    public (TypeDefinition Guard, MethodDefinition Invoke, FieldReference Field, MethodReference Invoker) CreateGuard(MethodDefinition m, string guardName)
    {
        var type = m.DeclaringType;
        int n = type.GenericParameters.Count;
        bool generic = n + m.GenericParameters.Count > 0;

        var guard = new TypeDefinition("", guardName,
            TypeAttributes.NestedPublic | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.BeforeFieldInit | TypeAttributes.Class,
            _module.TypeSystem.Object);
        type.NestedTypes.Add(guard);
        guard.CustomAttributes.Add(new CustomAttribute(_compilerGeneratedCtor));

        var handler = new TypeDefinition("", "Handler", TypeAttributes.NestedPublic | TypeAttributes.Sealed | TypeAttributes.Class, _multicastDelegate);
        guard.NestedTypes.Add(handler);

        Func<TypeReference, TypeReference> toHandler = t => t;
        if (generic)
        {
            // One holder per closed instantiation: the slot for Cache<int>.Get is distinct from Cache<string>.Get.
            var used = new HashSet<string>(StringComparer.Ordinal);
            GenericRemapper.CopyGenericParameters(guard, type.GenericParameters, used);
            GenericRemapper.CopyGenericParameters(guard, m.GenericParameters, used);
            var guardMap = new GenericRemapper(guard.GenericParameters, n);
            guardMap.CopyConstraints(type.GenericParameters, guard.GenericParameters, 0);
            guardMap.CopyConstraints(m.GenericParameters, guard.GenericParameters, n);

            // Nested types do not inherit their outer type's parameters in metadata; Handler must redeclare them.
            GenericRemapper.CopyGenericParameters(handler, guard.GenericParameters);
            var handlerMap = new GenericRemapper(handler.GenericParameters, n);
            handlerMap.CopyConstraints(type.GenericParameters, handler.GenericParameters, 0);
            handlerMap.CopyConstraints(m.GenericParameters, handler.GenericParameters, n);
            toHandler = handlerMap.Remap;
        }

        var invoke = HandlerDelegate.AddMembers(handler, _module, toHandler(m.ReturnType));
        if (m.HasThis)
            invoke.Parameters.Add(new ParameterDefinition("self", ParameterAttributes.None, InstanceType(type, handler.GenericParameters, n)));
        foreach (var p in m.Parameters)
            invoke.Parameters.Add(new ParameterDefinition(p.Name, p.Attributes & (ParameterAttributes.In | ParameterAttributes.Out), toHandler(p.ParameterType)));

        var field = AddTargetSlot(guard, handler, generic);

        if (!generic)
            return (guard, invoke, field, invoke);

        // Inside M the holder is instantiated with M's own type and method variables (!0..!n-1, !!0..!!m-1).
        var guardInst = new GenericInstanceType(guard);
        var handlerInst = new GenericInstanceType(handler);
        foreach (var gp in type.GenericParameters.Concat(m.GenericParameters))
        {
            guardInst.GenericArguments.Add(gp);
            handlerInst.GenericArguments.Add(gp);
        }
        var fieldRef = new FieldReference(field.Name, field.FieldType, guardInst);
        var invokeRef = new MethodReference("Invoke", invoke.ReturnType, handlerInst) { HasThis = true };
        foreach (var p in invoke.Parameters)
            invokeRef.Parameters.Add(new ParameterDefinition(p.ParameterType));
        return (guard, invoke, fieldRef, invokeRef);
    }

    /// <summary>The instantiated declaring type (T&lt;T1..Tn&gt;), by reference for value types because 'this' is a managed pointer there.</summary>
    private static TypeReference InstanceType(TypeDefinition type, IList<GenericParameter> parameters, int n)
    {
        TypeReference t = type;
        if (n > 0)
        {
            var g = new GenericInstanceType(type);
            for (int i = 0; i < n; i++)
                g.GenericArguments.Add(parameters[i]);
            t = g;
        }
        return type.IsValueType ? new ByReferenceType(t) : t;
    }

    /// <summary>
    /// The redirect slot every guard has (method guards and call-site guards alike): <c>public static Handler Target</c>,
    /// typed with the guard's own generic parameters so each closed instantiation has its own slot.
    /// </summary>
    internal static FieldDefinition AddTargetSlot(TypeDefinition guard, TypeDefinition handler, bool generic)
    {
        TypeReference handlerInGuard = handler;
        if (generic)
        {
            var instance = new GenericInstanceType(handler);
            foreach (var parameter in guard.GenericParameters)
                instance.GenericArguments.Add(parameter);
            handlerInGuard = instance;
        }
        var field = new FieldDefinition("Target", FieldAttributes.Public | FieldAttributes.Static, handlerInGuard);
        guard.Fields.Add(field);
        return field;
    }
}
