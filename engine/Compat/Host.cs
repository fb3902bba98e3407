using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Hybrid.Compat;

/// <summary>
/// Facts about the process that the engine's two builds (net8.0 and netstandard2.0) answer the same way. netstandard2.0
/// has no <c>OperatingSystem.IsLinux()</c> or <c>Environment.ProcessId</c>; these answer from APIs both builds have.
/// </summary>
internal static class Host
{
    public static readonly bool IsLinux = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);
    public static readonly bool IsWindows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
    public static readonly bool IsMacOS = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);
    public static readonly bool IsFreeBSD = RuntimeInformation.IsOSPlatform(OSPlatform.Create("FREEBSD"));

    /// <summary>Mono (Unity, Xamarin, the mono command): no tiering, its own stubs, its own generic sharing.</summary>
    public static readonly bool IsMono = Type.GetType("Mono.Runtime") is not null;

    /// <summary>.NET Framework 4.x (CLR 4 on Windows).</summary>
    public static readonly bool IsNetFramework = !IsMono && RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal);

    /// <summary>CoreCLR of .NET 5 or later: the runtime the CoreClr layer knows.</summary>
    public static readonly bool IsCoreClr = !IsMono && !IsNetFramework;

    /// <summary>False under NativeAOT: no run-time code exists to patch.</summary>
    public static bool HasJit =>
#if NET
        System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;
#else
        true; // Mono's JIT and .NET Framework; Mono full-AOT builds (iOS) use the net8.0-less IL path through the probe's write test
#endif

    /// <summary>An ordered pointer-sized store (netstandard2.0's Volatile has no IntPtr overload).</summary>
    public static void VolatileWrite(ref nint location, nint value)
    {
#if NET
        System.Threading.Volatile.Write(ref location, value);
#else
        System.Threading.Interlocked.Exchange(ref location, value);
#endif
    }

    /// <summary>The same member (by metadata definition) in another instantiation of its declaring type.</summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Only members that are already referenced are looked up.")]
    public static System.Reflection.MemberInfo SameDefinitionIn(Type type, System.Reflection.MemberInfo member)
    {
#if NET
        return type.GetMemberWithSameMetadataDefinitionAs(member);
#else
        const System.Reflection.BindingFlags all = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic |
            System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly;
        foreach (var candidate in type.GetMembers(all))
            if (candidate.MetadataToken == member.MetadataToken && candidate.Module == member.Module)
                return candidate;
        throw new ArgumentException($"{type} has no member with the definition of {member}.");
#endif
    }

    public static int ProcessId
    {
        get
        {
#if NET
            return Environment.ProcessId;
#else
            using var self = Process.GetCurrentProcess();
            return self.Id;
#endif
        }
    }

    public static void ThrowIfNull(object? argument, string parameterName)
    {
        if (argument is null)
            throw new ArgumentNullException(parameterName);
    }
}
