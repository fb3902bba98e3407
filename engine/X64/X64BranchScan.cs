using System.Collections.Generic;
using Iced.Intel;

namespace Hybrid.X64;

/// <summary>
/// Finds out whether the code of a method ever jumps into its own first bytes — the bytes an entry jump replaces.
/// <para>
/// Why: the entry jump overwrites whole instructions at the start of the body, and the trampoline runs copies of them
/// before jumping back behind them. When a branch inside the method targets one of those instructions (a loop whose
/// head is the first instruction after a 4-byte <c>push rbp; mov rbp,rsp</c>, or a tail-recursive method turned into
/// a loop back to offset 0), that branch lands in the middle of our jump, or runs the replacement again, the moment
/// the method loops. Such a body cannot take an entry jump safely.
/// </para>
/// <para>
/// How: recursive descent from the entry over live code (the JIT places a method's blocks after its entry; its
/// exception funclets never branch into the prologue). Direct branches are followed; <c>switch</c> jump tables are
/// read from the pattern the JIT emits (<c>lea rT,[rip+table]; mov r32,[rT+idx*4]; lea rB,[rip+base]; add r,rB;
/// jmp r</c>, entries relative to the base); any other indirect jump is a call through a pointer that leaves the
/// method, unless the method computes an address inside the replaced bytes, which only a jump table does — then the
/// scan cannot vouch for the body.
/// </para>
/// </summary>
internal static class X64BranchScan
{
    /// <summary>Instructions decoded at most; a method larger than this is not vouched for.</summary>
    private const int MaxInstructions = 200_000;

    /// <summary>Follow direct branch targets at most this far past the entry (farther ones are other methods).</summary>
    private const long MaxSpan = 1 << 20;

    /// <summary>Null when nothing branches into [<paramref name="body"/>, <paramref name="end"/>); otherwise why the body cannot take the jump.</summary>
    public static string? FindBranchInto(nint body, nint end)
    {
        var pending = new Stack<ulong>();
        var visited = new HashSet<ulong>();
        ulong start = (ulong)body, stop = (ulong)end;
        bool Inside(ulong target) => target >= start && target < stop;
        bool addressTakenInside = false, unresolvedJump = false;
        int decoded = 0;
        pending.Push(start);
        var recent = new Instruction[10];
        while (pending.Count > 0)
        {
            ulong at = pending.Pop();
            if (!visited.Add(at))
                continue;
            int runLength = 0;
            while (true)
            {
                if (++decoded > MaxInstructions)
                    return $"its compiled code is larger than {MaxInstructions} instructions, too large to check that nothing jumps into the bytes the jump would replace";
                var ins = X64Decoding.DecodeOne((nint)at);
                if (ins.IsInvalid)
                    break;
                recent[runLength++ % recent.Length] = ins;
                if (ins.IsIPRelativeMemoryOperand && ins.Mnemonic == Mnemonic.Lea && Inside(ins.IPRelativeMemoryAddress))
                    addressTakenInside = true;
                switch (ins.FlowControl)
                {
                    case FlowControl.ConditionalBranch:
                    case FlowControl.UnconditionalBranch:
                        if (ins.Op0Kind is OpKind.NearBranch64 or OpKind.NearBranch32 or OpKind.NearBranch16)
                        {
                            ulong target = ins.NearBranchTarget;
                            if (Inside(target))
                                return Describe(ins, target, body);
                            if (target > start && target - start < MaxSpan)
                                pending.Push(target);
                        }
                        break;
                    case FlowControl.IndirectBranch:
                        var table = JumpTableTargets(ins, recent, runLength, start);
                        if (table is null)
                            unresolvedJump |= ins.Op0Kind == OpKind.Register;
                        else
                        {
                            foreach (ulong target in table)
                            {
                                if (Inside(target))
                                    return Describe(ins, target, body);
                                if (target > start && target - start < MaxSpan)
                                    pending.Push(target);
                            }
                        }
                        break;
                }
                if (ins.FlowControl is FlowControl.UnconditionalBranch or FlowControl.IndirectBranch or FlowControl.Return
                    or FlowControl.Interrupt or FlowControl.Exception)
                    break;
                at = ins.NextIP;
                if (!visited.Add(at))
                    break;
            }
        }
        if (addressTakenInside && unresolvedJump)
            return "its compiled code computes an address inside the bytes the jump would replace and jumps through a register, so Hybrid cannot tell whether it jumps back into them";
        return null;
    }

    private static string Describe(in Instruction branch, ulong target, nint body) =>
        $"its compiled code jumps back into its first bytes ('{branch}' at +0x{branch.IP - (ulong)body:x} goes to +0x{target - (ulong)body:x}, a loop at the method's entry), where the jump would have to go";

    /// <summary>
    /// The targets of a <c>switch</c> jump, from the instructions just before it, or null when they do not have the
    /// JIT's jump-table shape. The number of entries comes from the bounds check before the dispatch when it is
    /// there; otherwise entries are read while they point between the entry and the table (the table follows the code).
    /// </summary>
    private static unsafe List<ulong>? JumpTableTargets(in Instruction jump, Instruction[] recent, int runLength, ulong start)
    {
        if (jump.Op0Kind != OpKind.Register)
            return null;
        var jumpRegister = jump.Op0Register.GetFullRegister();
        ulong? table = null, tableBase = null;
        Register tableRegister = Register.None, baseRegister = Register.None;
        int entries = -1;
        int count = System.Math.Min(runLength, recent.Length);
        // Walk back over the instructions before the jump (the last one in `recent` is the jump itself).
        for (int back = 2; back <= count; back++)
        {
            var ins = recent[(runLength - back) % recent.Length];
            if (ins.Mnemonic == Mnemonic.Add && ins.Op0Kind == OpKind.Register && ins.Op1Kind == OpKind.Register && ins.Op0Register.GetFullRegister() == jumpRegister)
                baseRegister = ins.Op1Register.GetFullRegister();
            else if (ins.Mnemonic == Mnemonic.Lea && ins.IsIPRelativeMemoryOperand && baseRegister != Register.None && ins.Op0Register.GetFullRegister() == baseRegister && tableBase is null)
                tableBase = ins.IPRelativeMemoryAddress;
            else if ((ins.Mnemonic is Mnemonic.Mov or Mnemonic.Movsxd) && ins.Op1Kind == OpKind.Memory && ins.MemoryIndexScale == 4 && ins.Op0Register.GetFullRegister() == jumpRegister)
                tableRegister = ins.MemoryBase;
            else if (ins.Mnemonic == Mnemonic.Lea && ins.IsIPRelativeMemoryOperand && tableRegister != Register.None && ins.Op0Register.GetFullRegister() == tableRegister)
                table = ins.IPRelativeMemoryAddress;
            else if (ins.Mnemonic == Mnemonic.Cmp && ins.Op1Kind is OpKind.Immediate8 or OpKind.Immediate8to32 or OpKind.Immediate32 && back > 2 && entries < 0)
            {
                // The bounds check before the dispatch: `cmp idx, N; ja default` (N+1 entries) or `jae` (N).
                var next = recent[(runLength - back + 1) % recent.Length];
                if (next.Mnemonic is Mnemonic.Ja or Mnemonic.Jae)
                    entries = (int)ins.GetImmediate(1) + (next.Mnemonic == Mnemonic.Ja ? 1 : 0);
            }
        }
        if (table is not { } t || tableBase is not { } b)
            return null;
        var targets = new List<ulong>();
        // Without the bounds check, read entries while they point between the entry and the table (code comes first).
        int limit = entries is > 0 and <= 65536 ? entries : 4096;
        for (int i = 0; i < limit; i++)
        {
            ulong target = b + (ulong)(long)*(int*)(t + (ulong)(4 * i));
            if (entries < 0 && (target < start || target >= t))
                break;
            targets.Add(target);
        }
        return targets.Count == 0 ? null : targets;
    }
}
