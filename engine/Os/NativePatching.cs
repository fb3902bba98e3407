using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Hybrid.Os;

/// <summary>
/// Whether this process can patch machine code at all — detected, not guessed: no JIT (NativeAOT), a runtime or
/// CPU the native path does not cover, or a trial protection change on a page of the engine's own that the operating
/// system refuses (W^X policies: SELinux execmem denial, seccomp filters, macOS hardened runtime without the JIT
/// entitlement).
/// </summary>
internal static class NativePatching
{
    private static readonly Lazy<string?> s_unavailable = new(Probe);
    private static string? s_refusedAtWrite;

    /// <summary>Null when native redirects can be attempted; otherwise why they cannot.</summary>
    public static string? UnavailableReason => SimulatedRefusal ?? s_refusedAtWrite ?? s_unavailable.Value;

    /// <summary>Tests set this to exercise the automatic fallback on a machine where native patching works.</summary>
    internal static string? SimulatedRefusal { get; set; }

    /// <summary>A real write was refused (the probe passed but the policy is per mapping): no further native attempts.</summary>
    public static void RecordRefusal(string reason) => s_refusedAtWrite ??= reason;

    private static string? Probe()
    {
        if (!Compat.Host.HasJit)
            return "this process has no JIT (NativeAOT or an interpreter): there is no run-time code to patch";
        if (Type.GetType("Mono.RuntimeStructs") is not null)
            return "native redirects on Mono are not wired into the engine yet";
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"native redirects on {RuntimeInformation.ProcessArchitecture} are not wired into the engine yet";
        var memory = PlatformMemory.Current;
        nint page = memory.AllocateNear(typeof(NativePatching).TypeHandle.Value, memory.PageSize, int.MaxValue);
        if (page == 0)
            return "no memory could be allocated for a trial protection change";
        if (!memory.TryProtect(page, memory.PageSize, PageAccess.ReadWriteExecute, out int error))
            return $"this process enforces W^X: the operating system refused to make a page writable and executable (errno {error}{(error == 13 ? ", EACCES" : error == 1 ? ", EPERM" : "")})";
        memory.TryProtect(page, memory.PageSize, PageAccess.ReadWrite, out _);
        return null;
    }
}
