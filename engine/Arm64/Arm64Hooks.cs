using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Threading;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid.Arm64;

/// <summary>arm64 hooks: one <c>B stub</c> replaces the first instruction (<see cref="Arm64HookBuilder"/>).</summary>
internal sealed unsafe class Arm64Hooks : ICpuHooks
{
    private static readonly uint Trap = Arm64Instructions.Brk(0x4859); // "HY"

    private readonly Lazy<Arm64CodeWriter> _writer;
    private CountingInstructionCacheFlusher? _flushes;

    /// <param name="flusher">The cache maintenance this OS gets (<see cref="Arm64InstructionCache.FlusherFor"/>).</param>
    /// <param name="macOS">macOS: MAP_JIT memory is writable only for a thread that turned its JIT write protection off.</param>
    public Arm64Hooks(Arm64FlusherKind flusher, bool macOS)
    {
        _writer = new Lazy<Arm64CodeWriter>(() =>
        {
            _flushes = new CountingInstructionCacheFlusher(Arm64InstructionCache.Create(flusher, Platform.Memory));
            return new Arm64CodeWriter(_flushes, CodeMemoryFor(macOS, MacJitCodeMemory.Supported));
        });
    }

    /// <summary>
    /// Every instruction-cache maintenance performed (address, length), in order — tests prove with it that each code
    /// write was followed by a flush, which an emulator's always-coherent caches cannot show.
    /// </summary>
    public CountingInstructionCacheFlusher Flushes
    {
        get
        {
            _ = _writer.Value;
            return _flushes!;
        }
    }

    public string? Refusal(nint body) => null; // one instruction is replaced, and every body has one

    public long StubReach => Arm64Instructions.BranchMax; // B's imm26 words

    public string StubReachText => "±128 MiB";

    // The hidden argument follows `this`; a hidden return buffer travels in x8, outside the argument registers.
    public int HiddenArgumentIndex(MethodTarget target) => target.IsInstance ? 1 : 0;

    public HookCode Build(MethodTarget target, nint body, StubSlot slot, StubFilter? filter) =>
        Arm64HookBuilder.Build(body, Arm64HookBuilder.ReadFirstWord(body), slot.Code, slot.Data, slot.CodeSize, filter);

    public void FillWithTraps(Span<byte> code)
    {
        for (int offset = 0; offset + 4 <= code.Length; offset += 4)
            BinaryPrimitives.WriteUInt32LittleEndian(code.Slice(offset), Trap);
    }

    /// <summary>
    /// The engine only ever changes one aligned instruction word in a method (its entry B, see
    /// <see cref="Arm64HookBuilder"/>), with one 32-bit store followed by the Arm ARM's cache maintenance.
    /// </summary>
    public void Store(nint address, ReadOnlySpan<byte> bytes, bool entryWordLast)
    {
        if (bytes.Length != 4 || (address & 3) != 0)
            throw new InvalidOperationException($"arm64 code writes change one aligned instruction word; got {bytes.Length} byte(s) at 0x{address:x}.");
        uint old = unchecked((uint)Volatile.Read(ref Unsafe.AsRef<int>((void*)address)));
        uint word = (uint)(bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24);
        _writer.Value.ReplaceWord((ulong)address, old, word);
    }

    /// <summary>DC CVAU / DSB / IC IVAU / DSB / ISB over the range (Arm ARM B2.4.4, "Cache maintenance requirements for self-modifying code").</summary>
    public void FlushNewCode(nint address, int length)
    {
        Flushes.Flush(address, length);
    }

    /// <summary>
    /// How arm64 code is made writable for a store: macOS with per-thread JIT write protection (MAP_JIT memory) toggles
    /// it around the store; everywhere else the page protection <see cref="Os.CodeMemory"/> set is enough. The question
    /// to macOS is asked only there (the symbol exists nowhere else).
    /// </summary>
    internal static IArm64CodeMemory CodeMemoryFor(bool macOS, Func<bool> jitWriteProtectSupported) =>
        macOS && jitWriteProtectSupported() ? new MacJitCodeMemory() : WritableCodeMemory.Instance;
}
