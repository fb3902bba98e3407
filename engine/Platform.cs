using System;
using System.Runtime.InteropServices;
using Hybrid.Arm64;
using Hybrid.Compat;
using Hybrid.CoreClr;
using Hybrid.Os;
using Hybrid.Patching;
using Hybrid.X64;

namespace Hybrid;

/// <summary>
/// The platform layer's index: the one place that asks which CPU, operating system and runtime this process runs on.
/// Each seam is chosen here, once per process; the engine above asks a seam for a capability, never which platform it
/// is on. Adding a platform means adding implementations (files in <c>X64/</c>, <c>Arm64/</c>, <c>Os/</c>,
/// <c>CoreClr/</c>, <c>MonoVm/</c>) and naming them here. Whether native patching is possible at all is
/// <see cref="NativePatching"/>'s probe; where it is not, the seams below are never used.
/// </summary>
internal static class Platform
{
    private static readonly Architecture s_cpu = RuntimeInformation.ProcessArchitecture;
    private static readonly X64Abi s_x64Abi = Host.IsWindows ? X64Abi.Windows : X64Abi.SystemV;

    /// <summary>CPU: the entry patch, its reach, the stub and trampoline, code stores and flushes (x64 in two ABIs, arm64).</summary>
    public static ICpuHooks Cpu { get; private set; } = s_cpu == Architecture.Arm64
        ? new Arm64Hooks(Arm64InstructionCache.FlusherFor(Host.IsWindows, Host.IsMacOS), Host.IsMacOS)
        : new X64Hooks(s_x64Abi);

    /// <summary>CPU: reading CoreCLR's stubs and the calls compiled code makes.</summary>
    public static readonly ICodeReader CodeReader = s_cpu == Architecture.Arm64 ? Arm64CodeReader.Instance : new X64CodeReader(s_x64Abi);

    /// <summary>CPU × OS: what keeps other threads off the instructions an entry jump replaces.</summary>
    public static IThreadFence Fence { get; private set; } =
        s_cpu == Architecture.Arm64 && Host.IsLinux ? LinuxArm64ThreadFence.Instance
        : s_cpu == Architecture.X64 && Host.IsLinux ? LinuxX64ThreadFence.Instance
        : s_cpu == Architecture.X64 && Host.IsWindows ? WindowsX64ThreadFence.Instance
        : new NoThreadFence($"no thread fence is implemented for {RuntimeInformation.OSDescription} on {s_cpu}");

    /// <summary>
    /// Null when this CPU and runtime have a native path at all; otherwise why not. Whether the OS lets code be
    /// written is <see cref="NativePatching"/>'s probe, through <see cref="Memory"/>.
    /// </summary>
    public static string? NoNativePath =>
        !Host.HasJit ? "this process has no JIT (NativeAOT or an interpreter): there is no run-time code to patch"
        : s_cpu is not (Architecture.X64 or Architecture.Arm64) ? $"native redirects are implemented for x64 and arm64 only (this process is {s_cpu})"
        : Host.IsNetFramework ? ".NET Framework's method stubs are not ones Hybrid knows (native redirects cover CoreCLR 8–10 and Mono)"
        : Host.IsMono && s_cpu == Architecture.X64 ? "native redirects on Mono are implemented for arm64 only (x64 Mono is not verified: its thread-suspension signals and the engine's thread fence have not been tried together)"
        : null;

    /// <summary>Runtime: finding bodies, holding them, keeping callers from inlining them.</summary>
    public static readonly IRuntimeHooks Runtime = Host.IsMono ? MonoVm.MonoRuntime.Instance : CoreClrRuntime.Instance;

    private static PlatformMemory? s_memory;

    /// <summary>OS: allocation near code, protections, guarded reads.</summary>
    public static PlatformMemory Memory => s_memory ??=
        Host.IsWindows ? new WindowsMemory()
        : Host.IsLinux ? new LinuxMemory()
        : Host.IsMacOS || Host.IsFreeBSD ? new PosixMemory()
        : throw new PlatformNotSupportedException($"Hybrid has no memory layer for {RuntimeInformation.OSDescription}.");

    /// <summary>CPU × OS: the JIT filter that holds tier-up (<see cref="TieringFreeze"/>), or why there is none here.</summary>
    public static IJitFilter? JitFilter(out string? unavailable)
    {
        unavailable = null;
#if NET // the netstandard2.0 build (Mono, .NET Framework) holds no tier-up: those runtimes do not tier
        if (s_cpu == Architecture.X64)
            return new X64JitFilter(s_x64Abi,
                Host.IsLinux ? LinuxX64TieringWorkerTest.Instance : Host.IsWindows ? WindowsX64TieringWorkerTest.TryCreate() : null);
#endif
        if (s_cpu == Architecture.Arm64 && Host.IsLinux)
            return LinuxArm64JitFilter.Instance;
        unavailable = s_cpu == Architecture.Arm64
            ? "holding tier-up on arm64 is implemented for Linux only (its filter tells CoreCLR's tiering thread by the name Linux keeps for it)"
            : $"holding tier-up is implemented for x64 and arm64 only (this process is {s_cpu})";
        return null;
    }

    /// <summary>
    /// Plugs fakes into the seams — an OS that refuses to make code writable, a CPU or fence that counts the code it
    /// writes — so tests check the engine through the seams instead of through counters and switches in production
    /// code. Disposing puts back what was there. Tests only; the engine lock is not taken, so no redirect may run
    /// concurrently.
    /// </summary>
    internal static IDisposable Substitute(ICpuHooks? cpu = null, IThreadFence? fence = null, PlatformMemory? memory = null)
    {
        var (oldCpu, oldFence, oldMemory) = (Cpu, Fence, Memory);
        Cpu = cpu ?? oldCpu;
        Fence = fence ?? oldFence;
        s_memory = memory ?? oldMemory;
        return new Restore(() => (Cpu, Fence, s_memory) = (oldCpu, oldFence, oldMemory));
    }

    private sealed class Restore : IDisposable
    {
        private Action? _undo;

        public Restore(Action undo) => _undo = undo;

        public void Dispose()
        {
            _undo?.Invoke();
            _undo = null;
        }
    }

    /// <summary>OS: the file name of CoreCLR's JIT next to the runtime.</summary>
    public static string JitLibrary => Host.IsWindows ? "clrjit.dll" : Host.IsMacOS ? "libclrjit.dylib" : "libclrjit.so";
}
