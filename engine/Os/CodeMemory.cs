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

    public static void Write(nint address, ReadOnlySpan<byte> bytes) => Write(address, bytes, entryWordLast: false);

    /// <summary>Puts back the original bytes of an entry that holds our jump (see <see cref="Store"/> for the order).</summary>
    public static void Restore(nint address, ReadOnlySpan<byte> original) => Write(address, original, entryWordLast: true);

    private static void Write(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
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
                Store(address, bytes, entryWordLast);
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
    /// elsewhere as <see cref="Write(nint, ReadOnlySpan{byte})"/> does.
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
    /// Stores the bytes one aligned 8-byte word at a time, each with a single locked write, so a thread fetching a word
    /// sees all of its old or all of its new bytes. Which word goes first matters when a patch spans two words:
    /// installing a jump writes the entry word first (entering threads are diverted before the rest changes);
    /// restoring writes it last (the tail is only the int3 padding behind the jump until the entry word, holding the
    /// start of the original code, comes back in one store).
    /// </summary>
    private static void Store(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
    {
        nint first = address & ~(nint)7;
        nint last = (address + bytes.Length - 1) & ~(nint)7;
        int words = (int)((last - first) / 8) + 1;
        for (int n = 0; n < words; n++)
        {
            nint word = entryWordLast ? last - n * 8 : first + n * 8;
            long oldValue = Volatile.Read(ref Unsafe.AsRef<long>((void*)word));
            long newValue = oldValue;
            var span = new Span<byte>(&newValue, 8);
            for (int i = 0; i < bytes.Length; i++)
            {
                nint at = address + i;
                if (at >= word && at < word + 8)
                    span[(int)(at - word)] = bytes[i];
            }
            Interlocked.Exchange(ref Unsafe.AsRef<long>((void*)word), newValue);
        }
    }

    public static byte[] Read(nint address, int count) => new ReadOnlySpan<byte>((void*)address, count).ToArray();
}
