using System.Collections.Generic;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hybrid.Weaving;

/// <summary>
/// Makes the <c>&lt;Hybrid&gt;Original_k_M</c> copy of a woven method (docs/weaver.md, "woven-assembly contract", 3):
/// the original body with its locals, exception handlers, sequence points and scopes, so a redirect can still call
/// the real thing.
/// </summary>
internal sealed class OriginalBodyCopier
{
    private readonly ModuleDefinition _module;
    private readonly bool _hasSymbols;
    private readonly MethodReference _compilerGeneratedCtor;

    public OriginalBodyCopier(ModuleDefinition module, bool hasSymbols, MethodReference compilerGeneratedCtor)
    {
        _module = module;
        _hasSymbols = hasSymbols;
        _compilerGeneratedCtor = compilerGeneratedCtor;
    }

    /// <summary>
    /// Copies the original body into a private sibling so the engine can still call the un-redirected code
    /// (GetOriginal) while M is redirected. For constructors only the part after the base/this call is copied;
    /// the copy is an ordinary instance method, so it can run the constructor body again on an existing object.
    /// </summary>
    public void CreateOriginal(MethodDefinition m, string name, int startIndex)
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
}
