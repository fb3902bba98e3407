using System;
using System.Collections.Generic;
using Hybrid.CoreClr;
using static Hybrid.Arm64.Arm64Instructions;

namespace Hybrid.Arm64;

/// <summary>
/// The arm64 Linux machine code of <see cref="CoreClr.TieringFreeze"/>'s filter in front of the JIT's
/// <c>ICorJitCompiler::compileMethod(this, comp, info, flags, nativeEntry, nativeSizeOfCode)</c> (x0–x5, AAPCS64).
/// <para>
/// It calls the real JIT first and looks at the result only when the JIT succeeded on CoreCLR's tiering worker thread
/// (where every tier-up is compiled; name read with prctl(PR_GET_NAME)): if the method (<c>info-&gt;ftn</c>) is held it
/// answers <c>CORJIT_SKIPPED</c>, so the runtime keeps the code that runs ("failing to jit should be rare but
/// acceptable", tieredcompilation.cpp), and otherwise it records (MethodDesc, code) in the ring of recent tier-ups.
/// Every other compile — first compiles, on-stack-replacement variants on the thread running the loop — passes
/// unchanged. Unlike the x64 filter it does not decline before compiling: one check after the compile covers a
/// method held before and during it, at the cost of compiling a held method's tier-1 code that is then dropped.
/// </para>
/// <para>
/// Memory order (Arm ARM B2.3): the table cell and the table's count are read with LDAR, pairing with the release
/// stores of <c>Hold</c> (entry, then count), so a held entry is seen whenever its count is; a ring entry's code is
/// stored before its MethodDesc is released with STLR.
/// </para>
/// </summary>
internal sealed class LinuxArm64JitFilter : IJitFilter
{
    public static readonly LinuxArm64JitFilter Instance = new();

    byte[] IJitFilter.Build(ulong at, ulong original, JitFilterTables tables) =>
        Build(at, original, (ulong)tables.TableCell, (ulong)tables.Recent, tables.RecentSize, tables.WorkerName0, tables.WorkerName1);

    private const int Prctl = 167;      // __NR_prctl in the generic syscall table arm64 uses
    private const int PrGetName = 16;   // PR_GET_NAME: the thread's 16-byte comm, NUL-terminated
    private const int Ne = 1, Eq = 0;   // condition codes

    /// <summary>
    /// The filter for the code address <paramref name="at"/>. <paramref name="tableCell"/> holds the address of the
    /// held-MethodDesc table ([0] = count, [1..count] = MethodDescs, 0 = free); <paramref name="recent"/> is the ring
    /// ([0] = count, then <paramref name="recentSize"/> (MethodDesc, code) pairs); <paramref name="workerName0"/> and
    /// <paramref name="workerName1"/> the two little-endian words of the worker's comm.
    /// </summary>
    public static byte[] Build(ulong at, ulong original, ulong tableCell, ulong recent, int recentSize, ulong workerName0, ulong workerName1)
    {
        if (recentSize <= 0 || (recentSize & (recentSize - 1)) != 0 || recentSize > 1 << 12)
            throw new ArgumentOutOfRangeException(nameof(recentSize), "a power of two up to 4096");
        var e = new Arm64Emitter(at);
        e.Emit(0xA9BE7BFDu);                         // stp x29, x30, [sp, #-32]!
        e.Emit(AddImm(29, 31, 0));                   // mov x29, sp
        e.Emit(0xA90153F3u);                         // stp x19, x20, [sp, #16]
        e.Emit(LdrImm64(19, 2, 0));                  // x19 = info->ftn
        e.Emit(0xAA0003E0u | (4u << 16) | 20);       // mov x20, x4 (nativeEntry)
        e.EmitLiteralLoad(16, original);             // ldr x16, =compileMethod
        e.Emit(Blr(16));
        e.Branch("done", (from, to) => CompareBranch(true, false, 0, from, to)); // not CORJIT_OK: as the JIT said

        e.Emit(SubImm(31, 31, 16));                  // room for the name
        e.Emit(MovWide(Arm64MoveKind.MovZ, 0, PrGetName, 0));
        e.Emit(AddImm(1, 31, 0));                    // mov x1, sp
        e.Emit(MovWide(Arm64MoveKind.MovZ, 8, Prctl, 0));
        e.Emit(0xD4000001u);                         // svc #0
        e.Emit(LdrImm64(9, 31, 0));
        e.Emit(LdrImm64(10, 31, 8));
        e.Emit(AddImm(31, 31, 16));
        e.EmitLiteralLoad(11, workerName0);
        e.Emit(CmpReg(9, 11));
        e.Branch("ok", (from, to) => BCond(Ne, from, to));
        e.EmitLiteralLoad(11, workerName1);
        e.Emit(CmpReg(10, 11));
        e.Branch("ok", (from, to) => BCond(Ne, from, to));

        e.EmitLiteralLoad(9, tableCell);
        e.Emit(Ldar(9, 9));                          // the table
        e.Emit(Ldar(10, 9));                         // its count
        e.Label("scan");
        e.Branch("record", (from, to) => CompareBranch(false, true, 10, from, to));
        e.Emit(0xF8607800u | (10u << 16) | (9u << 5) | 11); // ldr x11, [x9, x10, lsl #3]
        e.Emit(CmpReg(11, 19));
        e.Branch("decline", (from, to) => BCond(Eq, from, to));
        e.Emit(SubImm(10, 10, 1));
        e.Branch("scan", B);

        e.Label("record");
        e.EmitLiteralLoad(9, recent);
        e.Label("claim");
        e.Emit(0xC85F7C00u | (9u << 5) | 10);        // ldxr x10, [x9]
        e.Emit(AddImm(11, 10, 1));
        e.Emit(0xC800FC00u | (12u << 16) | (9u << 5) | 11); // stlxr w12, x11, [x9]
        e.Branch("claim", (from, to) => CompareBranch(true, false, 12, from, to));
        e.Emit(Ubfx(10, 10, 0, Log2(recentSize)));   // slot
        e.Emit(0x8B000000u | (10u << 16) | (4u << 10) | (9u << 5) | 10); // add x10, x9, x10, lsl #4
        e.Emit(LdrImm64(11, 20, 0));                 // *nativeEntry: the new code
        e.Emit(0xF9000000u | (16u / 8 << 10) | (10u << 5) | 11); // str x11, [x10, #16]
        e.Emit(AddImm(12, 10, 8));
        e.Emit(0xC89FFC00u | (12u << 5) | 19);       // stlr x19, [x12]
        e.Label("ok");
        e.Emit(0x52800000u);                         // mov w0, #0 (CORJIT_OK)
        e.Branch("done", B);
        e.Label("decline");
        e.Emit(0x52800000u | (0x0004u << 5));        // mov w0, #4
        e.Emit(0x72A00000u | (0x8000u << 5));        // movk w0, #0x8000, lsl #16: CORJIT_SKIPPED
        e.Label("done");
        e.Emit(0xA94153F3u);                         // ldp x19, x20, [sp, #16]
        e.Emit(0xA8C27BFDu);                         // ldp x29, x30, [sp], #32
        e.Emit(Ret);
        return e.Finish();
    }

    /// <summary>LDAR Xt, [Xn].</summary>
    private static uint Ldar(int rt, int rn) => 0xC8DFFC00u | ((uint)rn << 5) | (uint)rt;

    private static int Log2(int value)
    {
        int bits = 0;
        while ((1 << bits) < value)
            bits++;
        return bits;
    }
}
