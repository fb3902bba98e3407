using System;
using System.Runtime.CompilerServices;
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
    // r/w view; with W^X off they are rwx throughout), so the first answer stays true.
    private static readonly System.Collections.Generic.Dictionary<nint, PageAccess> s_protection = new();

    private static PageAccess Protection(nint address)
    {
        var memory = PlatformMemory.Current;
        nint page = memory.PageStart(address);
        if (!s_protection.TryGetValue(page, out var access))
        {
            access = memory.Query(page);
            s_protection[page] = access;
        }
        return access;
    }

    /// <summary>Counts writes; tests use it to prove that nothing was written on a refused or failed redirect.</summary>
    public static int WriteCount;

    public static void Write(nint address, ReadOnlySpan<byte> bytes)
    {
        var memory = PlatformMemory.Current;
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
                Store(address, bytes);
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
            Interlocked.Increment(ref WriteCount);
        }
    }

    /// <summary>
    /// Writes a jump over the first instructions of a method that other threads may be running: on x64 Linux with
    /// every running thread parked and moved off the overwritten instruction boundaries (<see cref="LinuxX64ThreadFence"/>);
    /// elsewhere as <see cref="Write"/> does.
    /// </summary>
    public static void WriteWithThreadsParked(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups)
    {
        if (!LinuxX64ThreadFence.IsSupported || LinuxX64ThreadFence.UnavailableReason is not null || fixups.Length == 0)
        {
            Write(address, bytes);
            return;
        }
        var memory = PlatformMemory.Current;
        lock (s_gate)
        {
            var original = Protection(address);
            if (Protection(address + bytes.Length - 1) != original)
            {
                Write(address, bytes);
                return;
            }
            if (!LinuxX64ThreadFence.TryWrite(address, bytes, fixups, original, out int error))
                throw new CodeWriteRefusedException(
                    $"The operating system refused to make code at 0x{address:x} writable (error {error}); " +
                    "this process enforces W^X (no page may be writable and executable at once).", error);
            Interlocked.Increment(ref WriteCount);
        }
    }

    /// <summary>
    /// A patch that fits in one aligned 8-byte word is stored with one locked 8-byte write, so a thread fetching
    /// those bytes sees either all old or all new bytes (never a torn instruction).
    /// </summary>
    private static void Store(nint address, ReadOnlySpan<byte> bytes)
    {
        nint word = address & ~(nint)7;
        int offset = (int)(address - word);
        if (offset + bytes.Length <= 8)
        {
            long oldValue = Volatile.Read(ref Unsafe.AsRef<long>((void*)word));
            long newValue = oldValue;
            var span = new Span<byte>(&newValue, 8);
            bytes.CopyTo(span.Slice(offset));
            Interlocked.Exchange(ref Unsafe.AsRef<long>((void*)word), newValue);
            return;
        }
        bytes.CopyTo(new Span<byte>((void*)address, bytes.Length));
    }

    public static byte[] Read(nint address, int count) => new ReadOnlySpan<byte>((void*)address, count).ToArray();
}
