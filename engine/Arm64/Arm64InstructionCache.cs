using System;
using System.Collections.Generic;
using Hybrid.Os;

namespace Hybrid.Arm64;

/// <summary>
/// Makes freshly written instructions visible to instruction fetch on every core.
///
/// Arm's instruction and data sides are not coherent with each other: a store lands in the data cache while the
/// core may fetch the old bytes from its instruction cache (or keep them in the pipeline). The Arm ARM (DDI 0487,
/// B2.4 "Caches and memory hierarchy" → "Synchronization and coherency issues between data and instruction accesses",
/// and the CTR_EL0 description) therefore requires, after writing code:
/// <c>DC CVAU</c> over the range (clean to the Point of Unification, by D-cache line) → <c>DSB ISH</c> →
/// <c>IC IVAU</c> over the range (by I-cache line) → <c>DSB ISH</c> → <c>ISB</c>; CTR_EL0.IDC=1 makes the clean
/// unnecessary and CTR_EL0.DIC=1 the invalidate (the DSB and the ISB are still needed).
/// Every code write in the Arm64 layer is followed by a call to <see cref="Flush"/>; there is no "small write, skip it".
/// </summary>
internal interface IInstructionCacheFlusher
{
    /// <summary>Synchronises instruction fetch with the bytes in [<paramref name="address"/>, +<paramref name="length"/>).</summary>
    void Flush(nint address, nint length);
}

/// <summary>The cache geometry fields of CTR_EL0 the maintenance routine depends on.</summary>
internal readonly struct Arm64CacheType
{
    public Arm64CacheType(ulong ctrEl0) => Value = ctrEl0;

    public ulong Value { get; }

    /// <summary>CTR_EL0.IminLine [3:0]: log2 of the smallest I-cache line, in 4-byte words.</summary>
    public int InstructionLineBytes => 4 << (int)(Value & 0xF);

    /// <summary>CTR_EL0.DminLine [19:16]: log2 of the smallest D-cache line, in 4-byte words.</summary>
    public int DataLineBytes => 4 << (int)((Value >> 16) & 0xF);

    /// <summary>CTR_EL0.IDC [28]: data cache clean to PoU not required for instruction-to-data coherence.</summary>
    public bool Idc => ((Value >> 28) & 1) != 0;

    /// <summary>CTR_EL0.DIC [29]: instruction cache invalidation to PoU not required for instruction-to-data coherence.</summary>
    public bool Dic => ((Value >> 29) & 1) != 0;

    /// <summary>The line addresses the routine cleans (DC) and invalidates (IC) for a range; what the qemu probe must report.</summary>
    public void ExpectedMaintenance(ulong start, ulong length, List<ulong> dcLines, List<ulong> icLines)
    {
        ulong end = start + length;
        if (!Idc)
            for (ulong a = start & ~(ulong)(DataLineBytes - 1); a < end; a += (ulong)DataLineBytes)
                dcLines.Add(a);
        if (!Dic)
            for (ulong a = start & ~(ulong)(InstructionLineBytes - 1); a < end; a += (ulong)InstructionLineBytes)
                icLines.Add(a);
    }
}

/// <summary>
/// Emits the engine's own A64 cache-maintenance routine, <c>void flush(void* start, size_t length)</c>.
/// It is the user-space equivalent of libgcc's <c>__aarch64_sync_cache_range</c> (what <c>__clear_cache</c> runs):
/// it reads CTR_EL0 on every call rather than caching it, because on big.LITTLE systems with mismatched line sizes
/// Linux traps EL0 reads of CTR_EL0 and returns the safe system-wide minimum — a value cached from one core at start-up
/// could be the larger line size and skip lines on another core.
/// </summary>
internal static class Arm64CacheMaintenanceRoutine
{
    // Register use: x0 start, x1 length → end, x2 CTR_EL0, x9 line size, x10 cursor, x11 line mask, x12 scratch.
    // All are caller-saved temporaries under AAPCS64, so the routine needs no stack frame.
    // Probe variant only: x3 = D-side log pointer, x4 = I-side log pointer, x2 = CTR value supplied by the caller.
    private const int Start = 0, End = 1, Ctr = 2, DcLog = 3, IcLog = 4, Line = 9, Cursor = 10, Mask = 11, Scratch = 12;

    /// <summary>
    /// The routine's words. With <paramref name="probe"/> the MRS becomes a NOP (CTR_EL0 comes in x2) and each
    /// <c>DC CVAU</c>/<c>IC IVAU</c> becomes <c>STR x10, [x3|x4], #8</c>, so the qemu harness can check which lines the
    /// loops visit for any CTR_EL0 value; every other word is identical to the production routine.
    /// </summary>
    public static uint[] Emit(bool probe = false)
    {
        var w = new uint[28];
        w[0] = probe ? Arm64Instructions.Nop : Arm64Instructions.MrsCtrEl0(Ctr);
        w[1] = Arm64Instructions.AddReg(End, Start, End);
        // D side: skipped when CTR_EL0.IDC (bit 28) says the clean to PoU is not needed.
        w[2] = Arm64Instructions.TestBit(true, Ctr, 28, At(2), At(13));
        EmitLineLoop(w, 3, lsb: 16, probe ? Arm64Instructions.StrPostIndex64(Cursor, DcLog, 8) : Arm64Instructions.DcCvau(Cursor));
        // The DSB is required even when IDC=1: it orders the code stores before the IC (or the ISB) below.
        w[13] = Arm64Instructions.DsbIsh;
        // I side: skipped when CTR_EL0.DIC (bit 29) says invalidation to PoU is not needed.
        w[14] = Arm64Instructions.TestBit(true, Ctr, 29, At(14), At(26));
        EmitLineLoop(w, 15, lsb: 0, probe ? Arm64Instructions.StrPostIndex64(Cursor, IcLog, 8) : Arm64Instructions.IcIvau(Cursor));
        w[25] = Arm64Instructions.DsbIsh;
        // The ISB discards anything this core already fetched; other cores pick the new code up at their next context
        // synchronisation event (an exception return, e.g. after being preempted, is one).
        w[26] = Arm64Instructions.Isb;
        w[27] = Arm64Instructions.Ret;
        return w;
    }

    public static byte[] EmitBytes(bool probe = false) => Arm64Instructions.ToBytes(Emit(probe));

    // line = 4 << field; cursor = start & ~(line-1); while (cursor < end) { op(cursor); cursor += line; }
    private static void EmitLineLoop(uint[] w, int i, int lsb, uint operation)
    {
        w[i + 0] = Arm64Instructions.Ubfx(Line, Ctr, lsb, 4);
        w[i + 1] = Arm64Instructions.MovWide(Arm64MoveKind.MovZ, Scratch, 4, 0);
        w[i + 2] = Arm64Instructions.LslReg(Line, Scratch, Line);
        w[i + 3] = Arm64Instructions.SubImm(Mask, Line, 1);
        w[i + 4] = Arm64Instructions.BicReg(Cursor, Start, Mask);
        w[i + 5] = Arm64Instructions.B(At(i + 5), At(i + 8));
        w[i + 6] = operation;
        w[i + 7] = Arm64Instructions.AddReg(Cursor, Cursor, Line);
        w[i + 8] = Arm64Instructions.CmpReg(Cursor, End);
        w[i + 9] = Arm64Instructions.BCond(3 /* LO */, At(i + 9), At(i + 6));
    }

    private static ulong At(int index) => (ulong)index * 4;
}

/// <summary>
/// Decorator that records every flush and forwards it. Emulators (qemu) keep I and D coherent, so a missing flush is
/// invisible there; tests assert on this record instead.
/// </summary>
internal sealed class CountingInstructionCacheFlusher : IInstructionCacheFlusher
{
    private readonly IInstructionCacheFlusher? _inner;
    private readonly List<(nint Address, nint Length)> _calls = new();
    private readonly object _gate = new();

    public CountingInstructionCacheFlusher(IInstructionCacheFlusher? inner = null) => _inner = inner;

    public int Count
    {
        get { lock (_gate) return _calls.Count; }
    }

    public IReadOnlyList<(nint Address, nint Length)> Calls
    {
        get { lock (_gate) return _calls.ToArray(); }
    }

    /// <summary>Optional hook run after each flush (tests use it to interleave events from several doubles).</summary>
    public Action<nint, nint>? OnFlush { get; set; }

    /// <summary>True when some recorded flush covers every byte of [address, address+length).</summary>
    public bool Covers(nint address, nint length)
    {
        lock (_gate)
            foreach (var (a, l) in _calls)
                if (a <= address && address + length <= a + l)
                    return true;
        return false;
    }

    public void Flush(nint address, nint length)
    {
        _inner?.Flush(address, length);
        lock (_gate)
            _calls.Add((address, length));
        OnFlush?.Invoke(address, length);
    }
}

/// <summary>Which cache maintenance an OS gets (<see cref="Arm64InstructionCache.FlusherFor"/>).</summary>
internal enum Arm64FlusherKind
{
    /// <summary>The engine's own DC CVAU/IC IVAU routine (libgcc's __clear_cache if the routine's page cannot be executable).</summary>
    Linux,

    /// <summary><c>sys_icache_invalidate</c>: user space on macOS may not rely on CTR_EL0 alone; Apple documents this call.</summary>
    Mac,

    /// <summary><c>FlushInstructionCache</c>, which Windows documents as required after writing code.</summary>
    Windows,
}

/// <summary>
/// Picks the flusher for the running process. Each OS's is a file named for it and arm64:
/// <c>LinuxArm64InstructionCache.cs</c>, <c>MacOsArm64InstructionCache.cs</c>, <c>WindowsArm64InstructionCache.cs</c>.
/// </summary>
internal static class Arm64InstructionCache
{
    /// <summary>Which maintenance an OS gets, decided apart from the OS this runs on (tested everywhere).</summary>
    public static Arm64FlusherKind FlusherFor(bool windows, bool mac) =>
        windows ? Arm64FlusherKind.Windows : mac ? Arm64FlusherKind.Mac : Arm64FlusherKind.Linux;

    /// <summary>The flusher of <paramref name="kind"/> (<see cref="Platform.Cpu"/> picks the kind for this OS).</summary>
    public static IInstructionCacheFlusher Create(Arm64FlusherKind kind, PlatformMemory memory)
    {
        switch (kind)
        {
            case Arm64FlusherKind.Windows:
                return new WindowsInstructionCacheFlusher();
            case Arm64FlusherKind.Mac:
                return new MacInstructionCacheFlusher();
        }
        try
        {
            return LinuxInstructionCacheFlusher.Create(memory);
        }
        catch (InvalidOperationException) when (LibgccInstructionCacheFlusher.Available())
        {
            // mmap/mprotect(PROT_EXEC) refused for our own page (e.g. an SELinux execmem policy): the same
            // sequence from libgcc_s, which is already executable, still works.
            return new LibgccInstructionCacheFlusher();
        }
    }
}
