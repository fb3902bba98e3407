using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Hybrid.Compat;

namespace Hybrid.Os;

#if NET
/// <summary>
/// Writes an entry jump while every other thread of the process is suspended, and moves a thread that stood between
/// the instructions being overwritten to the same instruction in the trampoline — what Detours does on Windows with
/// SuspendThread, GetThreadContext and SetThreadContext (see <see cref="LinuxX64ThreadFence"/> for why a fence is needed).
/// <para>
/// Between the first SuspendThread and the last ResumeThread no managed allocation, lock, JIT compilation or GC
/// transition may happen (a suspended thread may hold the heap or a runtime lock, or be the GC's own thread): the
/// section uses only buffers made beforehand and kernel32 entry points called through
/// <c>delegate* unmanaged[SuppressGCTransition]</c>, and its method is compiled before it is first needed.
/// </para>
/// <para>
/// Residual risk, as for Detours: a thread the runtime itself has suspended to redirect it for a GC keeps the context
/// the runtime saved, which may name an overwritten instruction; the runtime's redirection targets safe points, which a
/// method's first instructions are not.
/// </para>
/// </summary>
internal sealed unsafe class WindowsX64ThreadFence : IThreadFence
{
    public static readonly WindowsX64ThreadFence Instance = new();

    private WindowsX64ThreadFence()
    {
    }

    string? IThreadFence.UnavailableReason => UnavailableReason;

    // A thread stops only at an instruction boundary: one jmp, or the original's first instruction, holds none.
    bool IThreadFence.NeedsFence(int interiorBoundaries) => interiorBoundaries > 0;

    // The page protection is VirtualProtect's business inside the fence: it reads the original itself.
    bool IThreadFence.TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        TryWrite(address, bytes, fixups, out error);

    void IThreadFence.RemoveFixups((nint From, nint To)[] fixups)
    {
        // Threads are moved while suspended, inside the fence: there is no table to keep.
    }

    // Every other thread is suspended: asked and stopped are the same count.
    FenceCounts IThreadFence.Counts => new(s_fences, s_threadsSuspended, s_threadsSuspended, s_threadsMoved);

    private const uint ThreadAccess = 0x0002 /* SUSPEND_RESUME */ | 0x0008 /* GET_CONTEXT */ | 0x0010 /* SET_CONTEXT */ | 0x0040 /* QUERY_INFORMATION */;
    private const uint ContextControl = 0x00100001; // CONTEXT_AMD64 | CONTEXT_CONTROL: Rip, Rsp, SegCs, EFlags
    private const int ContextSize = 1232, ContextFlagsOffset = 0x30, RipOffset = 0xF8;
    private const uint PageExecuteReadWrite = 0x40;

    private static readonly object s_gate = new();
    private static bool s_initialized;
    private static string? s_unavailable;

    private static delegate* unmanaged<uint, uint, nint> s_createSnapshot;
    private static delegate* unmanaged<nint, byte*, int> s_thread32First, s_thread32Next;
    private static delegate* unmanaged<uint, int, uint, nint> s_openThread;
    private static delegate* unmanaged<nint, int> s_closeHandle;
    private static delegate* unmanaged[SuppressGCTransition]<nint, uint> s_suspendThread, s_resumeThread;
    private static delegate* unmanaged[SuppressGCTransition]<nint, byte*, int> s_getThreadContext, s_setThreadContext;
    private static delegate* unmanaged[SuppressGCTransition]<nint, nint, uint, uint*, int> s_virtualProtect;
    private static delegate* unmanaged[SuppressGCTransition]<nint, nint, nint, int> s_flushInstructionCache;
    private static delegate* unmanaged[SuppressGCTransition]<uint> s_getLastError;
    private static delegate* unmanaged<uint> s_getCurrentThreadId, s_getCurrentProcessId;

    // Fences written, and threads suspended and moved by them (Counts).
    private static long s_fences, s_threadsSuspended, s_threadsMoved;

    public static string? UnavailableReason
    {
        get
        {
            lock (s_gate)
            {
                Initialize();
                return s_unavailable;
            }
        }
    }

    /// <summary>
    /// Stores <paramref name="bytes"/> at <paramref name="address"/> with every other thread suspended. The bytes must
    /// lie in at most two aligned 8-byte words. False when the page could not be made writable (error in <paramref name="error"/>).
    /// </summary>
    public static bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, out int error)
    {
        lock (s_gate)
        {
            Initialize();
            if (s_unavailable is not null)
                throw new InvalidOperationException(s_unavailable);
            var wordAddresses = stackalloc nint[2];
            var values = stackalloc long[2];
            int words = ThreadFence.PatchWords(address, bytes, wordAddresses, values);
            nint first = wordAddresses[0];

            // Everything the section needs, made before any thread is suspended.
            var handles = OpenOtherThreads();
            int count = handles.Count;
            var handleArray = stackalloc nint[Math.Max(count, 1)];
            for (int i = 0; i < count; i++)
                handleArray[i] = handles[i];
            byte* contexts = (byte*)NativeMemory.AlignedAlloc((nuint)(Math.Max(count, 1) * ContextSize), 16);
            var from = stackalloc nint[Math.Max(fixups.Length, 1)];
            var to = stackalloc nint[Math.Max(fixups.Length, 1)];
            for (int i = 0; i < fixups.Length; i++)
                (from[i], to[i]) = fixups[i];
            try
            {
                var result = Section(handleArray, count, contexts, from, to, fixups.Length, first, words, values, address, bytes.Length);
                s_fences++;
                s_threadsSuspended += result.Suspended;
                s_threadsMoved += result.Moved;
                error = (int)result.Error;
                return error == 0;
            }
            finally
            {
                NativeMemory.AlignedFree(contexts);
                for (int i = 0; i < count; i++)
                    s_closeHandle(handleArray[i]);
            }
        }
    }

    private readonly struct Outcome
    {
        public Outcome(int suspended, int moved, uint error) => (Suspended, Moved, Error) = (suspended, moved, error);
        public int Suspended { get; }
        public int Moved { get; }
        public uint Error { get; }
    }

    /// <summary>Suspend, move, write, flush, resume: no allocation, no lock, no GC transition in here.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Outcome Section(nint* handles, int count, byte* contexts, nint* from, nint* to, int fixups,
        nint first, int words, long* values, nint address, int length)
    {
        int suspended = 0, moved = 0;
        uint error = 0;
        for (int i = 0; i < count; i++)
        {
            if (s_suspendThread(handles[i]) == uint.MaxValue)
                handles[i] = 0; // gone, or not ours to suspend: nothing to resume either
            else
                suspended++;
        }
        for (int i = 0; i < count; i++)
        {
            if (handles[i] == 0 || fixups == 0)
                continue;
            byte* context = contexts + i * ContextSize;
            *(uint*)(context + ContextFlagsOffset) = ContextControl;
            // GetThreadContext of a suspended thread returns once the thread is really stopped.
            if (s_getThreadContext(handles[i], context) == 0)
                continue;
            nint rip = *(nint*)(context + RipOffset);
            for (int f = 0; f < fixups; f++)
            {
                if (rip != from[f])
                    continue;
                *(nint*)(context + RipOffset) = to[f];
                if (s_setThreadContext(handles[i], context) != 0)
                    moved++;
                break;
            }
        }
        uint old;
        nint protectLength = (first + 8 * words) - (first & ~(nint)0xFFF);
        if (s_virtualProtect(first & ~(nint)0xFFF, protectLength, PageExecuteReadWrite, &old) == 0)
            error = s_getLastError();
        else
        {
            for (int w = 0; w < words; w++)
                Interlocked.Exchange(ref *(long*)(first + 8 * w), values[w]);
            uint ignored;
            s_virtualProtect(first & ~(nint)0xFFF, protectLength, old, &ignored);
            s_flushInstructionCache(-1, address, length);
        }
        for (int i = 0; i < count; i++)
            if (handles[i] != 0)
                s_resumeThread(handles[i]);
        return new Outcome(suspended, moved, error);
    }

    /// <summary>Handles of every other thread of this process (ToolHelp snapshot), opened before anything is suspended.</summary>
    private static List<nint> OpenOtherThreads()
    {
        var handles = new List<nint>();
        uint self = s_getCurrentThreadId(), process = s_getCurrentProcessId();
        nint snapshot = s_createSnapshot(0x4 /* TH32CS_SNAPTHREAD */, 0);
        if (snapshot == -1)
            return handles;
        try
        {
            // THREADENTRY32: dwSize, cntUsage, th32ThreadID, th32OwnerProcessID, tpBasePri, tpDeltaPri, dwFlags.
            var entry = stackalloc byte[28];
            *(uint*)entry = 28;
            for (int more = s_thread32First(snapshot, entry); more != 0; more = s_thread32Next(snapshot, entry))
            {
                uint thread = *(uint*)(entry + 8), owner = *(uint*)(entry + 12);
                if (owner != process || thread == self)
                    continue;
                nint handle = s_openThread(ThreadAccess, 0, thread);
                if (handle != 0)
                    handles.Add(handle);
                *(uint*)entry = 28;
            }
        }
        finally
        {
            s_closeHandle(snapshot);
        }
        return handles;
    }

    private static void Initialize()
    {
        if (s_initialized)
            return;
        s_initialized = true; // Platform chooses this fence on x64 Windows only
        if (!NativeLibrary.TryLoad("kernel32.dll", out var kernel32))
        {
            s_unavailable = "kernel32.dll could not be loaded";
            return;
        }
        nint Export(string name) => NativeLibrary.TryGetExport(kernel32, name, out var p) ? p : 0;
        var exports = new[] { "CreateToolhelp32Snapshot", "Thread32First", "Thread32Next", "OpenThread", "CloseHandle", "SuspendThread", "ResumeThread",
            "GetThreadContext", "SetThreadContext", "VirtualProtect", "FlushInstructionCache", "GetLastError", "GetCurrentThreadId", "GetCurrentProcessId" };
        var found = new nint[exports.Length];
        for (int i = 0; i < exports.Length; i++)
        {
            found[i] = Export(exports[i]);
            if (found[i] == 0)
            {
                s_unavailable = $"kernel32.dll has no {exports[i]}";
                return;
            }
        }
        s_createSnapshot = (delegate* unmanaged<uint, uint, nint>)found[0];
        s_thread32First = (delegate* unmanaged<nint, byte*, int>)found[1];
        s_thread32Next = (delegate* unmanaged<nint, byte*, int>)found[2];
        s_openThread = (delegate* unmanaged<uint, int, uint, nint>)found[3];
        s_closeHandle = (delegate* unmanaged<nint, int>)found[4];
        s_suspendThread = (delegate* unmanaged[SuppressGCTransition]<nint, uint>)found[5];
        s_resumeThread = (delegate* unmanaged[SuppressGCTransition]<nint, uint>)found[6];
        s_getThreadContext = (delegate* unmanaged[SuppressGCTransition]<nint, byte*, int>)found[7];
        s_setThreadContext = (delegate* unmanaged[SuppressGCTransition]<nint, byte*, int>)found[8];
        s_virtualProtect = (delegate* unmanaged[SuppressGCTransition]<nint, nint, uint, uint*, int>)found[9];
        s_flushInstructionCache = (delegate* unmanaged[SuppressGCTransition]<nint, nint, nint, int>)found[10];
        s_getLastError = (delegate* unmanaged[SuppressGCTransition]<uint>)found[11];
        s_getCurrentThreadId = (delegate* unmanaged<uint>)found[12];
        s_getCurrentProcessId = (delegate* unmanaged<uint>)found[13];
        // Compiled now, so that no JIT compilation (which takes locks a suspended thread may hold) happens inside.
        RuntimeHelpers.PrepareMethod(typeof(WindowsX64ThreadFence).GetMethod(nameof(Section), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MethodHandle);
    }
}
#else
/// <summary>The netstandard2.0 build (Mono, .NET Framework) has no Windows thread fence: it needs unmanaged function pointers without GC transitions.</summary>
internal sealed class WindowsX64ThreadFence : IThreadFence
{
    public static readonly WindowsX64ThreadFence Instance = new();
    public string? UnavailableReason => "the Windows thread fence needs the net8.0 build of Hybrid";
    public bool NeedsFence(int interiorBoundaries) => false;
    public FenceCounts Counts => default;
    public bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        throw new InvalidOperationException(UnavailableReason);
    public void RemoveFixups((nint From, nint To)[] fixups)
    {
    }
}
#endif
