using Hybrid.Compat;
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Hybrid.Os;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Hybrid.CoreClr;

/// <summary>
/// Keeps CoreCLR from compiling a new body for a method while we have a jump in its current one.
/// <para>
/// Why: with tiered compilation a method starts in tier-0 (or ReadyToRun) code, and after ~30 calls the runtime
/// compiles tier-1 code and repoints every way in (precode data slot, vtable slots, call-counting stubs) to it; a jump
/// written into the old body is then silently bypassed (seen here after ~900k calls). Every new body is produced by
/// the JIT's <c>ICorJitCompiler::compileMethod</c>, so the JIT object's vtable is swapped for a copy whose first slot
/// is a small machine-code filter: when the method being compiled (<c>CORINFO_METHOD_INFO.ftn</c>, the MethodDesc)
/// is held, it answers <c>CORJIT_SKIPPED</c>; the runtime then keeps the code that already runs ("failing to jit
/// should be rare but acceptable; we leave whatever code already exists in place", tieredcompilation.cpp). All other
/// compilations go straight to the real JIT. The filter is native code, so it runs no managed code inside the JIT
/// and cannot recurse.
/// </para>
/// <para>
/// The interface used — slot 0 of <c>ICorJitCompiler</c>, and <c>ftn</c> as the first field of
/// <c>CORINFO_METHOD_INFO</c> — has not changed across .NET 5 to 10.
/// </para>
/// </summary>
internal static unsafe class TieringFreeze
{
    private const uint CorJitSkipped = 0x80000004;
    private static readonly object s_gate = new();
#pragma warning disable CS0649 // assigned only in the net8.0 build
    private static nint* s_table; // [0] = high-water count, [1..count] = held MethodDescs (0 = free)
    private static nint* s_tableCell; // where the filter reads s_table from: a full table is replaced by a larger copy
    private static nint* s_recent; // [0] = count, then RecentSize (MethodDesc, code) pairs: tier-ups the filter let through
    private const int RecentSize = 256;
#pragma warning restore CS0649
    private static long s_capacity = 4096;
    private static bool s_attempted;
    private static string? s_unavailable;

    /// <summary>Null when available; otherwise why tier-up cannot be held on this runtime.</summary>
    public static string? UnavailableReason
    {
        get
        {
            lock (s_gate)
            {
                EnsureInstalled();
                return s_unavailable;
            }
        }
    }

    public static bool Hold(nint methodDesc)
    {
        if (methodDesc == 0)
            return false; // Mono: no tiering, nothing to hold
        lock (s_gate)
        {
            if (!EnsureInstalled())
                return false;
            long count = s_table[0];
            for (long i = 1; i <= count; i++)
            {
                if (s_table[i] == 0)
                {
                    Host.VolatileWrite(ref s_table[i], methodDesc);
                    return true;
                }
            }
            if (count + 1 >= s_capacity)
                Grow();
            s_table[count + 1] = methodDesc;
            Host.VolatileWrite(ref s_table[0], (nint)(count + 1)); // publish after the entry: x64 stores are seen in order
            return true;
        }
    }

    /// <summary>
    /// Publishes a copy of the table twice as large. The old one is never freed: a compilation on another thread may
    /// be scanning it right now (it then misses only methods held after the switch, which are not yet patched).
    /// </summary>
    private static void Grow()
    {
        long capacity = s_capacity * 2;
        var table = (nint*)Marshal.AllocHGlobal((nint)(capacity * sizeof(nint)));
        new Span<nint>(table, (int)capacity).Clear();
        for (long i = 0; i <= s_table[0]; i++)
            table[i] = s_table[i];
        s_table = table;
        s_capacity = capacity;
        Host.VolatileWrite(ref *s_tableCell, (nint)table);
    }

    /// <summary>
    /// The code of the newest tier-up of <paramref name="methodDesc"/> that the filter let through (among the last
    /// 256 of the process), or 0. Once the method is held, no newer one can come.
    /// </summary>
    public static nint LastTierUp(nint methodDesc)
    {
        lock (s_gate)
        {
            if (s_recent == null)
                return 0;
            long count = Volatile.Read(ref *(long*)s_recent);
            for (long n = count - 1; n >= 0 && n >= count - RecentSize; n--)
            {
                long slot = n & (RecentSize - 1);
                if (s_recent[1 + 2 * slot] == methodDesc)
                    return s_recent[2 + 2 * slot];
            }
            return 0;
        }
    }

    public static void Release(nint methodDesc)
    {
        if (methodDesc == 0)
            return;
        lock (s_gate)
        {
            if (s_table == null)
                return;
            long count = s_table[0];
            for (long i = 1; i <= count; i++)
            {
                if (s_table[i] == methodDesc)
                {
                    Host.VolatileWrite(ref s_table[i], 0);
                    return;
                }
            }
        }
    }

    public static bool IsHeld(nint methodDesc)
    {
        lock (s_gate)
        {
            if (s_table == null)
                return false;
            for (long i = 1; i <= s_table[0]; i++)
                if (s_table[i] == methodDesc)
                    return true;
            return false;
        }
    }

    private static bool EnsureInstalled()
    {
        if (s_attempted)
            return s_unavailable is null;
        s_attempted = true;
        try
        {
            s_unavailable = Install();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or IOException or InvalidOperationException or NotSupportedException)
        {
            s_unavailable = "the JIT could not be located (" + e.Message + ")";
        }
        return s_unavailable is null;
    }

    private static string? Install()
    {
#if !NET
        return "holding tier-up needs the net8.0 build of Hybrid (this is the netstandard2.0 build, for Mono and .NET Framework, which do not tier)";
#else
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"holding tier-up is implemented for x64 only (this process is {RuntimeInformation.ProcessArchitecture})";
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled)
            return "this runtime has no JIT";
        string file = Host.IsWindows ? "clrjit.dll" : Host.IsMacOS ? "libclrjit.dylib" : "libclrjit.so";
        string path = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), file);
        if (!NativeLibrary.TryLoad(path, out var library) && !NativeLibrary.TryLoad(file, out library))
            return $"{file} was not found next to the runtime";
        var getJit = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "getJit");
        nint jit = getJit();
        if (jit == 0)
            return "getJit() returned null";

        s_table = (nint*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(s_capacity * sizeof(nint)));
        s_tableCell = (nint*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)sizeof(nint));
        *s_tableCell = (nint)s_table;
        s_recent = (nint*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)((1 + 2 * RecentSize) * sizeof(nint)));
        nint* vtable = *(nint**)jit;
        nint original = vtable[0];

        // ftn is at offset 0 of CORINFO_METHOD_INFO, the third argument (after this and ICorJitInfo*).
        var info = Host.IsWindows ? r8 : rdx;
        var asm = new Assembler(64);
        var pass = asm.CreateLabel();
        var deny = asm.CreateLabel();
        asm.mov(rax, __qword_ptr[info]);
        EmitIsHeld(asm, rax, deny);
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
            EmitIsHeld(asm, rbx, decline);
            asm.mov(r10, (ulong)s_recent);
            asm.mov(eax, 1);
            asm.@lock.xadd(__qword_ptr[r10], rax);
            asm.and(eax, RecentSize - 1);
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

        var memory = Os.PlatformMemory.Current;
        nint page = memory.AllocateNear(original, memory.PageSize, long.MaxValue / 4);
        if (page == 0)
            return "no memory for the JIT filter";
        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), (ulong)page);
        stream.ToArray().CopyTo(new Span<byte>((void*)page, memory.PageSize));
        if (!memory.TryProtect(page, memory.PageSize, PageAccess.ReadExecute, out int error))
            return $"the JIT filter page could not be made executable (error {error})";

        // A private copy of the vtable, so the JIT's own read-only data is never written. 16 slots covers
        // ICorJitCompiler on every supported version (it has fewer).
        const int slots = 16;
        var copy = (nint*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)(slots * sizeof(nint)));
        for (int i = 0; i < slots; i++)
            copy[i] = vtable[i];
        copy[0] = page;
        Interlocked.Exchange(ref *(nint*)jit, (nint)copy);
        return null;
#endif
    }

    /// <summary>Jumps to <paramref name="target"/> when the MethodDesc in <paramref name="key"/> is in the table (or, inverted, when it is not). Uses r10, r11.</summary>
    private static void EmitIsHeld(Assembler asm, AssemblerRegister64 key, Label target, bool invert = false)
    {
        var loop = asm.CreateLabel();
        var done = asm.CreateLabel();
        asm.mov(r10, (ulong)s_tableCell);
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
        asm.mov(r10, NameWord(0));
        asm.cmp(rax, r10);
        asm.jne(differs);
        asm.mov(rax, __qword_ptr[rsp + 8]);
        asm.mov(r10, NameWord(8));
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

    private const string TieringWorkerName = ".NET Tiered Com"; // 15 characters and the NUL: the kernel's whole comm field

    private static ulong NameWord(int offset)
    {
        ulong word = 0;
        for (int i = 7; i >= 0; i--)
        {
            int at = offset + i;
            word = (word << 8) | (at < TieringWorkerName.Length ? (byte)TieringWorkerName[at] : 0UL);
        }
        return word;
    }
}
