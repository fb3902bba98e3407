using System;

namespace Hybrid.Os;

/// <summary>
/// Whether this process can patch machine code at all — detected, not guessed: no JIT (NativeAOT), a runtime or
/// CPU the native path does not cover, or a trial protection change on a page of the engine's own that the operating
/// system refuses (W^X policies: SELinux execmem denial, seccomp filters, macOS hardened runtime without the JIT
/// entitlement).
/// </summary>
internal static class NativePatching
{
    private static readonly object s_gate = new();
    private static (PlatformMemory Memory, string? Reason)? s_probed;
    private static string? s_refusedAtWrite;

    /// <summary>Null when native redirects can be attempted; otherwise why they cannot.</summary>
    public static string? UnavailableReason => s_refusedAtWrite ?? Probed();

    /// <summary>The probe's answer, once per process — per memory seam, as a test may plug in an OS that refuses.</summary>
    private static string? Probed()
    {
        var memory = Platform.Memory;
        lock (s_gate)
        {
            if (s_probed is not { } known || !ReferenceEquals(known.Memory, memory))
                s_probed = known = (memory, Probe(memory));
            return known.Reason;
        }
    }

    /// <summary>A real write was refused (the probe passed but the policy is per mapping): no further native attempts.</summary>
    public static void RecordRefusal(string reason) => s_refusedAtWrite ??= reason;

    private static string? Probe(PlatformMemory memory)
    {
        if (Platform.NoNativePath is { } missing)
            return missing;
        nint page = memory.AllocateNear(typeof(NativePatching).TypeHandle.Value, memory.PageSize, int.MaxValue);
        if (page == 0)
            return "no memory could be allocated for a trial protection change";
        try
        {
            if (!memory.TryProtect(page, memory.PageSize, PageAccess.ReadWriteExecute, out int error))
                return $"this process enforces W^X: the operating system refused to make a page writable and executable (errno {error}{(error == 13 ? ", EACCES" : error == 1 ? ", EPERM" : "")})";
            memory.TryProtect(page, memory.PageSize, PageAccess.ReadWrite, out _);
            return null;
        }
        finally
        {
            memory.Free(page, memory.PageSize); // no code ever ran there
        }
    }
}
