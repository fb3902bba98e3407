using System.Collections.Generic;
using Mono.Cecil;
using Mono.Cecil.Cil;
using Mono.Cecil.Rocks;

namespace Hybrid.Weaving;

/// <summary>
/// Puts the guard into a woven method's own body (docs/weaver.md, "What a woven method looks like"; GuardListingTests
/// keeps that listing equal to what this emits): its slot is checked on entry, and the original body stays inline
/// behind it.
/// </summary>
internal sealed class GuardInjector
{
    private const int HiddenLine = 0xfeefee;

    private readonly bool _hasSymbols;

    public GuardInjector(bool hasSymbols)
    {
        _hasSymbols = hasSymbols;
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
    public void InjectGuard(MethodDefinition m, int splitIndex, FieldReference field, MethodReference invokeRef, MethodDefinition invoke)
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
}
