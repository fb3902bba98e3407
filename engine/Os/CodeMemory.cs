using System;
using System.Threading;

namespace Hybrid.Os;

/// <summary>Thrown when the platform refuses to let the engine change code (W^X policy, hardened runtime, ...).</summary>
internal sealed class CodeWriteRefusedException : NotSupportedException
{
    public CodeWriteRefusedException(string message, int error) : base(message) => Error = error;

    public int Error { get; }
}

/// <summary>
/// Writes bytes into executable memory and puts the page protection back exactly as it was, so the process never
/// keeps a writable+executable mapping because of us. Every code write in the engine goes through here.
/// </summary>
internal static unsafe class CodeMemory
{
    private static readonly object s_gate = new();

    // Protection of the code pages we patch, read once from the OS: reading /proc/self/maps costs far more than the
    // write itself. Code pages keep their protection (CoreCLR's W^X maps code r-x and writes through a separate
    // r/w view; with W^X off they are rwx throughout), so the first answer stays true — for the memory seam that gave
    // it (a test may plug in another, Platform.Substitute).
    private static readonly System.Collections.Generic.Dictionary<nint, PageAccess> s_protection = new();
    private static PlatformMemory? s_protectionSource;

    private static PageAccess Protection(nint address)
    {
        var memory = Platform.Memory;
        if (!ReferenceEquals(memory, s_protectionSource))
        {
            s_protection.Clear();
            s_protectionSource = memory;
        }
        nint page = memory.PageStart(address);
        if (!s_protection.TryGetValue(page, out var access))
        {
            access = memory.Query(page);
            s_protection[page] = access;
        }
        return access;
    }

    public static void Write(nint address, ReadOnlySpan<byte> bytes) => Write(address, bytes, entryWordLast: false);

    /// <summary>
    /// Puts back the original bytes of an entry that holds our jump (each CPU's <see cref="Patching.ICpuHooks.Store"/>
    /// says in which order), behind the thread fence where the CPU needs one for that too (arm64, B2.2.5).
    /// </summary>
    public static void Restore(nint address, ReadOnlySpan<byte> original)
    {
        var fence = Platform.Fence;
        if (fence.UnavailableReason is null && fence.NeedsFence(0))
            WriteFenced(fence, address, original, Array.Empty<(nint, nint)>());
        else
            Write(address, original, entryWordLast: true);
    }

    private static void Write(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
    {
        var memory = Platform.Memory;
        lock (s_gate)
        {
            var original = Protection(address);
            var originalEnd = Protection(address + bytes.Length - 1);
            bool mustProtect = (original & PageAccess.Write) == 0 || (originalEnd & PageAccess.Write) == 0;
            if (mustProtect)
            {
                // Other threads may be executing on these pages while we write, so the page must stay executable:
                // a brief RWX window, closed again below. Under a W^X policy this is refused (EACCES) and we stop
                // before changing a byte.
                if (!memory.TryProtect(address, bytes.Length, PageAccess.ReadWriteExecute, out int error))
                    throw new CodeWriteRefusedException(
                        $"The operating system refused to make code at 0x{address:x} writable (error {error}); " +
                        "this process enforces W^X (no page may be writable and executable at once).", error);
            }
            try
            {
                Platform.Cpu.Store(address, bytes, entryWordLast);
            }
            finally
            {
                if (mustProtect)
                {
                    memory.TryProtect(address, 1, original, out _);
                    if (memory.PageStart(address) != memory.PageStart(address + bytes.Length - 1))
                        memory.TryProtect(address + bytes.Length - 1, 1, originalEnd, out _);
                }
            }
        }
    }

    /// <summary>
    /// Writes code into the engine's own stub memory, at a place no thread runs yet, while other stubs on the same
    /// pages may be running: the pages stay executable (a brief RWX window, as in <see cref="Write(nint, ReadOnlySpan{byte})"/>),
    /// and the new code is flushed for instruction fetch.
    /// </summary>
    public static void WriteNewCode(nint address, ReadOnlySpan<byte> bytes)
    {
        var memory = Platform.Memory;
        lock (s_gate)
        {
            if (!memory.TryProtect(address, bytes.Length, PageAccess.ReadWriteExecute, out int error))
                throw new CodeWriteRefusedException(
                    $"The operating system refused to make the redirect stub at 0x{address:x} writable (error {error}); " +
                    "this process enforces W^X (no page may be writable and executable at once).", error);
            try
            {
                bytes.CopyTo(new Span<byte>((void*)address, bytes.Length));
            }
            finally
            {
                memory.TryProtect(address, bytes.Length, PageAccess.ReadExecute, out _);
            }
        }
        FlushNewCode(address, bytes.Length);
    }

    /// <summary>
    /// Writes a jump over the first instructions of a method that other threads may be running: behind the platform's
    /// thread fence (<see cref="IThreadFence"/>: other threads stopped, and moved off the overwritten instruction
    /// boundaries) when the write needs one; where there is none, as <see cref="Write(nint, ReadOnlySpan{byte})"/> does (Explain warns).
    /// </summary>
    public static void WriteWithThreadsParked(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups)
    {
        var fence = Platform.Fence;
        if (fence.UnavailableReason is not null || !fence.NeedsFence(fixups.Length))
            Write(address, bytes);
        else
            WriteFenced(fence, address, bytes, fixups);
    }

    private static void WriteFenced(IThreadFence fence, nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups)
    {
        lock (s_gate)
        {
            var original = Protection(address);
            if (Protection(address + bytes.Length - 1) != original)
            {
                Write(address, bytes);
                return;
            }
            if (!fence.TryWrite(address, bytes, fixups, original, out int error))
                throw new CodeWriteRefusedException(
                    $"The operating system refused to make code at 0x{address:x} writable (error {error}); " +
                    "this process enforces W^X (no page may be writable and executable at once).", error);
        }
        // The fence made the write visible to instruction fetch before it let the threads go (Windows:
        // FlushInstructionCache; arm64: its routine's DC/IC). This is the CPU layer's own flush of the written range,
        // which also keeps the arm64 log of maintained ranges complete (Arm64Hooks.Flushes); on x64 it does nothing.
        FlushNewCode(address, bytes.Length);
    }

    /// <summary>Makes code written into fresh memory visible to instruction fetch (<see cref="Patching.ICpuHooks.FlushNewCode"/>).</summary>
    public static void FlushNewCode(nint address, int length) => Platform.Cpu.FlushNewCode(address, length);

    public static byte[] Read(nint address, int count) => new ReadOnlySpan<byte>((void*)address, count).ToArray();
}
