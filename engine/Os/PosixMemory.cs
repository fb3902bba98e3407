using Hybrid.Compat;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;

namespace Hybrid.Os;

/// <summary>Linux, macOS and the BSDs: mmap/mprotect from libc; protections read from /proc/self/maps on Linux.</summary>
internal sealed unsafe class PosixMemory : PlatformMemory
{
    private const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    private static readonly int MapPrivateAnonymous = Host.IsLinux ? 0x02 | 0x20 : 0x02 | 0x1000;
    private static readonly nint MapFailed = -1;

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint addr, nint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(nint addr, nint length);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(nint addr, nint length, int prot);

    private static int ToProt(PageAccess access) =>
        ((access & PageAccess.Read) != 0 ? PROT_READ : 0) |
        ((access & PageAccess.Write) != 0 ? PROT_WRITE : 0) |
        ((access & PageAccess.Execute) != 0 ? PROT_EXEC : 0);

    public override void Free(nint address, nint size) => munmap(address, size);

    [DllImport("libc", SetLastError = true)]
    private static extern int pipe(int* fds);

    [DllImport("libc", SetLastError = true)]
    private static extern nint write(int fd, nint buffer, nint count);

    [DllImport("libc", SetLastError = true)]
    private static extern nint read(int fd, byte* buffer, nint count);

    private readonly object _probeGate = new();
    private int _probeRead = -1, _probeWrite = -1;

    /// <summary>
    /// The kernel checks the source of a write(2) and answers EFAULT for memory that cannot be read, instead of
    /// faulting: so the bytes go through a private pipe (capacity 64 KiB; reads here are a few words) and come back.
    /// </summary>
    public override bool TryRead(nint address, Span<byte> buffer)
    {
        if (buffer.Length == 0)
            return true;
        lock (_probeGate)
        {
            if (_probeRead < 0)
            {
                var fds = stackalloc int[2];
                if (pipe(fds) != 0)
                    throw new InvalidOperationException($"pipe() failed (errno {Marshal.GetLastWin32Error()}).");
                (_probeRead, _probeWrite) = (fds[0], fds[1]);
            }
            if (write(_probeWrite, address, buffer.Length) != buffer.Length)
                return false; // EFAULT: not readable (a short write cannot happen below the pipe's capacity)
            fixed (byte* target = buffer)
            {
                int got = 0;
                while (got < buffer.Length)
                {
                    nint n = read(_probeRead, target + got, buffer.Length - got);
                    if (n <= 0)
                        throw new InvalidOperationException($"reading back from the probe pipe failed (errno {Marshal.GetLastWin32Error()}).");
                    got += (int)n;
                }
            }
            return true;
        }
    }

    public override nint AllocateNear(nint near, nint size, long maxDistance)
    {
        // The runtime reserves large ranges around its code, so "just try an address nearby" mostly lands in a
        // reservation and the kernel answers with some far-away address instead. On Linux the free gaps are read from
        // /proc/self/maps and the one closest to the code is mapped exactly.
        if (Host.IsLinux)
        {
            foreach (long candidate in FreeGapsNearest((long)near, (long)size, maxDistance))
            {
                nint p = TryMapAt(candidate, near, size, maxDistance);
                if (p != 0)
                    return p;
            }
            return 0;
        }
        long step = 1 << 20;
        long origin = (long)near & ~(step - 1);
        for (long delta = step; delta < maxDistance - size; delta += step)
        {
            foreach (long candidate in new[] { origin - delta, origin + delta })
            {
                nint p = candidate <= 0x10000 ? 0 : TryMapAt(candidate, near, size, maxDistance);
                if (p != 0)
                    return p;
            }
        }
        return 0;
    }

    /// <summary>Maps read+write memory at (or, if the kernel prefers, near) <paramref name="candidate"/>; 0 unless it lands in reach.</summary>
    private static nint TryMapAt(long candidate, nint near, nint size, long maxDistance)
    {
        nint p = mmap((nint)candidate, size, PROT_READ | PROT_WRITE, MapPrivateAnonymous, -1, 0);
        if (p == MapFailed || p == 0)
            return 0;
        if (Math.Abs((long)p - (long)near) + (long)size < maxDistance)
            return p;
        munmap(p, size);
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

    public override bool TryProtect(nint address, nint size, PageAccess access, out int error)
    {
        nint start = PageStart(address);
        nint length = PageStart(address + size - 1) + PageSize - start;
        if (mprotect(start, length, ToProt(access)) == 0)
        {
            error = 0;
            return true;
        }
        error = Marshal.GetLastWin32Error();
        return false;
    }

    public override PageAccess Query(nint address)
    {
        if (!Host.IsLinux)
            return PageAccess.ReadExecute; // macOS has no /proc; code pages the engine touches are r-x there.
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
