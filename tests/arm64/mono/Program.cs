using System;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hybrid.Arm64;

namespace Hybrid.Arm64.MonoSmoke;

/// <summary>
/// Redirects a JIT-compiled managed method on arm64 Mono (under qemu-user) with the engine's Arm64 writer and its
/// emitted cache-maintenance routine, then restores it. Exit code 0 = every check passed.
/// </summary>
internal static class Program
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Original(long x) => x + 1;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Replacement(long x) => x * 100;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Other(long x) => x - 7;

    private static int s_failures;

    private static void Check(string what, long actual, long expected)
    {
        bool ok = actual == expected;
        if (!ok)
            s_failures++;
        Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}: {actual} (expected {expected})");
    }

    private static ulong CodeOf(string name)
    {
        var method = typeof(Program).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;
        RuntimeHelpers.PrepareMethod(method.MethodHandle);
        return (ulong)method.MethodHandle.GetFunctionPointer();
    }

    private static int Main()
    {
        Console.WriteLine($"runtime: {(Type.GetType("Mono.Runtime") != null ? "Mono" : "other")}, {RuntimeInformation.ProcessArchitecture}, {RuntimeInformation.OSDescription}");
        var flusher = new CountingInstructionCacheFlusher(Arm64InstructionCache.CreateForCurrentProcess());
        // Mono's JIT code pages are read+write+execute, so no protection change is needed here.
        var writer = new Arm64CodeWriter(flusher, WritableCodeMemory.Instance);

        Check("Original before", Original(5), 6);
        ulong original = CodeOf(nameof(Original)), replacement = CodeOf(nameof(Replacement)), other = CodeOf(nameof(Other));
        Console.WriteLine($"code: Original 0x{original:x}, Replacement 0x{replacement:x}, Other 0x{other:x}");

        var patch = writer.WriteJump(original, replacement);
        Console.WriteLine($"wrote {patch.EntrySequence} ({patch.Safety}); flushes so far: {flusher.Count}");
        Check("Original -> Replacement", Original(5), 500);

        writer.Restore(patch);
        Check("restored", Original(5), 6);

        var literal = writer.WriteJump(original, replacement, Arm64JumpForms.LiteralLoad);
        Check($"LDR-literal form ({literal.Length} bytes)", Original(5), 500);
        writer.RetargetLiteral(original, other);
        Check("literal retargeted to Other (one 64-bit data store)", Original(5), -2);
        writer.Restore(literal);
        Check("restored", Original(5), 6);

        var forced = writer.WriteJump(original, replacement, Arm64JumpForms.MoveWide);
        Check($"MOVZ/MOVK form ({forced.Length} bytes)", Original(5), 500);
        writer.Restore(forced);
        Check("restored again", Original(5), 6);

        Console.WriteLine($"cache maintenance calls: {flusher.Count}");

        // The fallback flusher (libgcc's __clear_cache) must load and run on this system too.
        new LibgccInstructionCacheFlusher().Flush((nint)original, 64);
        Console.WriteLine("ok   libgcc_s __clear_cache fallback callable");
        return s_failures == 0 ? 0 : 1;
    }
}
