using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Hybrid.Benchmarks
{
    /// <summary>Median minus the median of the baseline in the same category, in nanoseconds (the targets are stated that way).</summary>
    internal sealed class DeltaColumn : IColumn
    {
        public string Id => nameof(DeltaColumn);
        public string ColumnName => "Δ vs baseline";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Median of this row minus the median of the baseline row of its category, ns per call (medians: the machine is shared and loaded)";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
        {
            var self = summary[benchmarkCase]?.ResultStatistics;
            if (self is null || benchmarkCase.Descriptor.Baseline)
                return "-";
            var category = benchmarkCase.Descriptor.Categories.FirstOrDefault();
            var baseline = summary.BenchmarksCases.FirstOrDefault(c =>
                c.Descriptor.Baseline && c.Descriptor.Categories.FirstOrDefault() == category && c.Job == benchmarkCase.Job);
            var reference = baseline is null ? null : summary[baseline]?.ResultStatistics;
            if (reference is null)
                return "-";
            return (self.Median - reference.Median).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " ns";
        }

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
    }
}
