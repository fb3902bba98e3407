using System;
using System.Collections.Generic;
using Hybrid.Os;

namespace Hybrid.Patching;

/// <summary>Where one hook's dispatch stub and trampoline (code) and its target cell or instantiation table (data) live.</summary>
internal readonly record struct StubSlot(nint Code, int CodeSize, nint Data, int DataSize);

/// <summary>
/// Hands out stub slots from chunks that many hooks share, each chunk within reach of the bodies it serves.
/// <para>
/// Why: a page pair per hook made every hook two kernel mappings of its own (an r-x code page and an rw- data page
/// cannot merge), and Linux allows 65,530 per process; redirecting every method of a large library ran out after
/// ~9,000 hooks ("no free memory within ±2 GiB"), and the search for free address space read /proc/self/maps for
/// every hook. A chunk is one code region (r-x, written through <see cref="CodeMemory.WriteNewCode"/>) followed by one
/// data region (rw-): two mappings for <see cref="SlotsPerChunk"/> hooks. Slots are never handed back once a hook is
/// installed (a thread may still run in a stub after its last redirect is gone); only a hook that never went live
/// returns its slot (<see cref="Free"/>). Caller holds the engine lock.
/// </para>
/// </summary>
internal static unsafe class StubHeap
{
    /// <summary>Code bytes per slot: the dispatch stub, then the trampoline at <see cref="X64.X64HookBuilder.TrampolineOffset"/>.</summary>
    public const int CodeSlotSize = 512;

    /// <summary>Data bytes per slot: the target cell (<see cref="HookDataLayout.CellOffset"/>); filtered hooks get a page for their table.</summary>
    public const int CellSlotSize = 64;

    private const int SlotsPerChunk = 128;
    private const int CodeBytes = SlotsPerChunk * CodeSlotSize; // 64 KiB
    // 128 cells (8 KiB), and room for instantiation tables of a page each: at least two of them where pages are 16 KiB
    // (macOS arm64) or 64 KiB. CodeBytes is a multiple of every such page size, so the data region starts on a page.
    private static readonly int DataBytes = Math.Max(16 * 1024, 2 * Platform.Memory.PageSize);

    private sealed class Chunk
    {
        public nint Code, Data;
        public int UsedCode, UsedData;
        public readonly Stack<nint> FreeCode = new();
        public readonly Dictionary<int, Stack<nint>> FreeData = new();
    }

    private static readonly List<Chunk> s_chunks = new();

    /// <summary>A code slot and a data slot of <paramref name="dataSize"/> bytes, all within <paramref name="reach"/> of <paramref name="near"/>.</summary>
    public static StubSlot Allocate(nint near, long reach, int dataSize)
    {
        foreach (var chunk in s_chunks)
        {
            if (!InReach(chunk, near, reach))
                continue;
            if (TryTake(chunk, dataSize, out var slot))
                return slot;
        }
        var memory = Platform.Memory;
        bool fromRuntime = false;
        nint start = memory.AllocateNear(near, CodeBytes + DataBytes, reach);
        if (start == 0)
        {
            start = Platform.Runtime.ReserveNearCode(CodeBytes + DataBytes);
            fromRuntime = start != 0;
        }
        if (start == 0)
            return default;
        // A trap everywhere a stub is not: a stray jump traps instead of sliding.
        Platform.Cpu.FillWithTraps(new Span<byte>((void*)start, CodeBytes));
        if (!memory.TryProtect(start, CodeBytes, PageAccess.ReadExecute, out int error))
        {
            if (fromRuntime)
                new Span<byte>((void*)start, CodeBytes).Clear(); // the runtime's memory, ours for good; left as data
            else
                memory.Free(start, CodeBytes + DataBytes);
            throw new CodeWriteRefusedException($"The redirect stub pages could not be made executable (error {error}).", error);
        }
        var created = new Chunk { Code = start, Data = start + CodeBytes };
        s_chunks.Add(created);
        // Memory from the runtime's reservation serves every body within reach of it, even when this one is not.
        return InReach(created, near, reach) && TryTake(created, dataSize, out var taken) ? taken : default;
    }

    /// <summary>Returns the slot of a hook that never went live.</summary>
    public static void Free(StubSlot slot)
    {
        foreach (var chunk in s_chunks)
        {
            if (slot.Code < chunk.Code || slot.Code >= chunk.Code + CodeBytes)
                continue;
            chunk.FreeCode.Push(slot.Code);
            if (!chunk.FreeData.TryGetValue(slot.DataSize, out var free))
                chunk.FreeData[slot.DataSize] = free = new Stack<nint>();
            new Span<byte>((void*)slot.Data, slot.DataSize).Clear();
            free.Push(slot.Data);
            return;
        }
    }

    private static bool InReach(Chunk chunk, nint near, long reach) =>
        Math.Max(Math.Abs((long)chunk.Code - near), Math.Abs((long)chunk.Data + DataBytes - near)) < reach;

    private static bool TryTake(Chunk chunk, int dataSize, out StubSlot slot)
    {
        slot = default;
        bool reuseData = chunk.FreeData.TryGetValue(dataSize, out var freeData) && freeData.Count > 0;
        int alignedUse = (chunk.UsedData + dataSize - 1) / dataSize * dataSize; // tables start on a page boundary
        if (!reuseData && alignedUse + dataSize > DataBytes)
            return false;
        if (chunk.FreeCode.Count == 0 && chunk.UsedCode + CodeSlotSize > CodeBytes)
            return false;
        nint code;
        if (chunk.FreeCode.Count > 0)
            code = chunk.FreeCode.Pop();
        else
        {
            code = chunk.Code + chunk.UsedCode;
            chunk.UsedCode += CodeSlotSize;
        }
        nint data;
        if (reuseData)
            data = freeData!.Pop();
        else
        {
            data = chunk.Data + alignedUse;
            chunk.UsedData = alignedUse + dataSize;
        }
        slot = new StubSlot(code, CodeSlotSize, data, dataSize);
        return true;
    }
}
