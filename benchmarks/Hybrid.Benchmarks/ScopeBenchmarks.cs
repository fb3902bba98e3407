using System;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Hybrid.Benchmarks.Targets;
using Hybrid.Testing;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Item 5: scoped (async-flow) redirects from Hybrid.Testing (<see cref="FakeScope"/>, <see cref="Fake"/>). A faked
    /// method gets one engine redirect to a dispatcher that looks up the calling flow's scope on every call, so the
    /// rows are: the method faked only in a scope of another async flow (this flow runs the original through the
    /// dispatcher), the method faked in this flow's own scope (the fake answers and records the call), and the method
    /// after its last fake was disposed. Baseline: the same loop over a method that was never faked. N calls per
    /// invocation as in <see cref="CallBenchmarks"/>.
    /// </summary>
    [Config(typeof(Config))]
    [GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
    [CategoriesColumn]
    [MemoryDiagnoser]
    public class ScopeBenchmarks
    {
        sealed class Config : ManualConfig
        {
            public Config() => AddColumn(StatisticColumn.Median, StatisticColumn.Min, new DeltaColumn());
        }

        const int N = CallBenchmarks.N;
        const string Category = "5 scoped fakes (Hybrid.Testing)";

        FakeScope? _elsewhere, _here;
        Fake<int>? _hereFake;
        readonly ManualResetEventSlim _stop = new ManualResetEventSlim();
        Task? _otherFlow;
        bool _ranHere;

        [GlobalSetup]
        public void Setup()
        {
            // Another async flow with a live scope that fakes ScopedElsewhere; it stays open until cleanup.
            using var ready = new ManualResetEventSlim();
            _otherFlow = Task.Factory.StartNew(() =>
            {
                _elsewhere = FakeScope.Begin("elsewhere");
                _elsewhere.Of<int>(typeof(Calls).GetMethod(nameof(Calls.ScopedElsewhere))!).Returns(-1);
                if (Calls.ScopedElsewhere(1, 1) != -1)
                    throw new InvalidOperationException("the fake is not seen in its own flow");
                ready.Set();
                _stop.Wait();
                _elsewhere.Dispose();
            }, TaskCreationOptions.LongRunning);
            ready.Wait();

            // Faked and released again, and the idle redirect removed (it would otherwise stay for a second, for the
            // next test): the method's code is as compiled again.
            using (var released = FakeScope.Begin("released"))
                released.Of<int>(typeof(Calls).GetMethod(nameof(Calls.ScopedReleased))!).Returns(-1);
            if (FakeScope.RemoveIdleRedirects() < 1)
                throw new InvalidOperationException("the released method's redirect was not idle");

            // This flow's scope. The benchmark methods run on this thread right after setup; cleanup checks that the
            // fake really saw the calls (an AsyncLocal lost between setup and the benchmark would otherwise go unnoticed).
            _here = FakeScope.Begin("here");
            _hereFake = _here.Of<int>(typeof(Calls).GetMethod(nameof(Calls.ScopedHere))!).Returns(7);

            Check("elsewhere", Loops.ScopedElsewhere(N), Loops.Plain(N));
            Check("here", Loops.ScopedHere(N), 7 * N);
            Check("released", Loops.ScopedReleased(N), Loops.Plain(N));
        }

        static void Check(string what, int actual, int expected)
        {
            if (actual != expected)
                throw new InvalidOperationException($"{what}: loop returned {actual}, expected {expected}");
        }

        [GlobalCleanup]
        public void Cleanup()
        {
            _stop.Set();
            _otherFlow?.Wait();
            int calls = _hereFake?.CallCount ?? 0;
            _here?.Dispose();
            if (_ranHere && calls <= N) // only the setup check: the measured loop did not run inside the scope
                throw new InvalidOperationException($"the in-scope fake saw {calls} calls: the benchmark did not run in the setup's async flow");
        }

        [Benchmark(Baseline = true, OperationsPerInvoke = N, Description = "never faked")]
        [BenchmarkCategory(Category)]
        public int Plain() => Loops.Plain(N);

        [Benchmark(OperationsPerInvoke = N, Description = "faked in another flow's scope; this flow runs the original")]
        [BenchmarkCategory(Category)]
        public int FakedElsewhere() => Loops.ScopedElsewhere(N);

        [Benchmark(OperationsPerInvoke = N, Description = "faked in this flow's scope (Returns(7), call recorded)")]
        [BenchmarkCategory(Category)]
        public int FakedHere()
        {
            _ranHere = true;
            return Loops.ScopedHere(N);
        }

        [Benchmark(OperationsPerInvoke = N, Description = "after its last fake was disposed")]
        [BenchmarkCategory(Category)]
        public int Released() => Loops.ScopedReleased(N);
    }
}
