using System;
using System.Runtime.InteropServices;

namespace Hybrid.Os;

/// <summary>Windows: VirtualAlloc/VirtualProtect/VirtualQuery (CI runs it under Wine: the windows-x64 lane).</summary>
internal sealed unsafe class WindowsMemory : PlatformMemory
{
    private const uint MEM_COMMIT = 0x1000, MEM_RESERVE = 0x2000;
    private const uint PAGE_NOACCESS = 0x01, PAGE_READONLY = 0x02, PAGE_READWRITE = 0x04, PAGE_EXECUTE = 0x10,
        PAGE_EXECUTE_READ = 0x20, PAGE_EXECUTE_READWRITE = 0x40, PAGE_EXECUTE_WRITECOPY = 0x80, PAGE_WRITECOPY = 0x08, PAGE_GUARD = 0x100;

    [StructLayout(LayoutKind.Sequential)]
    private struct MemoryBasicInformation
    {
        public nint BaseAddress, AllocationBase;
        public uint AllocationProtect;
        public ushort PartitionId;
        public nint RegionSize;
        public uint State, Protect, Type;
    }

    [DllImport("kernel32", SetLastError = true)]
    private static extern nint VirtualAlloc(nint address, nint size, uint type, uint protect);

    [DllImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool VirtualProtect(nint address, nint size, uint protect, out uint old);

    [DllImport("kernel32", SetLastError = true)]
    private static extern nint VirtualQuery(nint address, out MemoryBasicInformation info, nint length);

    [DllImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool VirtualFree(nint address, nint size, uint type);

    /// <summary>
    /// Each page of the range must be committed and readable (VirtualQuery, one system call a page — cheap on Windows);
    /// ReadProcessMemory alone is not enough: Wine's copies from a PAGE_NOACCESS page of the calling process.
    /// </summary>
    public override bool TryRead(nint address, Span<byte> buffer)
    {
        if (buffer.Length == 0)
            return true;
        for (nint page = PageStart(address); page <= address + buffer.Length - 1; page += PageSize)
        {
            if (VirtualQuery(page, out var info, sizeof(MemoryBasicInformation)) == 0 || info.State != MEM_COMMIT)
                return false;
            if ((info.Protect & PAGE_GUARD) != 0 || (info.Protect & 0xFF) is PAGE_NOACCESS or PAGE_EXECUTE or 0)
                return false;
        }
        new ReadOnlySpan<byte>((void*)address, buffer.Length).CopyTo(buffer);
        return true;
    }

    public override void Free(nint address, nint size) => VirtualFree(address, 0, 0x8000 /* MEM_RELEASE */);

    public WindowsMemory() => PageSize = Environment.SystemPageSize;

    public override nint Allocate(nint size) => VirtualAlloc(0, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);

    public override nint AllocateNear(nint near, nint size, long maxDistance)
    {
        // Allocation granularity on Windows is 64 KiB; probe free regions outward from the code.
        const long granularity = 0x10000;
        long origin = (long)near & ~(granularity - 1);
        for (long delta = granularity; delta < maxDistance - size; delta += granularity)
        {
            foreach (long candidate in new[] { origin - delta, origin + delta })
            {
                if (candidate <= granularity)
                    continue;
                nint p = VirtualAlloc((nint)candidate, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
                if (p != 0)
                    return p;
            }
        }
        return 0;
    }

    public override bool TryProtect(nint address, nint size, PageAccess access, out int error)
    {
        uint protect = access switch
        {
            PageAccess.None => PAGE_NOACCESS,
            PageAccess.Read => PAGE_READONLY,
            PageAccess.ReadWrite => PAGE_READWRITE,
            PageAccess.ReadExecute => PAGE_EXECUTE_READ,
            PageAccess.ReadWriteExecute => PAGE_EXECUTE_READWRITE,
            PageAccess.Execute => PAGE_EXECUTE,
            _ => PAGE_EXECUTE_READWRITE,
        };
        if (VirtualProtect(address, size, protect, out _))
        {
            error = 0;
            return true;
        }
        error = Marshal.GetLastWin32Error();
        return false;
    }

    public override PageAccess Query(nint address)
    {
        if (VirtualQuery(address, out var info, sizeof(MemoryBasicInformation)) == 0)
            throw new InvalidOperationException($"VirtualQuery failed for 0x{address:x}.");
        return (info.Protect & 0xFF) switch
        {
            PAGE_READONLY => PageAccess.Read,
            PAGE_READWRITE or PAGE_WRITECOPY => PageAccess.ReadWrite,
            PAGE_EXECUTE => PageAccess.Execute,
            PAGE_EXECUTE_READ => PageAccess.ReadExecute,
            PAGE_EXECUTE_READWRITE or PAGE_EXECUTE_WRITECOPY => PageAccess.ReadWriteExecute,
            _ => PageAccess.None,
        };
    }
}
