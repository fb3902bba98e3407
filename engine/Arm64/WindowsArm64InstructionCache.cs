using System;
using System.Runtime.InteropServices;

namespace Hybrid.Arm64;

/// <summary>Windows/arm64: <c>FlushInstructionCache</c> (kernel32), which Windows documents as required after writing code.</summary>
internal sealed class WindowsInstructionCacheFlusher : IInstructionCacheFlusher
{
    public void Flush(nint address, nint length)
    {
        if (length > 0 && !FlushInstructionCache(CurrentProcess, address, length))
            throw new InvalidOperationException($"FlushInstructionCache(0x{address:x}, {length}) failed (error {Marshal.GetLastWin32Error()}).");
    }

    /// <summary>GetCurrentProcess() pseudo-handle.</summary>
    private static readonly nint CurrentProcess = -1;

    [DllImport("kernel32", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool FlushInstructionCache(nint process, nint baseAddress, nint size);
}
