using System.IO;
using System.Runtime.InteropServices;
using Hybrid.Compat;
using Hybrid.CoreClr;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

#if NET
namespace Hybrid.X64;

/// <summary>
/// The x64 machine code of <see cref="TieringFreeze"/>'s filter in front of the JIT's
/// <c>ICorJitCompiler::compileMethod</c>, assembled with Iced (SysV on Linux, Microsoft x64 on Windows).
/// </summary>
internal sealed class X64JitFilter : IJitFilter
{
    private readonly X64Abi _abi;

    public X64JitFilter(X64Abi abi) => _abi = abi;

    byte[] IJitFilter.Build(ulong at, ulong original, JitFilterTables tables) => Build(at, (nint)original, tables, _abi);

    private const uint CorJitSkipped = 0x80000004;

    /// <summary>The filter for the code address <paramref name="at"/>, going on to the JIT's <paramref name="original"/> compileMethod.</summary>
    public static byte[] Build(ulong at, nint original, JitFilterTables tables, X64Abi abi)
    {
        // ftn is at offset 0 of CORINFO_METHOD_INFO, the third argument (after this and ICorJitInfo*).
        var info = abi.ThirdArgumentIsR8 ? r8 : rdx;
        var asm = new Assembler(64);
        var pass = asm.CreateLabel();
        var deny = asm.CreateLabel();
        asm.mov(rax, __qword_ptr[info]);
        EmitIsHeld(asm, tables, rax, deny);
        asm.Label(ref pass);
        if (Host.IsLinux)
        {
            // Call the JIT rather than jump to it, and decline a result for a method that became held while it was
            // being compiled: a tier-1 compile already under way when a redirect is installed would otherwise be
            // published over the hooked body. SysV passes all six compileMethod arguments in registers, so a call
            // needs no copy of stack arguments; rbx (callee-saved) keeps ftn across it and aligns the stack.
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
            EmitUnlessTieringWorker(asm, compiled); // OSR and first compiles: nothing to decline or record
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
        if (Host.IsLinux)
            EmitUnlessTieringWorker(asm, pass);
        else if (Host.IsWindows && NativeLibrary.TryLoad("kernel32.dll", out var kernel32)
            && NativeLibrary.TryGetExport(kernel32, "GetThreadDescription", out var getThreadDescription)
            && NativeLibrary.TryGetExport(kernel32, "LocalFree", out var localFree))
            EmitUnlessWindowsTieringWorker(asm, pass, getThreadDescription, localFree);
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

    /// <summary>
    /// Linux: jumps to <paramref name="notWorker"/> unless this thread is CoreCLR's tiering background worker
    /// (".NET Tiered Compilation Worker", which the kernel keeps as ".NET Tiered Com"). Every tier-up (tier-0 or
    /// ReadyToRun code replaced by tier-1, or by instrumented code) is compiled there
    /// (<c>TieredCompilationManager::BackgroundWorkerStart</c>); the other compilations of a held method are
    /// on-stack-replacement variants, compiled synchronously by the thread that runs a long loop of the original
    /// (<c>JIT_Patchpoint</c>). Those must go through: the runtime throws InvalidProgramException into that thread
    /// when its OSR compile fails, and an OSR variant never becomes the method's entry, so it cannot bypass a redirect.
    /// The name is read with prctl(PR_GET_NAME); all argument registers are kept.
    /// </summary>
    private static void EmitUnlessTieringWorker(Assembler asm, Label notWorker)
    {
        var differs = asm.CreateLabel();
        var worker = asm.CreateLabel();
        asm.push(rdi);
        asm.push(rsi);
        asm.push(rcx); // syscall clobbers rcx and r11
        asm.sub(rsp, 16);
        asm.mov(edi, 16); // PR_GET_NAME: 16 bytes, NUL-terminated
        asm.mov(rsi, rsp);
        asm.mov(eax, 157); // prctl
        asm.syscall();
        asm.mov(rax, __qword_ptr[rsp]);
        asm.mov(r10, TieringFreeze.NameWord(0));
        asm.cmp(rax, r10);
        asm.jne(differs);
        asm.mov(rax, __qword_ptr[rsp + 8]);
        asm.mov(r10, TieringFreeze.NameWord(8));
        asm.cmp(rax, r10);
        asm.je(worker);
        asm.Label(ref differs);
        Restore();
        asm.jmp(notWorker);
        asm.Label(ref worker);
        Restore();

        void Restore()
        {
            asm.add(rsp, 16);
            asm.pop(rcx);
            asm.pop(rsi);
            asm.pop(rdi);
        }
    }

    /// <summary>
    /// Windows: as <see cref="EmitUnlessTieringWorker"/>, with the name CoreCLR gives the worker through
    /// SetThreadDescription, read back with GetThreadDescription (compared on its first 16 UTF-16 characters, ".NET
    /// Tiered Comp"). The four argument registers and the caller's stack arguments are kept, so that the way on to
    /// the real JIT stays a plain jump.
    /// </summary>
    private static void EmitUnlessWindowsTieringWorker(Assembler asm, Label notWorker, nint getThreadDescription, nint localFree)
    {
        var free = asm.CreateLabel();
        var noName = asm.CreateLabel();
        asm.push(rcx);
        asm.push(rdx);
        asm.push(r8);
        asm.push(r9);
        asm.sub(rsp, 0x38); // 32 bytes of shadow space, the description pointer at +0x20, the answer at +0x28; 16-aligned
        asm.mov(__qword_ptr[rsp + 0x20], 0);
        asm.mov(__qword_ptr[rsp + 0x28], 0);
        asm.mov(rcx, unchecked((ulong)-2L)); // GetCurrentThread()
        asm.lea(rdx, __qword_ptr[rsp + 0x20]);
        asm.mov(rax, (ulong)getThreadDescription);
        asm.call(rax);
        asm.test(eax, eax);
        asm.js(noName); // a failed HRESULT: no name
        asm.mov(rcx, __qword_ptr[rsp + 0x20]);
        asm.test(rcx, rcx);
        asm.jz(noName);
        const string prefix = ".NET Tiered Comp";
        for (int word = 0; word < 4; word++)
        {
            ulong expected = 0;
            for (int c = 3; c >= 0; c--)
                expected = (expected << 16) | prefix[4 * word + c];
            asm.mov(rax, __qword_ptr[rcx + 8 * word]);
            asm.mov(r10, expected);
            asm.cmp(rax, r10);
            asm.jne(free);
        }
        asm.mov(__qword_ptr[rsp + 0x28], 1);
        asm.Label(ref free);
        asm.mov(rcx, __qword_ptr[rsp + 0x20]);
        asm.mov(rax, (ulong)localFree);
        asm.call(rax);
        asm.Label(ref noName);
        asm.mov(rax, __qword_ptr[rsp + 0x28]);
        asm.add(rsp, 0x38);
        asm.pop(r9);
        asm.pop(r8);
        asm.pop(rdx);
        asm.pop(rcx);
        asm.test(rax, rax);
        asm.jz(notWorker);
    }

}
#endif
