using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// A load-robust cross-check of the per-call rows (items 1, 2, 3, 5), run in the host process after
    /// BenchmarkDotNet. BenchmarkDotNet measures each row in its own process, one after the other, in iterations of
    /// ~0.5 s: on a shared machine the other jobs' load changes between rows, and that shows up as several ns of
    /// difference between rows that execute identical code. Here the baseline and the candidate of each comparison
    /// alternate: <see cref="Rounds"/> rounds, each timing one loop of <see cref="CallBenchmarks.N"/> calls of either
    /// side (a few µs, so most rounds are not preempted), and the minimum and the 10th percentile per side are
    /// reported — both sides see the same load, and preempted rounds fall out. Stopwatch-based, not BenchmarkDotNet.
    /// </summary>
    internal static class InterleavedCheck
    {
        const int Rounds = 4000;

        public static string Run()
        {
            var calls = new CallBenchmarks();
            calls.Setup();
            var scopes = new ScopeBenchmarks();
            scopes.Setup();
            try
            {
                var pairs = new (string Item, string Baseline, Func<int> A, string Candidate, Func<int> B)[]
                {
                    ("1a", "unwoven Add (NoInlining)", calls.UnwovenAdd, "woven Add, slot empty", calls.WovenAdd),
                    ("1b", "unwoven AddOpt (NoInlining+AggressiveOptimization)", calls.UnwovenAddOpt, "woven AddOpt, slot empty", calls.WovenAddOpt),
                    ("2a", "replacement called directly", calls.DirectReplacementForNative, "native redirect -> static method", calls.NativeRedirect),
                    ("2b", "closure method called directly", calls.DirectClosureForNative, "native redirect -> delegate with captured state", calls.NativeRedirectToDelegate),
                    ("3a", "replacement called directly", calls.DirectReplacementForGuard, "IL guard -> static method (delegate)", calls.GuardStatic),
                    ("3b", "closure method called directly", calls.DirectClosureForGuard, "IL guard -> delegate with captured state", calls.GuardClosure),
                    ("5", "never faked", scopes.Plain, "faked in another flow's scope (this flow: original)", scopes.FakedElsewhere),
                    ("5", "never faked", scopes.Plain, "faked in this flow's scope", scopes.FakedHere),
                    ("5", "never faked", scopes.Plain, "after its last fake was disposed", scopes.Released),
                };

                // Warm-up: enough calls and time for tiered compilation to reach its final code everywhere.
                var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 3 / 2;
                while (Stopwatch.GetTimestamp() < until)
                {
                    foreach (var p in pairs)
                    {
                        p.A();
                        p.B();
                    }
                    Thread.Sleep(1);
                }

                var sb = new StringBuilder();
                sb.AppendLine($"| Item | Baseline | ns/call (min / p10) | Candidate | ns/call (min / p10) | Δ min | Δ p10 |");
                sb.AppendLine("|---|---|---|---|---|---|---|");
                foreach (var p in pairs)
                {
                    var (a, b) = Measure(p.A, p.B);
                    sb.AppendLine($"| {p.Item} | {p.Baseline} | {F(a.Min)} / {F(a.P10)} | {p.Candidate} | {F(b.Min)} / {F(b.P10)} | {D(b.Min - a.Min)} | {D(b.P10 - a.P10)} |");
                }
                return sb.ToString();
            }
            finally
            {
                calls.Cleanup();
                scopes.Cleanup();
            }
        }

        static ((double Min, double P10) A, (double Min, double P10) B) Measure(Func<int> a, Func<int> b)
        {
            var ta = new double[Rounds];
            var tb = new double[Rounds];
            int sink = 0;
            double perCall = 1e9 / Stopwatch.Frequency / CallBenchmarks.N;
            for (int r = 0; r < Rounds; r++)
            {
                // Alternate which side goes first, so neither always runs right after the other.
                if ((r & 1) == 0)
                {
                    long t0 = Stopwatch.GetTimestamp(); sink += a(); long t1 = Stopwatch.GetTimestamp(); sink += b(); long t2 = Stopwatch.GetTimestamp();
                    ta[r] = (t1 - t0) * perCall; tb[r] = (t2 - t1) * perCall;
                }
                else
                {
                    long t0 = Stopwatch.GetTimestamp(); sink += b(); long t1 = Stopwatch.GetTimestamp(); sink += a(); long t2 = Stopwatch.GetTimestamp();
                    tb[r] = (t1 - t0) * perCall; ta[r] = (t2 - t1) * perCall;
                }
            }
            GC.KeepAlive(sink);
            Array.Sort(ta);
            Array.Sort(tb);
            return ((ta[0], ta[Rounds / 10]), (tb[0], tb[Rounds / 10]));
        }

        static string F(double ns) => ns.ToString("0.00", CultureInfo.InvariantCulture);
        static string D(double ns) => ns.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " ns";
    }
}
