using System;
using System.Runtime.InteropServices;

namespace Hybrid.Os;

/// <summary>
/// The thread fence of this platform, if it has one: what keeps other threads off the instructions an entry jump
/// replaces while it is written. Linux x64 parks running threads with a signal (<see cref="LinuxX64ThreadFence"/>),
/// Windows x64 suspends every other thread (<see cref="WindowsX64ThreadFence"/>). arm64 needs none: its entry patch is
/// one instruction word, written with one store. Elsewhere there is none, and <c>Explain</c> says so.
/// </summary>
internal static class ThreadFence
{
    /// <summary>Null when entry jumps are written behind a fence here; otherwise why they are not.</summary>
    public static string? UnavailableReason =>
        LinuxX64ThreadFence.IsSupported ? LinuxX64ThreadFence.UnavailableReason
        : WindowsX64ThreadFence.IsSupported ? WindowsX64ThreadFence.UnavailableReason
        : $"no thread fence is implemented for {RuntimeInformation.OSDescription} on {RuntimeInformation.ProcessArchitecture}";

    /// <summary>Writes <paramref name="bytes"/> with other threads kept off <paramref name="fixups"/>' instruction boundaries.</summary>
    public static bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        LinuxX64ThreadFence.IsSupported
            ? LinuxX64ThreadFence.TryWrite(address, bytes, fixups, original, out error)
            : WindowsX64ThreadFence.TryWrite(address, bytes, fixups, out error);

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

    /// <summary>The jump covering <paramref name="fixups"/> is gone (Linux keeps a table of them for its signal handler).</summary>
    public static void RemoveFixups((nint From, nint To)[] fixups)
    {
        if (LinuxX64ThreadFence.IsSupported)
            LinuxX64ThreadFence.RemoveFixups(fixups);
    }
}
