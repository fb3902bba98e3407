using System;
using System.Collections.Generic;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;

namespace Hybrid.Weaving;

/// <summary>
/// Applies the woven-assembly contract (docs/weaver.md) to individual methods of one module: numbers each method's
/// guard and Original copy, has <see cref="MethodGuardBuilder"/>, <see cref="OriginalBodyCopier"/> and
/// <see cref="GuardInjector"/> do their parts, and injects the contract's attributes. <see cref="ModuleWeaving"/>
/// drives it, for the weaver's own runs and for the Fody add-in alike.
/// </summary>
internal sealed class ContractWriter
{
    internal const string GuardAttributeNamespace = "Hybrid.Woven";
    internal const string GuardAttributeName = "HybridGuardAttribute";
    internal const string WovenAttributeName = "HybridWovenAttribute";
    internal const string GuardPrefix = "<Hybrid>Guard_";
    internal const string OriginalPrefix = "<Hybrid>Original_";

    private readonly ModuleDefinition _module;
    private readonly bool _hasSymbols;
    private readonly TypeReference _systemType;
    private readonly TypeReference _attributeType;
    private readonly TypeReference _multicastDelegate;
    private readonly MethodReference _compilerGeneratedCtor;
    private readonly MethodGuardBuilder _guards;
    private readonly OriginalBodyCopier _originals;
    private readonly GuardInjector _injector;
    private readonly Dictionary<TypeDefinition, (int Next, HashSet<string> Taken)> _nextIndex = new Dictionary<TypeDefinition, (int, HashSet<string>)>();
    private MethodReference? _guardAttributeCtor;

    internal TypeReference SystemType => _systemType;
    internal TypeReference MulticastDelegate => _multicastDelegate;
    internal MethodReference CompilerGeneratedCtor => _compilerGeneratedCtor;

    public ContractWriter(ModuleDefinition module)
    {
        _module = module;
        _hasSymbols = module.HasSymbols;
        // Every reference goes through the module's own core library reference (System.Runtime, netstandard or
        // mscorlib). Importing typeof(X) from the weaver's runtime would leak System.Private.CoreLib into the output.
        var corlib = module.TypeSystem.CoreLibrary;
        _systemType = new TypeReference("System", "Type", module, corlib);
        _attributeType = new TypeReference("System", "Attribute", module, corlib);
        _multicastDelegate = new TypeReference("System", "MulticastDelegate", module, corlib);
        var cg = new TypeReference("System.Runtime.CompilerServices", "CompilerGeneratedAttribute", module, corlib);
        _compilerGeneratedCtor = new MethodReference(".ctor", module.TypeSystem.Void, cg) { HasThis = true };
        _guards = new MethodGuardBuilder(module, _compilerGeneratedCtor, _multicastDelegate);
        _originals = new OriginalBodyCopier(module, _hasSymbols, _compilerGeneratedCtor);
        _injector = new GuardInjector(_hasSymbols);
    }

    /// <summary>Returns null when <paramref name="m"/> can be woven, otherwise the reason (and its code).</summary>
    public string? WhyNot(MethodDefinition m, out string code, out int splitIndex) => MethodEligibility.WhyNot(m, out code, out splitIndex);

    public WovenMethod Weave(MethodDefinition m, int splitIndex)
    {
        var type = m.DeclaringType;
        var k = NextIndex(type);
        var guardName = GuardPrefix + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var originalName = OriginalPrefix + k.ToString(System.Globalization.CultureInfo.InvariantCulture) + "_" + m.Name;

        var (guard, invoke, fieldRef, invokeRef) = _guards.CreateGuard(m, guardName);
        _originals.CreateOriginal(m, originalName, splitIndex);
        _injector.InjectGuard(m, splitIndex, fieldRef, invokeRef, invoke);

        var attr = new CustomAttribute(GuardAttributeCtor());
        attr.ConstructorArguments.Add(new CustomAttributeArgument(_systemType, guard));
        attr.ConstructorArguments.Add(new CustomAttributeArgument(_module.TypeSystem.String, originalName));
        m.CustomAttributes.Add(attr);

        return new WovenMethod(m.FullName, guard.FullName, originalName);
    }

    private int NextIndex(TypeDefinition type)
    {
        if (!_nextIndex.TryGetValue(type, out var state))
        {
            // Names must be unique within the type; skip any a hand-written or foreign nested type already took.
            // Collected once per type: re-scanning NestedTypes per method is quadratic on types with thousands of methods.
            state = (0, new HashSet<string>(type.NestedTypes.Select(t => t.Name), StringComparer.Ordinal));
        }
        var k = state.Next;
        while (state.Taken.Contains(GuardPrefix + k.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            k++;
        _nextIndex[type] = (k + 1, state.Taken);
        return k;
    }

    private MethodReference GuardAttributeCtor()
    {
        if (_guardAttributeCtor == null)
        {
            _guardAttributeCtor = InjectAttribute(GuardAttributeName,
                ("guardType", "GuardType", _systemType),
                ("originalMethodName", "OriginalMethodName", _module.TypeSystem.String));
        }
        return _guardAttributeCtor;
    }

    /// <summary>Adds [assembly: Hybrid.Woven.HybridWoven(version)] so a second run can tell the work is done.</summary>
    public void MarkAssembly(string weaverVersion)
    {
        var ctor = InjectAttribute(WovenAttributeName, ("weaverVersion", "WeaverVersion", _module.TypeSystem.String));
        var attr = new CustomAttribute(ctor);
        attr.ConstructorArguments.Add(new CustomAttributeArgument(_module.TypeSystem.String, weaverVersion));
        _module.Assembly.CustomAttributes.Add(attr);
    }

    /// <summary>
    /// Injects an internal attribute class into the woven module itself, so the woven assembly has no reference to
    /// any Hybrid assembly; the engine matches it by full name.
    /// </summary>
    internal MethodReference InjectAttribute(string name, params (string Param, string Field, TypeReference Type)[] members)
    {
        var type = new TypeDefinition(GuardAttributeNamespace, name,
            TypeAttributes.NotPublic | TypeAttributes.Sealed | TypeAttributes.BeforeFieldInit | TypeAttributes.Class, _attributeType);
        var ctor = new MethodDefinition(".ctor",
            MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.SpecialName | MethodAttributes.RTSpecialName,
            _module.TypeSystem.Void);
        var il = ctor.Body.GetILProcessor();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, new MethodReference(".ctor", _module.TypeSystem.Void, _attributeType) { HasThis = true });
        foreach (var (param, fieldName, fieldType) in members)
        {
            var field = new FieldDefinition(fieldName, FieldAttributes.Public | FieldAttributes.InitOnly, fieldType);
            type.Fields.Add(field);
            var p = new ParameterDefinition(param, ParameterAttributes.None, fieldType);
            ctor.Parameters.Add(p);
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg, p);
            il.Emit(OpCodes.Stfld, field);
        }
        il.Emit(OpCodes.Ret);
        ctor.Body.OptimizeMacros();
        type.Methods.Add(ctor);
        _module.Types.Add(type);
        return ctor;
    }
}
