using System;
using System.Collections.Generic;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;

namespace Hybrid.Weaving;

/// <summary>
/// Applies the woven-assembly contract (docs/weaver.md) to individual methods of one module.
/// </summary>
internal sealed class ModuleWeaver
{
    internal const string GuardAttributeNamespace = "Hybrid.Woven";
    internal const string GuardAttributeName = "HybridGuardAttribute";
    internal const string WovenAttributeName = "HybridWovenAttribute";
    internal const string GuardPrefix = "<Hybrid>Guard_";
    internal const string OriginalPrefix = "<Hybrid>Original_";

    private const int HiddenLine = 0xfeefee;

    private readonly ModuleDefinition _module;
    private readonly bool _hasSymbols;
    private readonly TypeReference _systemType;
    private readonly TypeReference _attributeType;
    private readonly TypeReference _multicastDelegate;
    private readonly MethodReference _compilerGeneratedCtor;
    private readonly MethodGuardBuilder _guards;
    private readonly OriginalBodyCopier _originals;
    private readonly Dictionary<TypeDefinition, (int Next, HashSet<string> Taken)> _nextIndex = new Dictionary<TypeDefinition, (int, HashSet<string>)>();
    private MethodReference? _guardAttributeCtor;

    internal TypeReference SystemType => _systemType;
    internal TypeReference MulticastDelegate => _multicastDelegate;
    internal MethodReference CompilerGeneratedCtor => _compilerGeneratedCtor;

    public ModuleWeaver(ModuleDefinition module)
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
        InjectGuard(m, splitIndex, fieldRef, invokeRef, invoke);

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

    /// <summary>
    /// Prepends the guard to M's body (after the base/this call for constructors):
    /// <code>
    ///   ldsfld Target ; dup ; brfalse POP ; ldarg.* ; callvirt Invoke ; ret
    ///   POP: pop
    ///   ORIG: original body, unchanged
    /// </code>
    /// The body stays inline (rather than calling the Original copy) so an empty slot costs one load and one
    /// predictable branch, with no extra call or argument shuffling. The slot is read once (dup) rather than twice so a
    /// concurrent un-redirect between two reads cannot make us call Invoke on null.
    /// </summary>
    private void InjectGuard(MethodDefinition m, int splitIndex, FieldReference field, MethodReference invokeRef, MethodDefinition invoke)
    {
        m.ImplAttributes = (m.ImplAttributes & ~MethodImplAttributes.AggressiveInlining) | MethodImplAttributes.NoInlining;
        if ((m.ImplAttributes & MethodImplAttributes.NoOptimization) == 0)
            m.ImplAttributes |= MethodImplAttributes.AggressiveOptimization;

        var body = m.Body;
        var anchor = body.Instructions[splitIndex];
        var anchorOffset = anchor.Offset;
        body.SimplifyMacros();

        var pop = Instruction.Create(OpCodes.Pop);
        var guard = new List<Instruction>(m.Parameters.Count + 8)
        {
            Instruction.Create(OpCodes.Ldsfld, field),
            Instruction.Create(OpCodes.Dup),
            Instruction.Create(OpCodes.Brfalse, pop),
        };
        if (m.HasThis)
            guard.Add(Instruction.Create(OpCodes.Ldarg_0));
        foreach (var p in m.Parameters)
            guard.Add(Instruction.Create(OpCodes.Ldarg, p));
        guard.Add(Instruction.Create(OpCodes.Callvirt, invokeRef));
        guard.Add(Instruction.Create(OpCodes.Ret));
        guard.Add(pop);

        // Debug info first: its offsets still describe the original layout, which OptimizeMacros recomputes.
        if (_hasSymbols)
            FixDebugInfo(m, guard[0], anchor, anchorOffset, splitIndex == 0);

        var instructions = body.Instructions;
        for (int i = 0; i < guard.Count; i++)
            instructions.Insert(splitIndex + i, guard[i]);

        // Exception handlers and branch targets reference the original instruction objects, which are now after
        // the guard, so the guard is never inside a protected region (a 'ret' there would be invalid IL).
        body.OptimizeMacros();
    }

    private static void FixDebugInfo(MethodDefinition m, Instruction guardStart, Instruction anchor, int anchorOffset, bool atStart)
    {
        var info = m.DebugInformation;
        if (!info.HasSequencePoints)
            return;
        var points = info.SequencePoints;
        // Offsets in the sequence points still refer to the pre-weaving layout until the module is written.
        int index = 0;
        while (index < points.Count && points[index].Offset < anchorOffset)
            index++;
        // A hidden sequence point stops debuggers and profilers from attributing the guard to user code.
        var hidden = new SequencePoint(guardStart, points[0].Document) { StartLine = HiddenLine, EndLine = HiddenLine };
        points.Insert(index, hidden);
        var anchorHasPoint = index + 1 < points.Count && points[index + 1].Offset == anchorOffset;
        if (!anchorHasPoint && index > 0)
        {
            // The statement that was running before the guard (e.g. ": base(...)") continues after it.
            var previous = points[index - 1];
            points.Insert(index + 1, new SequencePoint(anchor, previous.Document)
            {
                StartLine = previous.StartLine,
                StartColumn = previous.StartColumn,
                EndLine = previous.EndLine,
                EndColumn = previous.EndColumn,
            });
        }
        if (atStart && info.Scope != null && !info.Scope.Start.IsEndOfMethod && info.Scope.Start.Offset == 0)
            info.Scope.Start = new InstructionOffset(guardStart);
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
