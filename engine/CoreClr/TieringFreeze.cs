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
    private const int Capacity = 4096;
    private const uint CorJitSkipped = 0x80000004;
    private static readonly object s_gate = new();
#pragma warning disable CS0649 // assigned only in the net8.0 build
    private static nint* s_table; // [0] = high-water count, [1..count] = held MethodDescs (0 = free)
#pragma warning restore CS0649
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
            if (count + 1 >= Capacity)
                return false;
            s_table[count + 1] = methodDesc;
            Host.VolatileWrite(ref s_table[0], (nint)(count + 1)); // publish after the entry: x64 stores are seen in order
            return true;
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

        s_table = (nint*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(nint)));
        nint* vtable = *(nint**)jit;
        nint original = vtable[0];

        // ftn is at offset 0 of CORINFO_METHOD_INFO, the third argument (after this and ICorJitInfo*).
        var info = Host.IsWindows ? r8 : rdx;
        var asm = new Assembler(64);
        var loop = asm.CreateLabel();
        var pass = asm.CreateLabel();
        var deny = asm.CreateLabel();
        asm.mov(rax, __qword_ptr[info]);
        asm.mov(r10, (ulong)s_table);
        asm.mov(r11, __qword_ptr[r10]);
        asm.Label(ref loop);
        asm.test(r11, r11);
        asm.jz(pass);
        asm.cmp(rax, __qword_ptr[r10 + r11 * 8]);
        asm.je(deny);
        asm.dec(r11);
        asm.jmp(loop);
        asm.Label(ref pass);
        asm.mov(rax, (ulong)original);
        asm.jmp(rax);
        asm.Label(ref deny);
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
}
