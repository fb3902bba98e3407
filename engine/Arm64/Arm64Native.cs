using System;
using System.Runtime.InteropServices;

namespace Hybrid.Arm64;

/// <summary>
/// The handful of OS entry points the Arm64 layer needs for its own purposes (the cache-maintenance routine's page,
/// cache flushes, the macOS JIT write toggle). DllImport rather than LibraryImport so the file also compiles for
/// netstandard2.0. Protection changes of <em>method</em> code are not here: they belong to the OS layer and reach the
/// writer through <see cref="IArm64CodeMemory"/>.
/// </summary>
internal static class Arm64Native
{
    public const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public const int MAP_PRIVATE = 0x02, MAP_ANONYMOUS_LINUX = 0x20;

    [DllImport("libc", SetLastError = true)]
    public static extern nint mmap(nint addr, nint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    public static extern int mprotect(nint addr, nint length, int prot);

    [DllImport("libc", SetLastError = true)]
    public static extern int munmap(nint addr, nint length);

    [DllImport("libgcc_s.so.1")]
    public static extern void __clear_cache(nint begin, nint end);

    [DllImport("/usr/lib/libSystem.B.dylib")]
    public static extern void sys_icache_invalidate(nint start, nint length);

    [DllImport("/usr/lib/libSystem.B.dylib")]
    public static extern void pthread_jit_write_protect_np(int enabled);

    [DllImport("/usr/lib/libSystem.B.dylib")]
    public static extern int pthread_jit_write_protect_supported_np();

    [DllImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static extern bool FlushInstructionCache(nint process, nint baseAddress, nint size);

    /// <summary>GetCurrentProcess() pseudo-handle.</summary>
    public static readonly nint CurrentProcess = -1;
}
