using Hybrid.Compat;
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Hybrid.Os;

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
        var filter = Platform.JitFilter(out string? noFilter);
        if (filter is null)
            return noFilter;
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled)
            return "this runtime has no JIT";
        string file = Platform.JitLibrary;
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

        var memory = Platform.Memory;
        nint page = memory.AllocateNear(original, memory.PageSize, long.MaxValue / 4);
        if (page == 0)
            return "no memory for the JIT filter";
        var tables = new JitFilterTables((nint)s_tableCell, (nint)s_recent, RecentSize, NameWord(0), NameWord(8));
        byte[] code = filter.Build((ulong)page, (ulong)original, tables);
        if (code.Length > memory.PageSize)
            return "the JIT filter does not fit a page";
        code.CopyTo(new Span<byte>((void*)page, memory.PageSize));
        if (!memory.TryProtect(page, memory.PageSize, PageAccess.ReadExecute, out int error))
            return $"the JIT filter page could not be made executable (error {error})";
        CodeMemory.FlushNewCode(page, memory.PageSize);
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

    private const string TieringWorkerName = ".NET Tiered Com"; // 15 characters and the NUL: the kernel's whole comm field

    internal static ulong NameWord(int offset)
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

/// <summary>
/// What a CPU's JIT filter reads: the cell holding the held-MethodDesc table, the ring of recent tier-ups and its size,
/// and the tiering worker's thread name as two little-endian words.
/// </summary>
internal readonly record struct JitFilterTables(nint TableCell, nint Recent, int RecentSize, ulong WorkerName0, ulong WorkerName1);

/// <summary>One CPU's filter in front of the JIT's <c>compileMethod</c> (<see cref="Platform.JitFilter"/>).</summary>
internal interface IJitFilter
{
    /// <summary>The filter's code for the address <paramref name="at"/>, going on to the JIT's <paramref name="original"/> compileMethod.</summary>
    byte[] Build(ulong at, ulong original, JitFilterTables tables);
}
