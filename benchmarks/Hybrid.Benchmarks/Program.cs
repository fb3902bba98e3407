using System;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Running;

namespace Hybrid.Benchmarks
{
    public static class Program
    {
        /// <summary>
        /// BenchmarkDotNet's switcher (all its options: --filter, --job, --list ...). When the install benchmarks ran,
        /// the memory footprint table (item 7, not a timing) is measured afterwards in this process, printed and written
        /// next to BenchmarkDotNet's reports. When the call benchmarks ran, the interleaved per-call cross-check
        /// (<see cref="InterleavedCheck"/>) follows in the same way. <c>--memory-only</c> / <c>--interleaved-only</c>
        /// print just that table.
        /// </summary>
        public static int Main(string[] args)
        {
            if (args.Contains("--memory-only"))
            {
                Console.WriteLine(MemoryFootprint.Measure());
                return 0;
            }
            if (args.Contains("--interleaved-only"))
            {
                Console.WriteLine(InterleavedCheck.Run());
                return 0;
            }
            var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args).ToArray();
            var failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
            var installSummary = summaries.FirstOrDefault(s => s.BenchmarksCases.Any(c => c.Descriptor.Type == typeof(InstallPairBenchmarks)));
            if (installSummary is not null)
            {
                var table = MemoryFootprint.Measure();
                Console.WriteLine();
                Console.WriteLine(table);
                var path = Path.Combine(installSummary.ResultsDirectoryPath, "Hybrid.Benchmarks.MemoryFootprint-report.md");
                File.WriteAllText(path, table);
                Console.WriteLine("Memory footprint table: " + path);
            }
            var callSummary = summaries.FirstOrDefault(s => s.BenchmarksCases.Any(c => c.Descriptor.Type == typeof(CallBenchmarks)));
            if (callSummary is not null)
            {
                var table = InterleavedCheck.Run();
                Console.WriteLine();
                Console.WriteLine(table);
                var path = Path.Combine(callSummary.ResultsDirectoryPath, "Hybrid.Benchmarks.Interleaved-report.md");
                File.WriteAllText(path, table);
                Console.WriteLine("Interleaved per-call cross-check: " + path);
            }
            return failed || summaries.Length == 0 ? 1 : 0;
        }
    }
}
