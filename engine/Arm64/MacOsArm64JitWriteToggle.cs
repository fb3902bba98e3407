using System.Runtime.InteropServices;

namespace Hybrid.Arm64;

/// <summary>
/// macOS/arm64 MAP_JIT memory: writability is a per-thread switch (<c>pthread_jit_write_protect_np(0)</c> = writable,
/// <c>(1)</c> = executable), not a page protection, so BeginWrite/EndWrite flip it around each store.
/// </summary>
internal sealed class MacJitCodeMemory : IArm64CodeMemory
{
    public nint BeginWrite(nint address, int length)
    {
        pthread_jit_write_protect_np(0);
        return address;
    }

    public void EndWrite(nint address, int length) => pthread_jit_write_protect_np(1);

    /// <summary>Whether this macOS process has per-thread JIT write protection (Apple silicon; asked only on macOS, the symbol exists nowhere else).</summary>
    public static bool Supported() => pthread_jit_write_protect_supported_np() != 0;

    [DllImport("/usr/lib/libSystem.B.dylib")]
    private static extern void pthread_jit_write_protect_np(int enabled);

    [DllImport("/usr/lib/libSystem.B.dylib")]
    private static extern int pthread_jit_write_protect_supported_np();
}
