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
        CreateOriginal(m, originalName, splitIndex);
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
    /// Copies the original body into a private sibling so the engine can still call the un-redirected code
    /// (GetOriginal) while M is redirected. For constructors only the part after the base/this call is copied;
    /// the copy is an ordinary instance method, so it can run the constructor body again on an existing object.
    /// </summary>
    private void CreateOriginal(MethodDefinition m, string name, int startIndex)
    {
        var attrs = MethodAttributes.Private | MethodAttributes.HideBySig | (m.IsStatic ? MethodAttributes.Static : 0);
        var returnType = m.IsConstructor ? _module.TypeSystem.Void : m.ReturnType;
        var orig = new MethodDefinition(name, attrs, returnType)
        {
            // NoInlining keeps it a distinct frame in stack traces and a stable entry point for the engine.
            ImplAttributes = (m.ImplAttributes & ~MethodImplAttributes.AggressiveInlining) | MethodImplAttributes.NoInlining,
            HasThis = m.HasThis,
            CallingConvention = m.CallingConvention,
        };
        if (m.HasGenericParameters)
        {
            GenericRemapper.CopyGenericParameters(orig, m.GenericParameters);
            // Constraint types may mention !!j; generic variables are encoded by position, so they stay valid as-is.
            for (int i = 0; i < m.GenericParameters.Count; i++)
                foreach (var c in m.GenericParameters[i].Constraints)
                    orig.GenericParameters[i].Constraints.Add(new GenericParameterConstraint(c.ConstraintType));
        }
        foreach (var p in m.Parameters)
        {
            var np = new ParameterDefinition(p.Name, p.Attributes, p.ParameterType);
            if (p.HasConstant) np.Constant = p.Constant;
            if (p.HasMarshalInfo) np.MarshalInfo = p.MarshalInfo;
            orig.Parameters.Add(np);
        }
        orig.CustomAttributes.Add(new CustomAttribute(_compilerGeneratedCtor));
        m.DeclaringType.Methods.Add(orig);
        CloneBody(m, orig, startIndex);
    }

    private void CloneBody(MethodDefinition src, MethodDefinition dst, int startIndex)
    {
        var sb = src.Body;
        var db = dst.Body;
        db.InitLocals = sb.InitLocals;
        foreach (var v in sb.Variables)
            db.Variables.Add(new VariableDefinition(v.VariableType));

        var source = sb.Instructions;
        var count = source.Count - startIndex;
        var map = new Dictionary<Instruction, Instruction>(count);
        var clones = new Instruction[count];
        for (int i = 0; i < count; i++)
        {
            var o = source[startIndex + i];
            var c = Instruction.Create(OpCodes.Nop);
            c.OpCode = o.OpCode;
            c.Operand = o.Operand;
            clones[i] = c;
            map[o] = c;
        }
        foreach (var c in clones)
        {
            switch (c.Operand)
            {
                case Instruction t:
                    c.Operand = map[t];
                    break;
                case Instruction[] ts:
                    c.Operand = ts.Select(t => map[t]).ToArray();
                    break;
                case VariableDefinition v:
                    c.Operand = db.Variables[v.Index];
                    break;
                case ParameterDefinition p:
                    c.Operand = p == sb.ThisParameter || p.Index < 0 ? db.ThisParameter : dst.Parameters[p.Index];
                    break;
            }
            db.Instructions.Add(c);
        }
        foreach (var h in sb.ExceptionHandlers)
        {
            if (!map.ContainsKey(h.TryStart))
                continue; // entirely before the base constructor call (checked by FindConstructorSplit)
            db.ExceptionHandlers.Add(new ExceptionHandler(h.HandlerType)
            {
                CatchType = h.CatchType,
                TryStart = map[h.TryStart],
                TryEnd = h.TryEnd == null ? null : map[h.TryEnd],
                HandlerStart = map[h.HandlerStart],
                HandlerEnd = h.HandlerEnd == null ? null : map[h.HandlerEnd],
                FilterStart = h.FilterStart == null ? null : map[h.FilterStart],
            });
        }

        if (!_hasSymbols)
            return;
        var sdi = src.DebugInformation;
        if (!sdi.HasSequencePoints && sdi.Scope == null)
            return;
        // Sequence points and scopes address instructions by (still original) offset, so map offsets to clones.
        var byOffset = new Dictionary<int, Instruction>(count);
        for (int i = 0; i < count; i++)
            byOffset[source[startIndex + i].Offset] = clones[i];
        var ddi = dst.DebugInformation;
        foreach (var sp in sdi.SequencePoints)
        {
            if (!byOffset.TryGetValue(sp.Offset, out var target))
                continue;
            ddi.SequencePoints.Add(new SequencePoint(target, sp.Document)
            {
                StartLine = sp.StartLine,
                StartColumn = sp.StartColumn,
                EndLine = sp.EndLine,
                EndColumn = sp.EndColumn,
            });
        }
        if (sdi.Scope != null && count > 0)
            ddi.Scope = CloneScope(sdi.Scope, byOffset, clones[0], db);
    }

    private static ScopeDebugInformation CloneScope(ScopeDebugInformation s, Dictionary<int, Instruction> byOffset, Instruction first, MethodBody body)
    {
        Instruction? start = s.Start.IsEndOfMethod ? null : byOffset.TryGetValue(s.Start.Offset, out var st) ? st : first;
        Instruction? end = s.End.IsEndOfMethod ? null : byOffset.TryGetValue(s.End.Offset, out var en) ? en : null;
        var copy = new ScopeDebugInformation(start ?? first, end) { Import = s.Import };
        if (s.HasVariables)
            foreach (var v in s.Variables)
                if (v.Index < body.Variables.Count)
                    copy.Variables.Add(new VariableDebugInformation(body.Variables[v.Index], v.Name) { Attributes = v.Attributes });
        if (s.HasConstants)
            foreach (var c in s.Constants)
                copy.Constants.Add(new ConstantDebugInformation(c.Name, c.ConstantType, c.Value));
        if (s.HasScopes)
            foreach (var child in s.Scopes)
                copy.Scopes.Add(CloneScope(child, byOffset, first, body));
        return copy;
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
