using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Hybrid.Arm64;

/// <summary>
/// The seam to the OS layer: how code bytes become writable and how the protection is put back. The writer never
/// changes protections itself, so the lead's OS layer (mprotect RWX window, W^X double mapping, MAP_JIT toggle, ...)
/// plugs in here.
/// </summary>
internal interface IArm64CodeMemory
{
    /// <summary>
    /// Makes [<paramref name="address"/>, +<paramref name="length"/>) writable and returns the address to store
    /// through: <paramref name="address"/> itself, or a read-write alias of it (double-mapped W^X schemes).
    /// </summary>
    nint BeginWrite(nint address, int length);

    /// <summary>Undoes <see cref="BeginWrite"/> for the same range.</summary>
    void EndWrite(nint address, int length);
}

/// <summary>Adapter for delegates (e.g. the OS layer's make-writable / restore pair).</summary>
internal sealed class DelegateCodeMemory : IArm64CodeMemory
{
    private readonly Func<nint, int, nint> _begin;
    private readonly Action<nint, int> _end;

    public DelegateCodeMemory(Func<nint, int, nint> begin, Action<nint, int> end)
    {
        _begin = begin ?? throw new ArgumentNullException(nameof(begin));
        _end = end ?? throw new ArgumentNullException(nameof(end));
    }

    public nint BeginWrite(nint address, int length) => _begin(address, length);

    public void EndWrite(nint address, int length) => _end(address, length);
}

/// <summary>Memory that is already writable (freshly allocated bridges/islands, RWX test pages).</summary>
internal sealed class WritableCodeMemory : IArm64CodeMemory
{
    public static readonly WritableCodeMemory Instance = new();

    public nint BeginWrite(nint address, int length) => address;

    public void EndWrite(nint address, int length)
    {
    }
}

/// <summary>How much the architecture promises about threads that execute the patched code while it changes.</summary>
internal enum Arm64PatchSafety
{
    /// <summary>
    /// One aligned 32-bit store, and both the old and the new word are in the Arm ARM B2.2.5 list (B, BL, BRK, NOP,
    /// ISB, SVC, HVC, SMC): a concurrent thread executes the old or the new instruction. Example: retargeting our own B.
    /// </summary>
    Architectural,

    /// <summary>
    /// One aligned 32-bit store, but the old word is an arbitrary instruction (a prologue <c>stp</c>, ...). B2.2.5
    /// makes concurrent execution of such a modification CONSTRAINED UNPREDICTABLE; it is safe when no thread can be
    /// fetching that word during the store (method not yet running, threads suspended). All real implementations
    /// observed execute old-or-new for an aligned single-word store, but that is not an architectural promise.
    /// </summary>
    SingleWordStore,

    /// <summary>
    /// Several words changed in place. Entering threads are protected by the ordering (tail first, head last), but a
    /// thread already past the first word and inside the patched range would run a mix of old and new code. Safe only
    /// when no thread is inside the first <see cref="Arm64PatchResult.Length"/> bytes (use an island otherwise).
    /// </summary>
    MultiWordInPlace,
}

/// <summary>What a jump write did, with what is needed to undo it.</summary>
internal sealed class Arm64PatchResult
{
    internal Arm64PatchResult(ulong entry, Arm64JumpSequence entrySequence, Arm64JumpSequence? island, byte[] originalBytes, Arm64PatchSafety safety)
    {
        Entry = entry;
        EntrySequence = entrySequence;
        Island = island;
        OriginalBytes = originalBytes;
        Safety = safety;
    }

    public ulong Entry { get; }

    /// <summary>What was written at <see cref="Entry"/>.</summary>
    public Arm64JumpSequence EntrySequence { get; }

    /// <summary>The absolute jump written into a near island, when the entry got a B to it.</summary>
    public Arm64JumpSequence? Island { get; }

    /// <summary>The bytes that were at <see cref="Entry"/> before (same length as <see cref="EntrySequence"/>).</summary>
    public byte[] OriginalBytes { get; }

    public int Length => EntrySequence.Length;

    public Arm64PatchSafety Safety { get; }
}

/// <summary>
/// Writes jumps into live code in the order the Arm ARM allows for concurrent modification and execution.
///
/// B2.2.5 ("Concurrent modification and execution of instructions") guarantees old-or-new behaviour only when the
/// instruction before and after the modification are both one of B, BL, BRK, HVC, ISB, NOP, SMC, SVC; anything else is
/// CONSTRAINED UNPREDICTABLE for a thread executing it concurrently. Hence:
/// <list type="number">
/// <item>Words that no thread can reach yet are written first: the tail of an in-place sequence (reachable only
/// through the new first word), or a whole island. Then they are flushed (<see cref="IInstructionCacheFlusher"/>),
/// so they are visible to instruction fetch before anything can branch to them.</item>
/// <item>Then the first word — the only word a thread entering the method fetches first — is replaced by one aligned
/// 32-bit store (single-copy atomic, B2.2.1 — no observer can see half of it), preferably a B, and flushed
/// again.</item>
/// </list>
/// Every write is bracketed by <see cref="IArm64CodeMemory.BeginWrite"/>/<see cref="IArm64CodeMemory.EndWrite"/>
/// and followed by a flush, in that order (restore protection, then synchronise), which is the order Apple documents
/// for MAP_JIT memory and is harmless elsewhere. <see cref="Arm64PatchResult.Safety"/> says how strong the resulting
/// guarantee is.
/// </summary>
internal sealed unsafe class Arm64CodeWriter
{
    private static readonly object s_gate = new();
    private readonly IInstructionCacheFlusher _flusher;
    private readonly IArm64CodeMemory _memory;

    public Arm64CodeWriter(IInstructionCacheFlusher flusher, IArm64CodeMemory memory)
    {
        _flusher = flusher ?? throw new ArgumentNullException(nameof(flusher));
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
    }

    /// <summary>True when B2.2.5 lets <paramref name="oldWord"/> be replaced by <paramref name="newWord"/> under concurrent execution.</summary>
    public static bool IsConcurrentlyModifiable(uint oldWord, uint newWord) => IsCmodxSafe(oldWord) && IsCmodxSafe(newWord);

    /// <summary>B, BL, BRK, HVC, ISB, NOP, SMC, SVC — the B2.2.5 list.</summary>
    public static bool IsCmodxSafe(uint word) =>
        Arm64Instructions.IsB(word) || Arm64Instructions.IsBl(word)
        || (word & 0xFFE0001Fu) == 0xD4200000u // BRK #imm16
        || (word & 0xFFE0001Fu) == 0xD4000001u // SVC #imm16
        || (word & 0xFFE0001Fu) == 0xD4000002u // HVC #imm16
        || (word & 0xFFE0001Fu) == 0xD4000003u // SMC #imm16
        || word == Arm64Instructions.Nop
        || (word & 0xFFFFF0FFu) == 0xD50330DFu; // ISB (any option)

    /// <summary>
    /// Writes the shortest jump <paramref name="entry"/> → <paramref name="target"/> in place (tail first, head last).
    /// A single B when the target is within ±128 MiB; otherwise an absolute sequence, which changes several words —
    /// prefer <see cref="WriteJumpViaIsland"/> when threads may be running the method. The caller guarantees that the
    /// method body is at least <see cref="Arm64JumpEncoder.MaxLength"/> bytes long (or <paramref name="forms"/> keeps
    /// the sequence within it) and that no branch inside the method targets the overwritten words.
    /// </summary>
    public Arm64PatchResult WriteJump(ulong entry, ulong target, Arm64JumpForms forms = Arm64JumpForms.Any)
    {
        var sequence = Arm64JumpEncoder.Encode(entry, target, forms);
        lock (s_gate)
        {
            byte[] original = Read(entry, sequence.Length);
            uint oldHead = Arm64Instructions.ReadWord(original, 0);
            byte[] bytes = sequence.ToBytes();
            if (bytes.Length > 4)
                WriteAndFlush(entry + 4, bytes, 4, bytes.Length - 4);
            StoreHead(entry, oldHead, sequence.Words[0]);
            var safety = bytes.Length > 4 ? Arm64PatchSafety.MultiWordInPlace
                : IsConcurrentlyModifiable(oldHead, sequence.Words[0]) ? Arm64PatchSafety.Architectural
                : Arm64PatchSafety.SingleWordStore;
            return new Arm64PatchResult(entry, sequence, null, original, safety);
        }
    }

    /// <summary>
    /// Writes an absolute jump to <paramref name="target"/> into <paramref name="island"/> (which must be within
    /// ±128 MiB of <paramref name="entry"/> and not yet reachable by any thread), flushes it, and only then replaces the
    /// entry's first word with <c>B island</c>. Exactly one word of the method changes.
    /// </summary>
    public Arm64PatchResult WriteJumpViaIsland(ulong entry, ulong island, ulong target)
    {
        if (!Arm64Instructions.IsBranchInRange(entry, island))
            throw new ArgumentOutOfRangeException(nameof(island), $"Island 0x{island:x} is not within B range of 0x{entry:x}.");
        var islandSequence = Arm64JumpEncoder.Encode(island, target, Arm64JumpForms.Any);
        var head = Arm64JumpEncoder.EncodeBranch(entry, island);
        lock (s_gate)
        {
            byte[] original = Read(entry, 4);
            uint oldHead = Arm64Instructions.ReadWord(original, 0);
            byte[] islandBytes = islandSequence.ToBytes();
            WriteAndFlush(island, islandBytes, 0, islandBytes.Length);
            StoreHead(entry, oldHead, head.Words[0]);
            var safety = IsConcurrentlyModifiable(oldHead, head.Words[0]) ? Arm64PatchSafety.Architectural : Arm64PatchSafety.SingleWordStore;
            return new Arm64PatchResult(entry, head, islandSequence, original, safety);
        }
    }

    /// <summary>
    /// Points an existing <see cref="Arm64JumpForm.LiteralLoad"/> jump at a new target with one aligned 64-bit data
    /// store (single-copy atomic, B2.2.1). No instruction changes, so B2.2.5 does not apply and no instruction-cache
    /// maintenance is needed: the literal is only ever read by the LDR through the (coherent) data side.
    /// </summary>
    public void RetargetLiteral(ulong jumpAddress, ulong newTarget)
    {
        if ((newTarget & 3) != 0)
            throw new ArgumentException($"Target 0x{newTarget:x} is not 4-byte aligned.", nameof(newTarget));
        lock (s_gate)
        {
            byte[] code = Read(jumpAddress, 20);
            if (!Arm64JumpEncoder.TryDecode(jumpAddress, code, out var jump) || jump!.Kind != Arm64DecodedJumpKind.LiteralLoad)
                throw new InvalidOperationException($"No LDR-literal jump at 0x{jumpAddress:x}.");
            ulong literal = jump.Slot!.Value;
            if ((literal & 7) != 0)
                throw new InvalidOperationException($"The literal at 0x{literal:x} is not 8-byte aligned; an in-place retarget would not be atomic.");
            nint writable = _memory.BeginWrite((nint)literal, 8);
            try
            {
                Interlocked.Exchange(ref *(long*)writable, unchecked((long)newTarget));
            }
            finally
            {
                _memory.EndWrite((nint)literal, 8);
            }
        }
    }

    /// <summary>
    /// Replaces the aligned instruction word at <paramref name="address"/> (expected to be <paramref name="expectedOld"/>)
    /// with one 32-bit store and flushes it: how the engine installs and removes its entry B.
    /// </summary>
    public void ReplaceWord(ulong address, uint expectedOld, uint newWord)
    {
        lock (s_gate)
            StoreHead(address, expectedOld, newWord);
    }

    /// <summary>Copies code into memory no thread executes yet (a new bridge or island) and flushes it.</summary>
    public void WriteCode(ulong address, byte[] code)
    {
        if (code.Length == 0)
            return;
        lock (s_gate)
            WriteAndFlush(address, code, 0, code.Length);
    }

    /// <summary>
    /// Puts back what <see cref="WriteJump"/>/<see cref="WriteJumpViaIsland"/> replaced: the first word with one
    /// aligned store (the jump stops being taken), then the rest. The same B2.2.5 caveats apply in reverse.
    /// </summary>
    public void Restore(Arm64PatchResult patch)
    {
        lock (s_gate)
        {
            byte[] current = Read(patch.Entry, 4);
            StoreHead(patch.Entry, Arm64Instructions.ReadWord(current, 0), Arm64Instructions.ReadWord(patch.OriginalBytes, 0));
            if (patch.OriginalBytes.Length > 4)
                WriteAndFlush(patch.Entry + 4, patch.OriginalBytes, 4, patch.OriginalBytes.Length - 4);
        }
    }

    private void WriteAndFlush(ulong address, byte[] bytes, int offset, int count)
    {
        nint writable = _memory.BeginWrite((nint)address, count);
        try
        {
            Marshal.Copy(bytes, offset, writable, count);
        }
        finally
        {
            _memory.EndWrite((nint)address, count);
        }
        _flusher.Flush((nint)address, count);
    }

    private void StoreHead(ulong entry, uint expectedOld, uint newWord)
    {
        if ((entry & 3) != 0)
            throw new ArgumentException($"Entry 0x{entry:x} is not 4-byte aligned.");
        nint writable = _memory.BeginWrite((nint)entry, 4);
        int seen;
        try
        {
            // One aligned 32-bit compare-and-swap: a single-copy-atomic store (never torn for instruction fetch), and it
            // refuses to overwrite a first word someone else changed since we read it (and planned the patch around).
            seen = Interlocked.CompareExchange(ref *(int*)writable, unchecked((int)newWord), unchecked((int)expectedOld));
        }
        finally
        {
            _memory.EndWrite((nint)entry, 4);
        }
        if (seen != unchecked((int)expectedOld))
            throw FirstWordChanged(entry, expectedOld, (uint)seen);
        _flusher.Flush((nint)entry, 4);
    }

    /// <summary>A compare-and-store of a first instruction word found another value than the one the patch was planned around.</summary>
    internal static InvalidOperationException FirstWordChanged(ulong entry, uint expected, uint found) =>
        new($"The first instruction at 0x{entry:x} changed concurrently (expected 0x{expected:x8}, found 0x{found:x8}); " +
            "the first word was not replaced. Another writer bypassed the engine's lock; the words after it may already hold the new tail.");

    private static byte[] Read(ulong address, int count)
    {
        var bytes = new byte[count];
        Marshal.Copy((nint)address, bytes, 0, count);
        return bytes;
    }
}
