using System;
using System.Collections.Generic;
using System.Linq;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;

namespace Hybrid.Os;

/// <summary>
/// macOS and the BSDs, and the base of <see cref="LinuxMemory"/>: mmap/mprotect from libc. Without a map of the
/// address space to read, allocation near code tries addresses outward from it, 1 MiB apart.
/// </summary>
internal unsafe class PosixMemory : PlatformMemory
{
    private const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    private static readonly nint MapFailed = -1;

    /// <summary>MAP_PRIVATE | MAP_ANONYMOUS: MAP_ANON is 0x1000 on macOS and the BSDs (Linux overrides).</summary>
    protected virtual int MapPrivateAnonymous => 0x02 | 0x1000;

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

    public override nint Allocate(nint size)
    {
        nint p = mmap(0, size, PROT_READ | PROT_WRITE, MapPrivateAnonymous, -1, 0);
        return p == MapFailed ? 0 : p;
    }

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
    protected nint TryMapAt(long candidate, nint near, nint size, long maxDistance)
    {
        nint p = mmap((nint)candidate, size, PROT_READ | PROT_WRITE, MapPrivateAnonymous, -1, 0);
        if (p == MapFailed || p == 0)
            return 0;
        if (Math.Abs((long)p - (long)near) + (long)size < maxDistance)
            return p;
        munmap(p, size);
        return 0;
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

    /// <summary>macOS and the BSDs have no /proc to read; the code pages the engine patches are r-x there.</summary>
    public override PageAccess Query(nint address) => PageAccess.ReadExecute;
}
