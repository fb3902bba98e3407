using System;

namespace Hybrid.Os;

/// <summary>
/// What keeps other threads off the instructions an entry jump replaces while it is written (an OS × CPU cell, chosen
/// by <see cref="Platform.Fence"/>): Linux x64 parks running threads with a signal (<see cref="LinuxX64ThreadFence"/>),
/// Windows x64 suspends every other thread (<see cref="WindowsX64ThreadFence"/>); arm64 needs none
/// (<see cref="OneWordEntryWrites"/>); elsewhere there is none (<see cref="NoThreadFence"/>) and <c>Explain</c> says so.
/// </summary>
internal interface IThreadFence
{
    /// <summary>Null when an entry jump is safe against other threads here; otherwise why it is not.</summary>
    string? UnavailableReason { get; }

    /// <summary>
    /// Writes <paramref name="bytes"/> (at most two aligned 8-byte words) with other threads kept off
    /// <paramref name="fixups"/>' instruction boundaries; false (error set) when the page could not be made writable.
    /// </summary>
    bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error);

    /// <summary>The jump covering <paramref name="fixups"/> is gone (a fence that keeps a table of them forgets them).</summary>
    void RemoveFixups((nint From, nint To)[] fixups);

    /// <summary>What this fence has done in this process so far (diagnostics; the stress test checks threads really were stopped).</summary>
    FenceCounts Counts { get; }
}

/// <summary>A snapshot of a fence's work: writes, threads asked to stop, threads stopped, and threads moved off an overwritten instruction.</summary>
internal readonly struct FenceCounts
{
    public FenceCounts(long fences, long threadsAsked, long threadsStopped, long threadsMoved)
    {
        Fences = fences;
        ThreadsAsked = threadsAsked;
        ThreadsStopped = threadsStopped;
        ThreadsMoved = threadsMoved;
    }

    public long Fences { get; }

    public long ThreadsAsked { get; }

    public long ThreadsStopped { get; }

    public long ThreadsMoved { get; }

    public override string ToString() =>
        $"{Fences} fenced writes; {ThreadsStopped} threads stopped of {ThreadsAsked} asked; {ThreadsMoved} moved to the trampoline";
}

/// <summary>
/// arm64: an entry patch is one aligned instruction word written with one store (Arm ARM B2.2.1, single-copy atomicity
/// of aligned words; B2.4.4 for the instruction fetch), so there is never an instruction boundary inside it to guard.
/// </summary>
internal sealed class OneWordEntryWrites : IThreadFence
{
    public static readonly OneWordEntryWrites Instance = new();

    public string? UnavailableReason => null;

    public bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        throw new InvalidOperationException("a one-word entry patch covers no instruction boundary; it is written without a fence");

    public void RemoveFixups((nint From, nint To)[] fixups)
    {
    }

    public FenceCounts Counts => default;
}

/// <summary>A platform with multi-instruction entry patches and no fence implemented: writes go unguarded, Explain warns.</summary>
internal sealed class NoThreadFence : IThreadFence
{
    public NoThreadFence(string reason) => UnavailableReason = reason;

    public string? UnavailableReason { get; }

    public bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        throw new InvalidOperationException(UnavailableReason);

    public void RemoveFixups((nint From, nint To)[] fixups)
    {
    }

    public FenceCounts Counts => default;
}

/// <summary>Helpers the fences share.</summary>
internal static class ThreadFence
{
    /// <summary>
    /// The aligned 8-byte words that hold <paramref name="bytes"/> at <paramref name="address"/> once written — their
    /// addresses in <paramref name="words"/>, their new contents (old bytes around the patch kept) in
    /// <paramref name="values"/> — and how many there are. A fence writes each with one locked store; an entry patch
    /// spans at most two.
    /// </summary>
    public static unsafe int PatchWords(nint address, ReadOnlySpan<byte> bytes, nint* words, long* values)
    {
        nint first = address & ~(nint)7;
        nint last = (address + bytes.Length - 1) & ~(nint)7;
        int count = (int)((last - first) / 8) + 1;
        if (count > 2)
            throw new ArgumentException("patch spans more than two words", nameof(bytes));
        for (int w = 0; w < count; w++)
        {
            nint word = first + w * 8;
            long value = *(long*)word;
            var span = new Span<byte>(&value, 8);
            for (int i = 0; i < bytes.Length; i++)
            {
                nint at = address + i;
                if (at >= word && at < word + 8)
                    span[(int)(at - word)] = bytes[i];
            }
            words[w] = word;
            values[w] = value;
        }
        return count;
    }
}
