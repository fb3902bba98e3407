using System;

namespace Hybrid.Os;

/// <summary>
/// What keeps other threads off the instructions an entry jump replaces while it is written (an OS × CPU cell, chosen
/// by <see cref="Platform.Fence"/>): Linux parks running threads with a signal (<see cref="LinuxX64ThreadFence"/>,
/// <see cref="LinuxArm64ThreadFence"/>), Windows x64 suspends every other thread (<see cref="WindowsX64ThreadFence"/>);
/// elsewhere there is none (<see cref="NoThreadFence"/>) and <c>Explain</c> says so.
/// </summary>
internal interface IThreadFence
{
    /// <summary>Null when an entry jump is safe against other threads here; otherwise why it is not.</summary>
    string? UnavailableReason { get; }

    /// <summary>
    /// Whether an entry write with <paramref name="interiorBoundaries"/> instruction boundaries inside the replaced
    /// bytes must go through this fence. x64: only when there are some (a thread can stop only at a boundary, and one
    /// jmp or the original's first instruction holds none). arm64: every change of an instruction word, restores
    /// included (Arm ARM B2.2.5).
    /// </summary>
    bool NeedsFence(int interiorBoundaries);

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

/// <summary>A platform with no fence implemented: entry writes go unguarded, Explain warns.</summary>
internal sealed class NoThreadFence : IThreadFence
{
    public NoThreadFence(string reason) => UnavailableReason = reason;

    public string? UnavailableReason { get; }

    public bool NeedsFence(int interiorBoundaries) => false;

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
