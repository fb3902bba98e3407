using System;
using System.Linq.Expressions;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Hybrid.Testing;
using T = Hybrid.Benchmarks.TestLifecycleTargets;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Item 8: what one test costs in Hybrid.Testing, done the way the test-framework integrations do it
    /// (<c>[HybridFakes]</c> for NUnit, <c>HybridFakesTest</c> for MSTest): <see cref="FakeScope.Begin"/> with the test's
    /// name, the test body's <c>Fake.Of(() =&gt; ...).Returns(...)</c> (the selector lambda built as an expression tree
    /// on every call, as in test code), one call of each method, then <see cref="FakeScope.EndTest"/> (verification off,
    /// the integrations' default), which disposes the scope and its fakes. One invocation is one test; every row calls
    /// the same three methods once, so "Δ vs baseline" is what Hybrid adds to one test.
    /// <list type="bullet">
    /// <item>(a) one fake, (b) three fakes of methods the previous test did not fake (four sets of three in turn),
    /// (c) three fakes of the methods the previous test faked too (the common case in a suite).</item>
    /// <item>Engine-only rows (no Hybrid.Testing): three <see cref="Engine.Redirect(MethodBase, Delegate)"/> with a
    /// delegate closed over an object plus <see cref="Redirection.GetOriginal{TDelegate}"/> — what Hybrid.Testing asks of
    /// the engine when a method gets its first live fake — and three <see cref="Engine.Redirect(MethodBase, MethodInfo)"/>
    /// to a static method (item 4's pair, three times).</item>
    /// </list>
    /// Setup runs every row once, so every method already has its hub, dispatcher and hook (stub pages), as after the
    /// first test of a suite that fakes it. Each row checks its results and throws when a fake (or redirect) was not
    /// seen, or an unfaked call did not run the original.
    /// </summary>
    [Config(typeof(Config))]
    [GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
    [CategoriesColumn]
    [MemoryDiagnoser]
    public class TestLifecycleBenchmarks
    {
        sealed class Config : ManualConfig
        {
            public Config() => AddColumn(StatisticColumn.Median, StatisticColumn.Min, new DeltaColumn());
        }

        const string Category = "8 a test's fakes (Hybrid.Testing)";
        const string TestName = "test " + nameof(TestLifecycleBenchmarks);

        MethodInfo _engine1 = null!, _engine2 = null!, _engine3 = null!, _engineM1 = null!, _engineM2 = null!, _engineM3 = null!, _static = null!;
        Func<int, int, int> _closed = null!;
        int _test;

        [GlobalSetup]
        public void Setup()
        {
            _engine1 = typeof(T).GetMethod(nameof(T.Engine1))!;
            _engine2 = typeof(T).GetMethod(nameof(T.Engine2))!;
            _engine3 = typeof(T).GetMethod(nameof(T.Engine3))!;
            _engineM1 = typeof(T).GetMethod(nameof(T.EngineM1))!;
            _engineM2 = typeof(T).GetMethod(nameof(T.EngineM2))!;
            _engineM3 = typeof(T).GetMethod(nameof(T.EngineM3))!;
            _static = typeof(TestLifecycleReplacement).GetMethod(nameof(TestLifecycleReplacement.AddStatic))!;
            _closed = new TestLifecycleReplacement().Add;

            // Every row once (each set of row (b) once): methods compiled, hubs and dispatchers built, hooks created.
            Baseline();
            ScopeOnly();
            OneFake();
            for (int i = 0; i < 4; i++)
                ThreeFakesOtherMethods();
            ThreeFakesSameMethods();
            EngineClosedDelegate();
            EngineStaticMethod();
            Cleanup();
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            if (FakeScope.Current is { } leaked)
                throw new InvalidOperationException($"{leaked} is still current after the tests ended");
            // Nothing stays redirected: every method runs its original again.
            Check("Same1 after the tests", T.Same1(1, 2), 4);
            Check("Set0A after the tests", T.Set0A(1, 2), 4);
            Check("Set3C after the tests", T.Set3C(1, 2), 6);
            Check("Engine1 after the tests", T.Engine1(1, 2), 4);
            Check("EngineM3 after the tests", T.EngineM3(1, 2), 6);
        }

        static int Check(string what, int actual, int expected)
        {
            if (actual != expected)
                throw new InvalidOperationException($"{what} returned {actual}, expected {expected}: the call took the wrong path");
            return actual;
        }

        static void Called(Fake fake)
        {
            if (fake.CallCount != 1)
                throw new InvalidOperationException($"{fake} saw {fake.CallCount} calls, expected 1");
        }

        static void Ended(FakeScope scope, string? verification, Fake fake)
        {
            if (verification is not null || !scope.IsDisposed || fake.IsActive)
                throw new InvalidOperationException($"{scope} did not end cleanly ({verification ?? "no message"}; {fake})");
        }

        [Benchmark(Baseline = true, Description = "3 calls, no scope, nothing faked")]
        [BenchmarkCategory(Category)]
        public int Baseline() =>
            Check("Plain1", T.Plain1(1, 2), 4) + Check("Plain2", T.Plain2(1, 2), 5) + Check("Plain3", T.Plain3(1, 2), 6);

        [Benchmark(Description = "scope only: Begin + 3 unfaked calls + EndTest")]
        [BenchmarkCategory(Category)]
        public int ScopeOnly()
        {
            var scope = FakeScope.Begin(TestName);
            int sum = Check("Plain1", T.Plain1(1, 2), 4) + Check("Plain2", T.Plain2(1, 2), 5) + Check("Plain3", T.Plain3(1, 2), 6);
            if (scope.EndTest(verifyAllCalled: false) is not null || !scope.IsDisposed)
                throw new InvalidOperationException($"{scope} did not end cleanly");
            return sum;
        }

        [Benchmark(Description = "(a) 1 fake: Begin, Fake.Of(..).Returns, 3 calls (1 faked), EndTest")]
        [BenchmarkCategory(Category)]
        public int OneFake()
        {
            var scope = FakeScope.Begin(TestName);
            var fake = Fake.Of(() => T.Same1(Arg.Any<int>(), Arg.Any<int>())).Returns(-1);
            int sum = Check("Same1 (faked)", T.Same1(1, 2), -1) + Check("Same2", T.Same2(1, 2), 5) + Check("Same3", T.Same3(1, 2), 6);
            Called(fake);
            Ended(scope, scope.EndTest(verifyAllCalled: false), fake);
            return sum;
        }

        [Benchmark(Description = "(b) 3 fakes of methods the previous test did not fake, 3 faked calls")]
        [BenchmarkCategory(Category)]
        public int ThreeFakesOtherMethods()
        {
            switch (_test++ & 3)
            {
                case 0:
                    return ThreeFakes(() => T.Set0A(Arg.Any<int>(), Arg.Any<int>()), () => T.Set0B(Arg.Any<int>(), Arg.Any<int>()), () => T.Set0C(Arg.Any<int>(), Arg.Any<int>()), T.Set0A, T.Set0B, T.Set0C);
                case 1:
                    return ThreeFakes(() => T.Set1A(Arg.Any<int>(), Arg.Any<int>()), () => T.Set1B(Arg.Any<int>(), Arg.Any<int>()), () => T.Set1C(Arg.Any<int>(), Arg.Any<int>()), T.Set1A, T.Set1B, T.Set1C);
                case 2:
                    return ThreeFakes(() => T.Set2A(Arg.Any<int>(), Arg.Any<int>()), () => T.Set2B(Arg.Any<int>(), Arg.Any<int>()), () => T.Set2C(Arg.Any<int>(), Arg.Any<int>()), T.Set2A, T.Set2B, T.Set2C);
                default:
                    return ThreeFakes(() => T.Set3A(Arg.Any<int>(), Arg.Any<int>()), () => T.Set3B(Arg.Any<int>(), Arg.Any<int>()), () => T.Set3C(Arg.Any<int>(), Arg.Any<int>()), T.Set3A, T.Set3B, T.Set3C);
            }
        }

        [Benchmark(Description = "(c) 3 fakes of the methods the previous test faked too, 3 faked calls")]
        [BenchmarkCategory(Category)]
        public int ThreeFakesSameMethods() =>
            ThreeFakes(() => T.Same1(Arg.Any<int>(), Arg.Any<int>()), () => T.Same2(Arg.Any<int>(), Arg.Any<int>()), () => T.Same3(Arg.Any<int>(), Arg.Any<int>()), T.Same1, T.Same2, T.Same3);

        /// <summary>One test: its scope, three fakes from selector lambdas, one call of each faked method, EndTest.
        /// (b) and (c) both come through here, so they differ only in which methods they fake.</summary>
        static int ThreeFakes(Expression<Func<int>> a, Expression<Func<int>> b, Expression<Func<int>> c,
            Func<int, int, int> callA, Func<int, int, int> callB, Func<int, int, int> callC)
        {
            var scope = FakeScope.Begin(TestName);
            var fakeA = Fake.Of(a).Returns(-1);
            var fakeB = Fake.Of(b).Returns(-2);
            var fakeC = Fake.Of(c).Returns(-3);
            int sum = Check("A (faked)", callA(1, 2), -1) + Check("B (faked)", callB(1, 2), -2) + Check("C (faked)", callC(1, 2), -3);
            Called(fakeA);
            Called(fakeB);
            Called(fakeC);
            string? verification = scope.EndTest(verifyAllCalled: false);
            Ended(scope, verification, fakeA);
            Ended(scope, verification, fakeB);
            Ended(scope, verification, fakeC);
            return sum;
        }

        [Benchmark(Description = "engine alone, as Hybrid.Testing asks it: 3 × (Redirect to a closed delegate + GetOriginal, call, Dispose)")]
        [BenchmarkCategory(Category)]
        public int EngineClosedDelegate()
        {
            var r1 = Engine.Redirect(_engine1, _closed);
            var r2 = Engine.Redirect(_engine2, _closed);
            var r3 = Engine.Redirect(_engine3, _closed);
            var o1 = r1.GetOriginal<Func<int, int, int>>();
            var o2 = r2.GetOriginal<Func<int, int, int>>();
            var o3 = r3.GetOriginal<Func<int, int, int>>();
            if (o1 is null || o2 is null || o3 is null)
                throw new InvalidOperationException("GetOriginal returned null");
            int sum = Check("Engine1 (redirected)", T.Engine1(1, 2), 1003) + Check("Engine2 (redirected)", T.Engine2(1, 2), 1003) + Check("Engine3 (redirected)", T.Engine3(1, 2), 1003);
            r1.Dispose();
            r2.Dispose();
            r3.Dispose();
            return sum;
        }

        [Benchmark(Description = "engine alone: 3 × (Redirect to a static method, call, Dispose)")]
        [BenchmarkCategory(Category)]
        public int EngineStaticMethod()
        {
            var r1 = Engine.Redirect(_engineM1, _static);
            var r2 = Engine.Redirect(_engineM2, _static);
            var r3 = Engine.Redirect(_engineM3, _static);
            int sum = Check("EngineM1 (redirected)", T.EngineM1(1, 2), 1003) + Check("EngineM2 (redirected)", T.EngineM2(1, 2), 1003) + Check("EngineM3 (redirected)", T.EngineM3(1, 2), 1003);
            r1.Dispose();
            r2.Dispose();
            r3.Dispose();
            return sum;
        }
    }
}
