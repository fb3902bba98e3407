using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hybrid.Arm64;
using Hybrid.Compat;
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

    /// <summary>Tests set this to make the next code writes fail as a W^X refusal would (before anything is changed).</summary>
    internal static string? SimulatedWriteRefusal { get; set; }

    private static void ThrowIfSimulatedRefusal(nint address)
    {
        if (SimulatedWriteRefusal is { } reason)
            throw new CodeWriteRefusedException($"The operating system refused to make code at 0x{address:x} writable ({reason}).", 13);
    }

    public static void Write(nint address, ReadOnlySpan<byte> bytes) => Write(address, bytes, entryWordLast: false);

    /// <summary>Puts back the original bytes of an entry that holds our jump (see <see cref="Store"/> for the order).</summary>
    public static void Restore(nint address, ReadOnlySpan<byte> original) => Write(address, original, entryWordLast: true);

    private static void Write(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
    {
        ThrowIfSimulatedRefusal(address);
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
    /// Writes code into the engine's own stub memory, at a place no thread runs yet, while other stubs on the same
    /// pages may be running: the pages stay executable (a brief RWX window, as in <see cref="Write(nint, ReadOnlySpan{byte})"/>),
    /// and the new code is flushed for instruction fetch. Not counted in <see cref="WriteCount"/>, which counts
    /// changes to the program's code.
    /// </summary>
    public static void WriteNewCode(nint address, ReadOnlySpan<byte> bytes)
    {
        ThrowIfSimulatedRefusal(address);
        var memory = PlatformMemory.Current;
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
    /// thread fence (<see cref="ThreadFence"/>: other threads stopped and moved off the overwritten instruction
    /// boundaries); where there is none, as <see cref="Write(nint, ReadOnlySpan{byte})"/> does (Explain warns).
    /// </summary>
    public static void WriteWithThreadsParked(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups)
    {
        ThrowIfSimulatedRefusal(address);
        if (ThreadFence.UnavailableReason is not null || fixups.Length == 0)
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
            if (!ThreadFence.TryWrite(address, bytes, fixups, original, out int error))
                throw new CodeWriteRefusedException(
                    $"The operating system refused to make code at 0x{address:x} writable (error {error}); " +
                    "this process enforces W^X (no page may be writable and executable at once).", error);
            Interlocked.Increment(ref WriteCount);
        }
    }

    private static void Store(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            StoreArm64(address, bytes);
        else
            StoreX64(address, bytes, entryWordLast);
    }

    /// <summary>
    /// Every instruction-cache maintenance the engine performed on arm64 (address, length), in order — tests prove
    /// with it that each code write was followed by a flush, which an emulator's always-coherent caches cannot show.
    /// Null on other CPUs.
    /// </summary>
    public static CountingInstructionCacheFlusher? Arm64Flushes => s_arm64.Value?.Flusher;

    private sealed class Arm64Writer
    {
        public Arm64Writer()
        {
            Flusher = new CountingInstructionCacheFlusher(Arm64InstructionCache.CreateForCurrentProcess());
            // CodeMemory has already made the page writable (or found it so) when the writer runs — except for macOS
            // MAP_JIT memory, which is rwx in the page tables but writable only for a thread that turned its JIT write
            // protection off (pthread_jit_write_protect_np(0)); the toggle is harmless for other pages.
            IArm64CodeMemory memory = CodeMemoryFor(Host.IsMacOS, () => Arm64Native.pthread_jit_write_protect_supported_np() != 0);
            Writer = new Arm64CodeWriter(Flusher, memory);
        }

        public CountingInstructionCacheFlusher Flusher { get; }
        public Arm64CodeWriter Writer { get; }
    }

    /// <summary>
    /// How arm64 code is made writable for a store: macOS with per-thread JIT write protection (MAP_JIT memory) toggles
    /// it around the store; everywhere else the page protection <see cref="CodeMemory"/> set is enough. The question to
    /// macOS is asked only there (the symbol exists nowhere else).
    /// </summary>
    internal static IArm64CodeMemory CodeMemoryFor(bool macOS, Func<bool> jitWriteProtectSupported) =>
        macOS && jitWriteProtectSupported() ? new MacJitCodeMemory() : WritableCodeMemory.Instance;

    private static readonly Lazy<Arm64Writer?> s_arm64 = new(() => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? new Arm64Writer() : null);

    /// <summary>
    /// arm64: the engine only ever changes one aligned instruction word in a method (its entry B, see
    /// <see cref="Arm64HookBuilder"/>), with one 32-bit store followed by the Arm ARM's cache maintenance.
    /// </summary>
    private static void StoreArm64(nint address, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 4 || (address & 3) != 0)
            throw new InvalidOperationException($"arm64 code writes change one aligned instruction word; got {bytes.Length} byte(s) at 0x{address:x}.");
        uint old = unchecked((uint)Volatile.Read(ref Unsafe.AsRef<int>((void*)address)));
        uint word = (uint)(bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24);
        s_arm64.Value!.Writer.ReplaceWord((ulong)address, old, word);
    }

    /// <summary>
    /// Makes code that the engine wrote into a fresh page (a stub, a trampoline) visible to instruction fetch. On arm64
    /// that is DC CVAU / DSB / IC IVAU / DSB / ISB over the range (Arm ARM B2.4.4, "Cache maintenance requirements for
    /// self-modifying code"); x64 keeps instruction fetch coherent with stores (Intel SDM vol. 3, 11.6), so nothing.
    /// </summary>
    public static void FlushNewCode(nint address, int length) => s_arm64.Value?.Flusher.Flush(address, length);

    /// <summary>
    /// Stores the bytes one aligned 8-byte word at a time, each with a single locked write, so a thread fetching a word
    /// sees all of its old or all of its new bytes. Which word goes first matters when a patch spans two words:
    /// installing a jump writes the entry word first (entering threads are diverted before the rest changes);
    /// restoring writes it last (the tail is only the int3 padding behind the jump until the entry word, holding the
    /// start of the original code, comes back in one store).
    /// </summary>
    private static void StoreX64(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
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
