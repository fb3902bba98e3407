using System.IO;
using Hybrid.CoreClr;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

#if NET
namespace Hybrid.X64;

/// <summary>
/// The x64 machine code of <see cref="TieringFreeze"/>'s filter in front of the JIT's
/// <c>ICorJitCompiler::compileMethod</c>, assembled with Iced for either x64 ABI; which thread is the tiering worker is the OS's question
/// (<see cref="IX64TieringWorkerTest"/>: <c>LinuxX64TieringWorkerTest.cs</c>, <c>WindowsX64TieringWorkerTest.cs</c>).
/// </summary>
internal sealed class X64JitFilter : IJitFilter
{
    private readonly X64Abi _abi;
    private readonly IX64TieringWorkerTest? _worker;

    /// <param name="abi">Where compileMethod's arguments are.</param>
    /// <param name="worker">How this OS tells CoreCLR's tiering worker thread (null: it cannot, and every compile of a held method is declined).</param>
    public X64JitFilter(X64Abi abi, IX64TieringWorkerTest? worker)
    {
        _abi = abi;
        _worker = worker;
    }

    byte[] IJitFilter.Build(ulong at, ulong original, JitFilterTables tables) => Build(at, (nint)original, tables, _abi, _worker);

    private const uint CorJitSkipped = 0x80000004;

    /// <summary>The filter for the code address <paramref name="at"/>, going on to the JIT's <paramref name="original"/> compileMethod.</summary>
    public static byte[] Build(ulong at, nint original, JitFilterTables tables, X64Abi abi, IX64TieringWorkerTest? worker)
    {
        // ftn is at offset 0 of CORINFO_METHOD_INFO, the third argument (after this and ICorJitInfo*).
        var info = abi.ThirdArgumentIsR8 ? r8 : rdx;
        var asm = new Assembler(64);
        var pass = asm.CreateLabel();
        var deny = asm.CreateLabel();
        asm.mov(rax, __qword_ptr[info]);
        EmitIsHeld(asm, tables, rax, deny);
        asm.Label(ref pass);
        if (worker is not null && abi.ArgumentRegisters.Length >= 6)
        {
            // Call the JIT rather than jump to it, and decline a result for a method that became held while it was
            // being compiled: a tier-1 compile already under way when a redirect is installed would otherwise be
            // published over the hooked body. Only where all six compileMethod arguments travel in registers (System
            // V): then a call needs no copy of stack arguments; rbx (callee-saved) keeps ftn across it and aligns
            // the stack. Under Microsoft x64 two are on the stack, and the way on stays a plain jump.
            //
            // It also records each tier-up it let through (MethodDesc, code) in a ring: a compile that finished just
            // before a method was held may not be published yet, and the hook must go where callers will arrive.
            // rbx keeps ftn and r12 the nativeEntry out-pointer (5th argument, r8) across the call; three slots
            // keep rsp 16-byte aligned at the call.
            var keep = asm.CreateLabel();
            var compiled = asm.CreateLabel();
            var decline = asm.CreateLabel();
            asm.push(rbx);
            asm.push(r12);
            asm.sub(rsp, 8);
            asm.mov(rbx, __qword_ptr[info]);
            asm.mov(r12, r8);
            asm.mov(rax, (ulong)original);
            asm.call(rax);
            asm.test(eax, eax);
            asm.jnz(keep); // CORJIT_OK is 0; anything else goes back as the JIT said it
            worker.EmitJumpUnlessWorker(asm, compiled); // OSR and first compiles: nothing to decline or record
            EmitIsHeld(asm, tables, rbx, decline);
            asm.mov(r10, (ulong)tables.Recent);
            asm.mov(eax, 1);
            asm.@lock.xadd(__qword_ptr[r10], rax);
            asm.and(eax, tables.RecentSize - 1);
            asm.shl(rax, 4);
            asm.mov(r11, __qword_ptr[r12]);
            asm.mov(__qword_ptr[r10 + rax + 16], r11);
            asm.mov(__qword_ptr[r10 + rax + 8], rbx);
            asm.jmp(compiled);
            asm.Label(ref decline);
            asm.mov(eax, CorJitSkipped);
            asm.jmp(keep);
            asm.Label(ref compiled);
            asm.xor(eax, eax); // CORJIT_OK (the prctl call changed eax)
            asm.Label(ref keep);
            asm.add(rsp, 8);
            asm.pop(r12);
            asm.pop(rbx);
            asm.ret();
        }
        else
        {
            asm.mov(rax, (ulong)original);
            asm.jmp(rax);
        }
        asm.Label(ref deny);
        worker?.EmitJumpUnlessWorker(asm, pass);
        asm.mov(eax, CorJitSkipped);
        asm.ret();

        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), at);
        return stream.ToArray();
    }

    /// <summary>Jumps to <paramref name="target"/> when the MethodDesc in <paramref name="key"/> is in the table (or, inverted, when it is not). Uses r10, r11.</summary>
    private static void EmitIsHeld(Assembler asm, JitFilterTables tables, AssemblerRegister64 key, Label target, bool invert = false)
    {
        var loop = asm.CreateLabel();
        var done = asm.CreateLabel();
        asm.mov(r10, (ulong)tables.TableCell);
        asm.mov(r10, __qword_ptr[r10]);
        asm.mov(r11, __qword_ptr[r10]);
        asm.Label(ref loop);
        asm.test(r11, r11);
        asm.jz(invert ? target : done);
        asm.cmp(key, __qword_ptr[r10 + r11 * 8]);
        asm.je(invert ? done : target);
        asm.dec(r11);
        asm.jmp(loop);
        asm.Label(ref done);
        asm.nop(); // the caller's next label may not share an instruction with this one
    }
}
#endif
