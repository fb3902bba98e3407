using System;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Hybrid.Benchmarks.Targets;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Item 7: bytes per live redirect and what dispose gives back. Not a timing benchmark: Program runs it in the host
    /// process after BenchmarkDotNet (when the install benchmarks were selected) and prints a table. Over 32 distinct
    /// methods of a fresh copy of the targets assembly it measures
    /// <list type="bullet">
    /// <item>managed bytes allocated per Redirect call (<see cref="GC.GetAllocatedBytesForCurrentThread"/>),</item>
    /// <item>managed bytes retained while the redirects live (<see cref="GC.GetTotalMemory(bool)"/> after full collections),</item>
    /// <item>native bytes: the change of the process's address space (VmSize in /proc/self/status) — the engine maps
    /// 2 pages (stub + data, 2 × 4 KiB here) per hooked method body — and what remains after dispose,</item>
    /// <item>whether a delegate replacement (and what it captured) is collectable after dispose.</item>
    /// </list>
    /// </summary>
    internal static class MemoryFootprint
    {
        const int Count = 32;

        public static string Measure()
        {
            var replacement = typeof(Replacements).GetMethod(nameof(Replacements.Install))!;
            var methods = InstallTargets.All(TargetCopies.LoadFresh().GetType(typeof(InstallTargets).FullName!)!);
            foreach (var m in methods)
            {
                RuntimeHelpers.PrepareMethod(m.MethodHandle);
                m.Invoke(null, new object[] { 1 });
            }
            // Warm the engine's own code paths (JIT of the engine, its static tables) on another method first.
            var warm = typeof(InstallTargets).GetMethod("Install00")!;
            Engine.Redirect(warm, replacement).Dispose();
            Engine.Redirect(warm, new Func<int, int>(x => x)).Dispose();

            var live = new Redirection[Count];

            // First redirect of each method: creates its hook.
            long heap0 = Settle(), vm0 = VmSizeBytes(), alloc0 = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Count; i++)
                live[i] = Engine.Redirect(methods[i], replacement);
            long alloc1 = GC.GetAllocatedBytesForCurrentThread();
            long heap1 = Settle(), vm1 = VmSizeBytes();
            for (int i = 0; i < Count; i++)
                live[i].Dispose();
            Array.Clear(live);
            long heap2 = Settle(), vm2 = VmSizeBytes();

            // Later redirects: the hooks exist.
            long alloc2 = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Count; i++)
                live[i] = Engine.Redirect(methods[i], replacement);
            long alloc3 = GC.GetAllocatedBytesForCurrentThread();
            long heap3 = Settle(), vm3 = VmSizeBytes();
            for (int i = 0; i < Count; i++)
                live[i].Dispose();
            Array.Clear(live);
            long heap4 = Settle(), vm4 = VmSizeBytes();

            // Delegate replacements: is the delegate (and its captured state) released by dispose?
            var delegateKept = DelegateKeptAfterDispose(methods[0]);
            long heap5 = Settle();

            string PerRedirect(long bytes) => (bytes / (double)Count).ToString("N0", CultureInfo.InvariantCulture) + " B";
            var sb = new StringBuilder();
            sb.AppendLine("| Memory (item 7), 32 methods, per redirect | Value |");
            sb.AppendLine("|---|---|");
            sb.AppendLine($"| Managed allocated by Redirect, first redirect of a method (hook created) | {PerRedirect(alloc1 - alloc0)} |");
            sb.AppendLine($"| Managed allocated by Redirect, hook exists | {PerRedirect(alloc3 - alloc2)} |");
            sb.AppendLine($"| Managed retained per live redirect, first redirect (incl. hook) | {PerRedirect(heap1 - heap0)} |");
            sb.AppendLine($"| Managed retained per live redirect, hook exists | {PerRedirect(heap3 - heap2)} |");
            sb.AppendLine($"| Managed left after disposing (hook exists), per redirect | {PerRedirect(heap4 - heap2)} |");
            sb.AppendLine($"| Managed left after disposing the first redirects (the hooks), per method | {PerRedirect(heap2 - heap0)} |");
            sb.AppendLine($"| Native address space added per hooked method (VmSize) | {PerRedirect(vm1 - vm0)} (engine maps 2 × {Environment.SystemPageSize} B) |");
            sb.AppendLine($"| Native address space returned by dispose | {(vm1 - vm2).ToString("N0", CultureInfo.InvariantCulture)} B of {(vm1 - vm0).ToString("N0", CultureInfo.InvariantCulture)} B (stub pages are kept for the life of the process) |");
            sb.AppendLine($"| Native address space added by a later redirect (hook exists) | {PerRedirect(vm3 - vm2)} |");
            sb.AppendLine($"| Delegate replacement + captured state collectable after dispose | {(delegateKept ? "no (still reachable)" : "yes")} |");
            sb.AppendLine($"| Managed heap change across the delegate redirect + dispose | {(heap5 - heap4).ToString("N0", CultureInfo.InvariantCulture)} B |");
            return sb.ToString();
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static bool DelegateKeptAfterDispose(MethodInfo method)
        {
            var weak = RedirectWithCapturedState(method);
            Settle();
            return weak.IsAlive;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static WeakReference RedirectWithCapturedState(MethodInfo method)
        {
            var captured = new byte[64 * 1024];
            Func<int, int> replacement = x => x + captured.Length;
            Engine.Redirect(method, replacement).Dispose();
            return new WeakReference(captured);
        }

        static long Settle()
        {
            for (int i = 0; i < 3; i++)
            {
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
            }
            return GC.GetTotalMemory(forceFullCollection: true);
        }

        static long VmSizeBytes()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmSize:", StringComparison.Ordinal))
                    return long.Parse(line.Substring(7).Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
            return 0;
        }
    }
}
