using System;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Hybrid.Benchmarks.Targets;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Per-call cost, items 1–3 of issue 8. Every row runs a loop of <see cref="N"/> direct calls compiled into the
    /// targets assembly (<see cref="Loops"/>) and reports time per call (OperationsPerInvoke = N); the loop is the same
    /// on both sides of a comparison, so "Δ vs baseline" is the cost of the mechanism.
    /// <list type="bullet">
    /// <item>Woven rows call into a copy of the targets assembly woven at start-up with the Weaver library
    /// (<see cref="TargetCopies.Woven"/>), through a function pointer to its loop (one indirect call per N calls).</item>
    /// <item>IL-guard redirects are <see cref="Engine.Redirect(MethodBase, MethodInfo)"/> calls on the woven copy with
    /// the strategy pinned to ILDispatch (<see cref="TargetCopies.RedirectThroughGuard"/>): the engine puts a
    /// <c>Handler</c> delegate into the method's <c>&lt;Hybrid&gt;Guard_k.Target</c> slot.</item>
    /// <item>Native redirects are real <see cref="Engine.Redirect(MethodBase, MethodInfo)"/> /
    /// <see cref="Engine.Redirect(MethodBase, Delegate)"/> calls, live for the whole run.</item>
    /// </list>
    /// Setup checks that every redirected loop returns what the direct loop returns, so no row measures the wrong path.
    /// </summary>
    [Config(typeof(Config))]
    [GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
    [CategoriesColumn]
    public unsafe class CallBenchmarks
    {
        sealed class Config : ManualConfig
        {
            public Config() => AddColumn(StatisticColumn.Median, StatisticColumn.Min, new DeltaColumn());
        }

        public const int N = 1000;

        const string WovenNoInlining = "1a woven, no redirect active (NoInlining)";
        const string WovenAggressive = "1b woven, no redirect active (NoInlining+AggressiveOptimization)";
        const string NativeStatic = "2a native redirect -> static method";
        const string NativeDelegate = "2b native redirect -> delegate with captured state";
        const string GuardStaticCategory = "3a IL guard -> static method (delegate)";
        const string GuardClosureCategory = "3b IL guard -> delegate with captured state";

        delegate*<int, int> _wovenAdd, _wovenAddOpt, _wovenGuardStatic, _wovenGuardClosure;
        readonly Closure _closure = new Closure { Offset = 0 };
        Redirection? _native, _nativeDelegate, _guardStatic, _guardClosure;

        [GlobalSetup]
        public void Setup()
        {
            var woven = TargetCopies.Woven();
            _wovenAdd = (delegate*<int, int>)TargetCopies.Method(woven, "Loops", "Add").MethodHandle.GetFunctionPointer();
            _wovenAddOpt = (delegate*<int, int>)TargetCopies.Method(woven, "Loops", "AddOpt").MethodHandle.GetFunctionPointer();
            _wovenGuardStatic = (delegate*<int, int>)TargetCopies.Method(woven, "Loops", "GuardStatic").MethodHandle.GetFunctionPointer();
            _wovenGuardClosure = (delegate*<int, int>)TargetCopies.Method(woven, "Loops", "GuardClosure").MethodHandle.GetFunctionPointer();

            _guardStatic = TargetCopies.RedirectThroughGuard(TargetCopies.Method(woven, "Calls", "GuardStatic"), typeof(Replacements).GetMethod(nameof(Replacements.Add))!);
            _guardClosure = TargetCopies.RedirectThroughGuard(TargetCopies.Method(woven, "Calls", "GuardClosure"), new Func<int, int, int>(_closure.Add));

            _native = Engine.Redirect(typeof(Calls).GetMethod(nameof(Calls.Native))!, typeof(Replacements).GetMethod(nameof(Replacements.Add))!);
            _nativeDelegate = Engine.Redirect(typeof(Calls).GetMethod(nameof(Calls.NativeToDelegate))!, new Func<int, int, int>(_closure.Add));

            int expected = Loops.Replacement(N);
            Check("woven Add", _wovenAdd(N), expected);
            Check("woven AddOpt", _wovenAddOpt(N), expected);
            Check("IL guard -> static", _wovenGuardStatic(N), expected);
            Check("IL guard -> closure", _wovenGuardClosure(N), expected);
            Check("native -> static", Loops.Native(N), expected);
            Check("native -> delegate", Loops.NativeToDelegate(N), expected);
            Check("unwoven Add", Loops.Add(N), expected);
            Check("closure", Loops.ClosureDirect(_closure, N), expected);
        }

        static void Check(string what, int actual, int expected)
        {
            if (actual != expected)
                throw new InvalidOperationException($"{what}: loop returned {actual}, expected {expected} (the redirect or guard is not taking effect)");
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            _native?.Dispose();
            _nativeDelegate?.Dispose();
            _guardStatic?.Dispose();
            _guardClosure?.Dispose();
        }

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "unwoven Add")]
        [BenchmarkCategory(WovenNoInlining)]
        public int UnwovenAdd() => Loops.Add(N);

        [Benchmark(OperationsPerInvoke = N, Description = "woven Add, slot empty")]
        [BenchmarkCategory(WovenNoInlining)]
        public int WovenAdd() => _wovenAdd(N);

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "unwoven AddOpt")]
        [BenchmarkCategory(WovenAggressive)]
        public int UnwovenAddOpt() => Loops.AddOpt(N);

        [Benchmark(OperationsPerInvoke = N, Description = "woven AddOpt, slot empty")]
        [BenchmarkCategory(WovenAggressive)]
        public int WovenAddOpt() => _wovenAddOpt(N);

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "replacement called directly")]
        [BenchmarkCategory(NativeStatic)]
        public int DirectReplacementForNative() => Loops.Replacement(N);

        [Benchmark(OperationsPerInvoke = N, Description = "original, natively redirected")]
        [BenchmarkCategory(NativeStatic)]
        public int NativeRedirect() => Loops.Native(N);

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "closure method called directly")]
        [BenchmarkCategory(NativeDelegate)]
        public int DirectClosureForNative() => Loops.ClosureDirect(_closure, N);

        [Benchmark(OperationsPerInvoke = N, Description = "original, natively redirected to delegate")]
        [BenchmarkCategory(NativeDelegate)]
        public int NativeRedirectToDelegate() => Loops.NativeToDelegate(N);

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "replacement called directly")]
        [BenchmarkCategory(GuardStaticCategory)]
        public int DirectReplacementForGuard() => Loops.Replacement(N);

        [Benchmark(OperationsPerInvoke = N, Description = "woven original, guard slot set")]
        [BenchmarkCategory(GuardStaticCategory)]
        public int GuardStatic() => _wovenGuardStatic(N);

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "closure method called directly")]
        [BenchmarkCategory(GuardClosureCategory)]
        public int DirectClosureForGuard() => Loops.ClosureDirect(_closure, N);

        [Benchmark(OperationsPerInvoke = N, Description = "woven original, guard slot set")]
        [BenchmarkCategory(GuardClosureCategory)]
        public int GuardClosure() => _wovenGuardClosure(N);
    }
}
