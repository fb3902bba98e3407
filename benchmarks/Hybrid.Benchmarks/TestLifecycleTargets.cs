using System.Runtime.CompilerServices;

namespace Hybrid.Benchmarks
{
    /// <summary>
    /// Item 8: the methods a benchmarked "test" fakes (<see cref="TestLifecycleBenchmarks"/>). All are <c>NoInlining</c>
    /// and return <c>a + b</c> plus a distinct constant, so a result tells which body ran: a fake returns a negative
    /// number, the engine-only replacements add 1000.
    /// <list type="bullet">
    /// <item><c>Plain1..3</c>: never faked (the baseline and the scope-only row).</item>
    /// <item><c>Same1..3</c>: faked by every test of rows (a) and (c), i.e. also by the previous test.</item>
    /// <item><c>Set0A..Set3C</c>: four sets of three; row (b) fakes one set per test in turn, so the previous test faked
    /// three other methods.</item>
    /// <item><c>Engine1..3</c>, <c>EngineM1..3</c>: redirected with <see cref="Engine"/> directly (rows without
    /// Hybrid.Testing: what the engine alone costs for the same three methods).</item>
    /// </list>
    /// Kept in the benchmarks assembly (not Hybrid.Benchmarks.Targets): nothing here is woven or copied.
    /// </summary>
    public static class TestLifecycleTargets
    {
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Plain1(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Plain2(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Plain3(int a, int b) => a + b + 3;

        [MethodImpl(MethodImplOptions.NoInlining)] public static int Same1(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Same2(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Same3(int a, int b) => a + b + 3;

        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set0A(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set0B(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set0C(int a, int b) => a + b + 3;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set1A(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set1B(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set1C(int a, int b) => a + b + 3;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set2A(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set2B(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set2C(int a, int b) => a + b + 3;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set3A(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set3B(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Set3C(int a, int b) => a + b + 3;

        [MethodImpl(MethodImplOptions.NoInlining)] public static int Engine1(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Engine2(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int Engine3(int a, int b) => a + b + 3;

        [MethodImpl(MethodImplOptions.NoInlining)] public static int EngineM1(int a, int b) => a + b + 1;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int EngineM2(int a, int b) => a + b + 2;
        [MethodImpl(MethodImplOptions.NoInlining)] public static int EngineM3(int a, int b) => a + b + 3;
    }

    /// <summary>Replacements for the engine-only rows: a static method, and an instance method for a closed delegate
    /// (Hybrid.Testing hands the engine a delegate closed over its per-method hub, which takes the engine's bridge path).</summary>
    public sealed class TestLifecycleReplacement
    {
        public int Offset = 1000;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public int Add(int a, int b) => a + b + Offset;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int AddStatic(int a, int b) => a + b + 1000;
    }
}
