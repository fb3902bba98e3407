using System.Runtime.InteropServices;

namespace Hybrid.Arm64;

/// <summary>
/// macOS/arm64: <c>sys_icache_invalidate</c> from libSystem (Apple's supported way; it performs the DC/IC/DSB/ISB
/// sequence for the range). JIT code on macOS lives in MAP_JIT memory whose writability is toggled per thread with
/// <c>pthread_jit_write_protect_np</c> — that part is <see cref="MacJitCodeMemory"/>.
/// </summary>
internal sealed class MacInstructionCacheFlusher : IInstructionCacheFlusher
{
    public void Flush(nint address, nint length)
    {
        if (length > 0)
            sys_icache_invalidate(address, length);
    }

    [DllImport("/usr/lib/libSystem.B.dylib")]
    private static extern void sys_icache_invalidate(nint start, nint length);
}
