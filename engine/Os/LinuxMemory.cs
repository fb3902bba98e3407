using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Hybrid.Os;

/// <summary>
/// Linux: <see cref="PosixMemory"/>, with the address space read from /proc/self/maps — to find the free gap nearest
/// to code, and to answer a page's protection. Both are rare: once per chunk of stubs (<see cref="Patching.StubHeap"/>)
/// and once per code page patched (<see cref="CodeMemory"/> keeps the answer).
/// </summary>
internal sealed class LinuxMemory : PosixMemory
{
    protected override int MapPrivateAnonymous => 0x02 | 0x20;

    public override nint AllocateNear(nint near, nint size, long maxDistance)
    {
        // The runtime reserves large ranges around its code, so "just try an address nearby" mostly lands in a
        // reservation and the kernel answers with some far-away address instead: the free gap closest to the code
        // is mapped exactly.
        foreach (long candidate in FreeGapsNearest((long)near, (long)size, maxDistance))
        {
            nint p = TryMapAt(candidate, near, size, maxDistance);
            if (p != 0)
                return p;
        }
        return 0;
    }

    /// <summary>Start addresses of free gaps in this process's address space, nearest to <paramref name="near"/> first.</summary>
    private List<long> FreeGapsNearest(long near, long size, long maxDistance)
    {
        var mapped = new List<(long Lo, long Hi)>();
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            mapped.Add((long.Parse(line.Substring(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                        long.Parse(line.Substring(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        }
        mapped.Sort();
        var candidates = new List<(long Distance, long Start)>();
        long previousEnd = 0x100000; // stay clear of the low guard area
        foreach (var (lo, hi) in mapped.Append((0x7FFF_FFFF_F000L, long.MaxValue)))
        {
            long gapStart = previousEnd, gapEnd = lo;
            previousEnd = Math.Max(previousEnd, hi);
            if (gapEnd - gapStart < size)
                continue;
            // The place in this gap closest to the code: its top end when the gap lies below, its bottom when above.
            long start = gapEnd <= near ? gapEnd - size : gapStart >= near ? gapStart : near & ~(long)(PageSize - 1);
            start &= ~(long)(PageSize - 1);
            if (start < gapStart)
                continue;
            long distance = Math.Max(Math.Abs(start - near), Math.Abs(start + size - near));
            if (distance < maxDistance)
                candidates.Add((distance, start));
        }
        candidates.Sort();
        return candidates.ConvertAll(c => c.Start);
    }

    public override PageAccess Query(nint address)
    {
        ulong target = (ulong)address;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            ulong lo = ulong.Parse(line.Substring(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong hi = ulong.Parse(line.Substring(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (target < lo || target >= hi)
                continue;
            var perms = line.AsSpan(space + 1, 4);
            return (perms[0] == 'r' ? PageAccess.Read : 0) | (perms[1] == 'w' ? PageAccess.Write : 0) | (perms[2] == 'x' ? PageAccess.Execute : 0);
        }
        throw new InvalidOperationException($"Address 0x{address:x} is not mapped in this process.");
    }
}
