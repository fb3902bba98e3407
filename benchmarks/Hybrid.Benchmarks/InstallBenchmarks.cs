using System.Reflection;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Hybrid.Benchmarks.Targets;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Item 4, the pair: one <see cref="Engine.Redirect(MethodBase, MethodInfo)"/> plus its
    /// <see cref="Redirection.Dispose"/> per invocation, measured by BenchmarkDotNet like any other benchmark (no
    /// per-invocation setup). The method is compiled and its hook (stub pages) already exists, as for every redirect
    /// of a method after its first. MemoryDiagnoser's Allocated column is the managed garbage of one pair (item 7).
    /// </summary>
    [MemoryDiagnoser]
    [MedianColumn]
    [MinColumn]
    public class InstallPairBenchmarks
    {
        MethodInfo _pair = null!, _shared = null!, _replacement = null!;
        Redirection? _base;

        [GlobalSetup]
        public void Setup()
        {
            _pair = typeof(Calls).GetMethod(nameof(Calls.Pair))!;
            _shared = typeof(Calls).GetMethod(nameof(Calls.PairShared))!;
            _replacement = typeof(Replacements).GetMethod(nameof(Replacements.Add))!;
            Calls.Pair(2, 3);
            Calls.PairShared(2, 3);
            Engine.Redirect(_pair, _replacement).Dispose(); // creates the hook once
            _base = Engine.Redirect(_shared, _replacement); // stays live: the pair below only swaps the data cell
        }

        [GlobalCleanup]
        public void Cleanup() => _base?.Dispose();

        [Benchmark(Description = "install+dispose, no other redirect live (entry jump written and removed)")]
        public void Pair() => Engine.Redirect(_pair, _replacement).Dispose();

        [Benchmark(Description = "install+dispose, another redirect of the method live (data cell swap)")]
        public void PairWhileAnotherLive() => Engine.Redirect(_shared, _replacement).Dispose();
    }

    /// <summary>
    /// Issue 16: what the thread fence costs per thread of the process. The pair of <see cref="InstallPairBenchmarks"/>
    /// with <see cref="SleepingThreads"/> more threads blocked in a wait (state S, as most of a test host's threads
    /// are): the Linux fence reads every thread's state from /proc before it signals the running ones, so each thread
    /// adds one read even when it sleeps.
    /// </summary>
    [MedianColumn]
    [MinColumn]
    public class InstallPairThreadsBenchmarks
    {
        MethodInfo _pair = null!, _replacement = null!;
        readonly System.Threading.ManualResetEventSlim _release = new();
        System.Threading.Thread[] _sleepers = System.Array.Empty<System.Threading.Thread>();

        [Params(0, 16, 32)]
        public int SleepingThreads { get; set; }

        [GlobalSetup]
        public void Setup()
        {
            _pair = typeof(Calls).GetMethod(nameof(Calls.Pair))!;
            _replacement = typeof(Replacements).GetMethod(nameof(Replacements.Add))!;
            Calls.Pair(2, 3);
            Engine.Redirect(_pair, _replacement).Dispose(); // creates the hook once
            _sleepers = new System.Threading.Thread[SleepingThreads];
            for (int i = 0; i < _sleepers.Length; i++)
            {
                _sleepers[i] = new System.Threading.Thread(() => _release.Wait()) { IsBackground = true };
                _sleepers[i].Start();
            }
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            _release.Set();
            foreach (var thread in _sleepers)
                thread.Join();
        }

        [Benchmark(Description = "install+dispose, entry jump written and removed, with this many more sleeping threads")]
        public void Pair() => Engine.Redirect(_pair, _replacement).Dispose();
    }

    /// <summary>
    /// Item 4, the pair through the IL guard: <see cref="Engine.Redirect(MethodBase, MethodInfo)"/> of a woven method
    /// with the strategy pinned to ILDispatch for this process (set in setup), plus dispose. No code is written: the
    /// engine stores a delegate into the guard slot and clears it again.
    /// </summary>
    [MemoryDiagnoser]
    [MedianColumn]
    [MinColumn]
    public class InstallPairILBenchmarks
    {
        MethodInfo _woven = null!, _replacement = null!;

        [GlobalSetup]
        public void Setup()
        {
            _woven = TargetCopies.Method(TargetCopies.Woven(), "Calls", "GuardPair");
            _replacement = typeof(Replacements).GetMethod(nameof(Replacements.Add))!;
            TargetCopies.RedirectThroughGuard(_woven, _replacement).Dispose(); // checks the strategy
            Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
        }

        [GlobalCleanup]
        public void Cleanup() => Engine.ForcedStrategy = null;

        [Benchmark(Description = "install+dispose through the IL guard (woven method, slot store)")]
        public void Pair() => Engine.Redirect(_woven, _replacement).Dispose();
    }

    /// <summary>
    /// Item 4, each half on its own. An iteration is <see cref="Batch"/> invocations; each invocation redirects (or
    /// un-redirects) a different one of 32 distinct methods that are all in the same state, and [IterationSetup] /
    /// [IterationCleanup] — outside the measured time — put them into that state (install all before a Dispose
    /// iteration, dispose all after an Install iteration, load a fresh copy of the targets assembly before a
    /// first-redirect iteration). BenchmarkDotNet therefore times a batch of 32 operations per iteration and divides.
    /// </summary>
    [InvocationCount(Batch, 1)]
    [MedianColumn]
    [MinColumn]
    public class InstallHalvesBenchmarks
    {
        const int Batch = 32;

        MethodInfo[] _hooked = null!, _withBase = null!, _fresh = null!;
        MethodInfo _replacement = null!;
        readonly Redirection?[] _live = new Redirection?[Batch];
        int _next;

        [GlobalSetup]
        public void Setup()
        {
            _replacement = typeof(Replacements).GetMethod(nameof(Replacements.Install))!;
            _hooked = InstallTargets.All(typeof(InstallTargets));
            foreach (var m in _hooked)
            {
                Precompile(m);
                Engine.Redirect(m, _replacement).Dispose(); // hook exists, nothing live
            }
            _withBase = InstallTargets.All(TargetCopies.LoadFresh().GetType(typeof(InstallTargets).FullName!)!);
            foreach (var m in _withBase)
            {
                Precompile(m);
                _ = Engine.Redirect(m, _replacement); // stays live for the whole run
            }
        }

        static void Precompile(MethodInfo m)
        {
            RuntimeHelpers.PrepareMethod(m.MethodHandle);
            m.Invoke(null, new object[] { 1 });
        }

        MethodInfo[] FreshCopy() => InstallTargets.All(TargetCopies.LoadFresh().GetType(typeof(InstallTargets).FullName!)!);

        [IterationSetup(Targets = new[] { nameof(Install), nameof(InstallWhileAnotherLive) })]
        public void Reset() => _next = 0;

        [IterationSetup(Target = nameof(Dispose))]
        public void InstallAll() => InstallAll(_hooked);

        [IterationSetup(Target = nameof(DisposeWhileAnotherLive))]
        public void InstallAllWithBase() => InstallAll(_withBase);

        void InstallAll(MethodInfo[] methods)
        {
            for (int i = 0; i < Batch; i++)
                _live[i] = Engine.Redirect(methods[i], _replacement);
            _next = 0;
        }

        [IterationSetup(Target = nameof(FirstRedirectPrecompiled))]
        public void LoadPrecompiled()
        {
            _fresh = FreshCopy();
            foreach (var m in _fresh)
                Precompile(m);
            _next = 0;
        }

        [IterationSetup(Target = nameof(FirstRedirectNeverCompiled))]
        public void LoadNeverCompiled()
        {
            _fresh = FreshCopy();
            _next = 0;
        }

        [IterationCleanup]
        public void DisposeLive()
        {
            for (int i = 0; i < Batch; i++)
            {
                _live[i]?.Dispose();
                _live[i] = null;
            }
        }

        [Benchmark(Description = "install, no other redirect live (entry jump written, threads parked)")]
        public void Install() => _live[_next % Batch] = Engine.Redirect(_hooked[_next++ % Batch], _replacement);

        [Benchmark(Description = "dispose, last redirect of the method (original bytes written back)")]
        public void Dispose() => _live[_next++ % Batch]?.Dispose();

        [Benchmark(Description = "install, another redirect live (data cell swap)")]
        public void InstallWhileAnotherLive() => _live[_next % Batch] = Engine.Redirect(_withBase[_next++ % Batch], _replacement);

        [Benchmark(Description = "dispose, another redirect still live (data cell swap)")]
        public void DisposeWhileAnotherLive() => _live[_next++ % Batch]?.Dispose();

        [Benchmark(Description = "first redirect of a compiled, never-hooked method (stub pages + jump)")]
        public void FirstRedirectPrecompiled() => _live[_next % Batch] = Engine.Redirect(_fresh[_next++ % Batch], _replacement);

        [Benchmark(Description = "first redirect of a never-compiled method (JIT + stub pages + jump)")]
        public void FirstRedirectNeverCompiled() => _live[_next % Batch] = Engine.Redirect(_fresh[_next++ % Batch], _replacement);
    }
}
