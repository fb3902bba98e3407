using System;
using System.Runtime.InteropServices;
using Hybrid.Os;

namespace Hybrid.Arm64;

/// <summary>
/// Linux/arm64 (and any ELF arm64 OS that lets EL0 run DC CVAU / IC IVAU / MRS CTR_EL0, which Linux enables via
/// SCTLR_EL1.UCI/UCT or emulates when it traps them for errata): runs the engine-emitted routine from an executable
/// page the engine owns, through an unmanaged function pointer.
///
/// Why this and not libgcc's <c>__clear_cache</c> as the primary: the routine needs no C compiler and no particular
/// shared library on the user's machine (a .NET process is not guaranteed to have libgcc_s loaded or even installed —
/// musl/Alpine images and self-contained apps often lack it), its exact instruction words are unit-tested
/// (disassembled with binutils and executed under qemu), and its behaviour does not depend on which libgcc/compiler-rt
/// version happens to be found. <see cref="LibgccInstructionCacheFlusher"/> remains available as a fallback.
///
/// Bootstrapping: the routine's own page is written while mapped read+write and then mprotect()ed read+execute. Linux
/// performs the I/D synchronisation for a user page when it first becomes executable (arm64 <c>set_pte_at</c> →
/// <c>__sync_icache_dcache</c>), and the return from the mprotect system call is a context synchronisation event,
/// so the routine is safe to run before anything has flushed it.
/// </summary>
internal sealed unsafe class LinuxInstructionCacheFlusher : IInstructionCacheFlusher, IDisposable
{
    private readonly PlatformMemory _memory;
    private nint _page;
    private readonly nint _pageSize;
    private readonly delegate* unmanaged[Cdecl]<nint, nint, void> _routine;

    private LinuxInstructionCacheFlusher(PlatformMemory memory, nint page, nint pageSize)
    {
        _memory = memory;
        _page = page;
        _pageSize = pageSize;
        _routine = (delegate* unmanaged[Cdecl]<nint, nint, void>)page;
    }

    /// <summary>The address of the installed routine (for diagnostics and tests that run on arm64).</summary>
    public nint RoutineAddress => _page;

    public static LinuxInstructionCacheFlusher Create(PlatformMemory memory)
    {
        byte[] code = Arm64CacheMaintenanceRoutine.EmitBytes();
        nint pageSize = memory.PageSize;
        nint page = memory.Allocate(pageSize);
        if (page == 0)
            throw new InvalidOperationException($"mmap for the cache-maintenance routine failed (errno {Marshal.GetLastWin32Error()}).");
        Marshal.Copy(code, 0, page, code.Length);
        if (!memory.TryProtect(page, pageSize, PageAccess.ReadExecute, out int errno))
        {
            memory.Free(page, pageSize);
            throw new InvalidOperationException($"mprotect(PROT_READ|PROT_EXEC) for the cache-maintenance routine failed (errno {errno}).");
        }
        return new LinuxInstructionCacheFlusher(memory, page, pageSize);
    }

    public void Flush(nint address, nint length)
    {
        if (_page == 0)
            throw new ObjectDisposedException(nameof(LinuxInstructionCacheFlusher));
        if (length > 0)
            _routine(address, length);
    }

    public void Dispose()
    {
        // Kept mapped for the process lifetime in normal use; Dispose exists for tests on real arm64 hardware.
        if (_page != 0)
        {
            _memory.Free(_page, _pageSize);
            _page = 0;
        }
    }
}

/// <summary>Fallback for Linux: libgcc's <c>__clear_cache(begin, end)</c> from libgcc_s.so.1 (same sequence, end exclusive).</summary>
internal sealed class LibgccInstructionCacheFlusher : IInstructionCacheFlusher
{
    public void Flush(nint address, nint length)
    {
        if (length > 0)
            __clear_cache(address, address + length);
    }

    /// <summary>True when libgcc_s can be loaded and has the entry point (an empty range touches nothing).</summary>
    public static bool Available()
    {
        try
        {
            __clear_cache(0, 0);
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libgcc_s.so.1")]
    private static extern void __clear_cache(nint begin, nint end);
}
