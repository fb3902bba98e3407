using System;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Hybrid.Weaving;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Weaving throughput: weave every method of the real Mono.Cecil.dll (read, weave, write with symbols off).
    /// The Methods/s column divides the number of woven methods by the mean time of one complete run.
    /// </summary>
    [Config(typeof(Config))]
    [MemoryDiagnoser]
    public class WeavingBenchmarks
    {
        sealed class Config : ManualConfig
        {
            public Config() => AddColumn(new MethodsPerSecondColumn());
        }

        string input = "";
        string output = "";

        /// <summary>The Mono.Cecil.dll the weaver itself uses (copied next to this benchmark from the NuGet package).</summary>
        internal static string CecilPath => typeof(Mono.Cecil.ModuleDefinition).Assembly.Location;

        [GlobalSetup]
        public void Setup()
        {
            var dir = Path.Combine(Path.GetTempPath(), "hybrid-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            input = Path.Combine(dir, "in", "Mono.Cecil.dll");
            Directory.CreateDirectory(Path.GetDirectoryName(input)!);
            File.Copy(CecilPath, input);
            output = Path.Combine(dir, "out", "Mono.Cecil.dll");
        }

        [GlobalCleanup]
        public void Cleanup() => Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(input)!)!, recursive: true);

        [Benchmark(Description = "Weave all of Mono.Cecil.dll")]
        public int WeaveMonoCecil()
        {
            var result = Weaver.Weave(new WeaverOptions { InputPath = input, OutputPath = output, Selectors = new[] { "*" } });
            if (!result.Success)
                throw new InvalidOperationException(string.Join(Environment.NewLine, result.Diagnostics));
            return result.WovenMethods.Count;
        }

        /// <summary>Woven-method count, computed in the host process (benchmarks run in a child process).</summary>
        internal static readonly Lazy<int> MethodCount = new Lazy<int>(() =>
        {
            var b = new WeavingBenchmarks();
            b.Setup();
            try
            {
                return b.WeaveMonoCecil();
            }
            finally
            {
                b.Cleanup();
            }
        });

        sealed class MethodsPerSecondColumn : IColumn
        {
            public string Id => nameof(MethodsPerSecondColumn);
            public string ColumnName => "Methods/s";
            public bool AlwaysShow => true;
            public ColumnCategory Category => ColumnCategory.Custom;
            public int PriorityInCategory => 0;
            public bool IsNumeric => true;
            public UnitType UnitType => UnitType.Dimensionless;
            public string Legend => "Woven methods per second (methods woven in one run / mean time of one run)";
            public bool IsAvailable(Summary summary) => true;
            public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

            public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            {
                var report = summary.Reports.FirstOrDefault(r => r.BenchmarkCase == benchmarkCase);
                var mean = report?.ResultStatistics?.Mean;
                if (mean == null || mean <= 0)
                    return "-";
                var perSecond = MethodCount.Value / (mean.Value / 1e9);
                return perSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " (" + MethodCount.Value + " methods)";
            }

            public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
        }
    }
}
