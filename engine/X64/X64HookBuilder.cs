using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Hybrid.Patching;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Hybrid.X64;

/// <summary>
/// Builds, for one compiled body: the dispatch stub (which reads its target from a data cell so that switching
/// redirects never rewrites code), the trampoline that runs the original (the overwritten instructions, relocated by
/// Iced, then a jump back), and the entry jump that sends the body to the stub.
/// </summary>
internal static class X64HookBuilder
{
    public const int TrampolineOffset = 256;

    /// <summary>The length of the entry jump: <c>jmp rel32</c> (the stub page is always allocated within ±2 GiB).</summary>
    public const int JumpLength = 5;

    /// <summary>
    /// Decides how the entry jump fits the body — which whole instructions it replaces — or why it cannot; used alike
    /// by <c>Explain</c> and <c>Redirect</c>.
    /// <para>
    /// No covered instruction may end the method before the jump is complete: a body shorter than the jump (a tier-1
    /// <c>lea eax,[rdi+1]; ret</c> is 4 bytes) is followed directly by its unwind information, which stack walks of
    /// threads inside the method read (GC suspension, exceptions), and then by the next method's code header. Other
    /// patchers overwrite them; Hybrid refuses. (Placing the stub where the jump's displacement would reproduce those
    /// bytes does not help on CoreCLR: the unwind flags byte 0x19 puts the stub ~400 MiB above the code, inside the
    /// runtime's own executable-memory reservation.) No branch of the method may lead into the replaced instructions
    /// either (<see cref="X64BranchScan"/>).
    /// </para>
    /// </summary>
    public static X64EntryPlan Plan(nint body)
    {
        var covered = X64Decoding.DecodeCovering(body, JumpLength);
        for (int i = 0; i < covered.Count; i++)
        {
            var ins = covered[i];
            if (ins.IsInvalid)
                return new X64EntryPlan(covered, $"the code at 0x{body:x} does not decode as x64 instructions");
            if (i < covered.Count - 1 && ins.FlowControl is FlowControl.Return or FlowControl.UnconditionalBranch or FlowControl.IndirectBranch or FlowControl.Interrupt or FlowControl.Exception)
            {
                int size = (int)(ins.NextIP - (ulong)body);
                return new X64EntryPlan(covered, $"its compiled body is only {size} byte(s) long (ends with '{ins}'), too small for a {JumpLength}-byte jump: the bytes after it are its unwind information and the next method's code header, which must not change");
            }
        }
        return new X64EntryPlan(covered, X64BranchScan.FindBranchInto(body, (nint)covered[covered.Count - 1].NextIP));
    }

    /// <summary>
    /// <paramref name="swapThisAndReturnBuffer"/>: on x64 an instance method that returns a struct through a hidden
    /// buffer takes (this, buffer, ...) while the static replacement takes (buffer, this, ...); the stub swaps them.
    /// <paramref name="filter"/>: for shared generic code, the register (or <c>[this]</c>) holding the instantiation
    /// key; the stub looks the key up in the data page's table and runs the original when it is not there.
    /// </summary>
    public static HookCode Build(nint body, List<Instruction> covered, nint codePage, nint dataPage, int pageSize,
        bool swapThisAndReturnBuffer, StubFilter? filter, X64Abi abi)
    {
        var arguments = abi.ArgumentRegisters;
        ulong stub = (ulong)codePage;
        ulong trampoline = stub + TrampolineOffset;
        ulong cell = (ulong)dataPage + HookDataLayout.CellOffset;
        ulong table = (ulong)dataPage + HookDataLayout.TableOffset;

        var asm = new Assembler(64);
        var miss = asm.CreateLabel();
        var hit = asm.CreateLabel();
        var loop = asm.CreateLabel();
        if (filter is { } f)
        {
            if (f.ThisMethodTable)
                asm.mov(rax, __qword_ptr[arguments[0]]);
            else
                asm.mov(rax, arguments[f.ArgumentIndex]);
            asm.mov(r11, (ulong)table);
            asm.Label(ref loop);
            asm.mov(r10, __qword_ptr[r11]);
            asm.test(r10, r10);
            asm.jz(miss);
            asm.cmp(r10, rax);
            asm.je(hit);
            asm.add(r11, 16);
            asm.jmp(loop);
            asm.Label(ref hit);
            if (swapThisAndReturnBuffer)
                asm.xchg(arguments[0], arguments[1]);
            asm.jmp(__qword_ptr[r11 + 8]);
            asm.Label(ref miss);
            asm.jmp(trampoline);
        }
        else
        {
            if (swapThisAndReturnBuffer)
                asm.xchg(arguments[0], arguments[1]);
            asm.AddInstruction(X64Encoding.JumpThrough(cell));
        }
        var stubBytes = Assemble(asm, stub);
        if (stubBytes.Length > TrampolineOffset)
            throw new InvalidOperationException("dispatch stub larger than its slot");

        var relocated = new List<Instruction>(covered);
        ulong resume = covered[covered.Count - 1].NextIP;
        relocated.Add(Instruction.CreateBranch(Code.Jmp_rel32_64, resume));
        var trampolineBytes = X64Encoding.Encode(trampoline, relocated, out var offsets);
        var fixups = new (nint, nint)[covered.Count - 1];
        for (int i = 1; i < covered.Count; i++)
            fixups[i - 1] = ((nint)covered[i].IP, (nint)(trampoline + offsets[i]));
        if (TrampolineOffset + trampolineBytes.Length > pageSize)
            throw new InvalidOperationException("trampoline larger than its page");

        var page = new byte[pageSize];
        page.AsSpan().Fill(0xCC); // int3 everywhere else: a stray jump traps instead of sliding.
        stubBytes.CopyTo(page, 0);
        trampolineBytes.CopyTo(page, TrampolineOffset);

        int length = (int)(resume - (ulong)body);
        // Where the stub would only jump through the cell (no instantiation filter, no argument swap) and the
        // replaced instructions leave room for the 6-byte form, the entry jumps through the cell itself: one jump
        // fewer on every redirected call. The cell is written before the entry (MethodHook), so it is never empty.
        long fromEntry = (long)cell - ((long)body + 6);
        var jump = filter is null && !swapThisAndReturnBuffer && length >= 6 && fromEntry is >= int.MinValue and <= int.MaxValue
            ? X64Encoding.Encode((ulong)body, new[] { X64Encoding.JumpThrough(cell) })
            : X64Encoding.Jump((ulong)body, stub);
        var patch = new byte[length];
        patch.AsSpan().Fill(0xCC); // leftover bytes of partly overwritten instructions are never executed; int3 makes that visible
        jump.CopyTo(patch, 0);
        return new HookCode { EntryPatch = patch, StubPage = page, Trampoline = (nint)trampoline, InteriorFixups = fixups };
    }

    private static byte[] Assemble(Assembler asm, ulong ip)
    {
        var stream = new System.IO.MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), ip);
        return stream.ToArray();
    }
}

/// <summary>How an entry jump fits a body (<see cref="X64HookBuilder.Plan"/>): the instructions it replaces, or why it cannot be written.</summary>
internal sealed record X64EntryPlan(List<Instruction> Covered, string? Refusal);
