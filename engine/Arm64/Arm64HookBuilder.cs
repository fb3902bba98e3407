using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Hybrid.Patching;
using static Hybrid.Arm64.Arm64Instructions;

namespace Hybrid.Arm64;

/// <summary>
/// The arm64 counterpart of <see cref="X64.X64HookBuilder"/>, building the same three parts for one compiled body:
/// the dispatch stub (reads its target from the data cell, so switching redirects never rewrites code), the
/// trampoline that runs the original (the overwritten instruction, relocated, then a jump back), and the entry patch.
/// <para>
/// The entry patch is always one instruction, <c>B stub</c>: the stub page is allocated within ±128 MiB of the body,
/// so the jump fits B's imm26 and installing or removing the redirect is a single aligned 32-bit store. That is the
/// only kind of change the Arm ARM lets another core observe while executing the location (B2.2.5, "Concurrent
/// modification and execution of instructions": old-or-new is guaranteed only when both the old and the new word are
/// B, BL, BRK, NOP, ISB, SVC, HVC or SMC — see <see cref="Arm64CodeWriter"/> for what remains when the old word is an
/// ordinary prologue instruction). A multi-word absolute sequence at the entry would let a thread that already
/// executed the first old word run into new words; we never write one into a method. Far targets (the replacement
/// can be anywhere in the 64-bit space) are reached from the stub with <c>LDR x16, cell; BR x16</c>.
/// </para>
/// <para>
/// Registers: x16/x17 (IP0/IP1) are free at a method's entry because AAPCS64 (§6.1.1) lets any veneer or PLT stub
/// inserted between caller and callee clobber them, so no caller can leave a live value there. The shared-generic
/// filter needs one more and uses x9, a caller-saved temporary that carries no argument (x0–x7 and x8, the indirect
/// result register, are left untouched). The Go library gomonkey had to load x26 because its replacement is a Go
/// closure whose context pointer travels in x26; our replacement is a plain managed method (a static method, or a
/// bridge that loads its delegate from a static table), so there is no context register to set.
/// </para>
/// </summary>
internal static class Arm64HookBuilder
{
    public const int TrampolineOffset = 256;
    private const int CondNe = 1;

    /// <summary>True when a stub at <paramref name="stub"/> can be reached from the body with one B.</summary>
    public static bool Reaches(nint body, nint stub) => IsBranchInRange((ulong)body, (ulong)stub);

    /// <summary>
    /// <paramref name="firstWord"/> is the body's first instruction (the one the entry B replaces).
    /// <paramref name="filter"/>: for shared generic code, where the instantiation key is; the stub looks it up in the
    /// data page's table and runs the original when it is not there.
    /// </summary>
    public static HookCode Build(nint body, uint firstWord, nint codePage, nint dataPage, int pageSize, StubFilter? filter)
    {
        ulong entry = (ulong)body;
        ulong stub = (ulong)codePage;
        ulong trampoline = stub + TrampolineOffset;
        if (!IsBranchInRange(entry, stub))
            throw new InvalidOperationException($"stub page 0x{stub:x} is out of B range of the body at 0x{entry:x}");

        var words = new List<uint>();
        ulong Here() => stub + (ulong)(words.Count * 4);
        if (filter is { } f)
        {
            ulong table = (ulong)dataPage + HookDataLayout.TableOffset;
            words.Add(f.ThisMethodTable ? LdrImm64(Ip1, f.ArgumentIndex, 0) : AddImm(Ip1, f.ArgumentIndex, 0)); // key: [x0] (MethodTable) or xN
            words.Add(Adr(Ip0, Here(), table));
            ulong loop = Here();
            words.Add(LdrPostIndex64(X9, Ip0, 16));       // x9 = key of the next (key, target) pair
            int exit = words.Count;
            words.Add(0);                               // cbz x9, miss (patched below)
            words.Add(CmpReg(X9, Ip1));
            words.Add(BCond(CondNe, Here(), loop));
            // The writer stores a pair's target before its key (release); this barrier keeps the target load after the
            // key load, which arm64 would otherwise be free to reorder (B2.3, load-load ordering is not guaranteed).
            words.Add(DmbIshLd);
            words.Add(Ldur64(Ip0, Ip0, -8));       // x16 = target of the matching pair
            words.Add(Br(Ip0));
            ulong miss = Here();
            words.Add(B(miss, trampoline));
            words[exit] = CompareBranch(false, true, X9, stub + (ulong)(exit * 4), miss);
        }
        else
        {
            words.Add(LdrLiteral64(Ip0, stub, (ulong)dataPage + HookDataLayout.CellOffset));
            words.Add(Br(Ip0));
        }
        if (words.Count * 4 > TrampolineOffset)
            throw new InvalidOperationException("dispatch stub larger than its slot");

        var moved = Arm64Relocator.Relocate(firstWord, entry, trampoline);
        ulong jumpBack = trampoline + (ulong)(moved.Length * 4);
        var back = Arm64JumpEncoder.Encode(jumpBack, entry + 4, Arm64JumpForms.Any, Ip0);
        if (TrampolineOffset + (moved.Length + back.Words.Length) * 4 > pageSize)
            throw new InvalidOperationException("trampoline larger than its page");

        var page = new byte[pageSize];
        uint trap = Brk(0x4859); // "HY": a stray jump into the page traps instead of sliding
        for (int offset = 0; offset + 4 <= pageSize; offset += 4)
            WriteWord(page, offset, trap);
        for (int i = 0; i < words.Count; i++)
            WriteWord(page, i * 4, words[i]);
        for (int i = 0; i < moved.Length; i++)
            WriteWord(page, TrampolineOffset + i * 4, moved[i]);
        var backBytes = back.ToBytes();
        Array.Copy(backBytes, 0, page, TrampolineOffset + moved.Length * 4, backBytes.Length);

        var patch = new byte[4];
        WriteWord(patch, 0, B(entry, stub));
        return new HookCode { EntryPatch = patch, StubPage = page, Trampoline = (nint)trampoline, InteriorFixups = Array.Empty<(nint, nint)>() };
    }

    /// <summary>The body's first instruction word.</summary>
    public static uint ReadFirstWord(nint body) => unchecked((uint)Marshal.ReadInt32(body));
}
