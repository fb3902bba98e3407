using System.Runtime.CompilerServices;

namespace Hybrid.Benchmarks.Targets
{
    /// <summary>
    /// The called methods. All are <c>NoInlining</c>, so every call is a real call in woven and unwoven copies alike.
    /// The weaver is given exactly <see cref="Add"/>, <see cref="AddOpt"/>, <see cref="GuardStatic"/>,
    /// <see cref="GuardClosure"/> and <see cref="GuardPair"/>; everything else stays unwoven in the woven copy too.
    /// </summary>
    public static class Calls
    {
        /// <summary>Item 1: woven vs unwoven (NoInlining only; the weaver adds AggressiveOptimization).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Add(int a, int b) => a + b;

        /// <summary>Item 1, second baseline: already NoInlining | AggressiveOptimization before weaving, so woven and
        /// unwoven differ only by the guard (same JIT tier, same call path).</summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public static int AddOpt(int a, int b) => a + b;

        /// <summary>Item 2: redirected natively to <see cref="Replacements.Add"/>.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Native(int a, int b) => a - b;

        /// <summary>Item 2: redirected natively to a delegate with captured state (<see cref="Closure.Add"/>).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int NativeToDelegate(int a, int b) => a - b;

        /// <summary>Item 3: woven; redirected through its IL guard (Engine.Redirect, ILDispatch strategy) to the static <see cref="Replacements.Add"/>.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int GuardStatic(int a, int b) => a - b;

        /// <summary>Item 3: woven; redirected through its IL guard to a delegate of <see cref="Closure.Add"/> on a closure instance.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int GuardClosure(int a, int b) => a - b;

        /// <summary>Item 4: woven; installed and disposed through the engine's IL-guard strategy.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int GuardPair(int a, int b) => a * b;

        /// <summary>Item 5 baseline: never faked or redirected.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Plain(int a, int b) => a + b;

        /// <summary>Item 5: faked in a scope of another async flow; called from a flow without a scope.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int ScopedElsewhere(int a, int b) => a + b;

        /// <summary>Item 5: faked in the calling flow's own scope.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int ScopedHere(int a, int b) => a - b;

        /// <summary>Item 5: was faked; the fake and its scope were disposed before measuring.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int ScopedReleased(int a, int b) => a + b;

        /// <summary>Install/dispose pair benchmarks (item 4); hook created in setup.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Pair(int a, int b) => a * b;

        /// <summary>Install/dispose pair while another redirect of the same method stays live (item 4).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int PairShared(int a, int b) => a * b + 1;
    }

    /// <summary>Replacements, called directly as the baselines.</summary>
    public static class Replacements
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Add(int a, int b) => a + b;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Install(int x) => x;
    }

    /// <summary>A replacement with captured state, as a C# lambda closure would be.</summary>
    public sealed class Closure
    {
        public int Offset;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public int Add(int a, int b) => a + b + Offset;
    }

    /// <summary>
    /// The measured loops: each makes <c>n</c> direct calls, exactly as ordinary compiled code would. The benchmarks
    /// call a loop once per invocation with OperationsPerInvoke = n, so the loop overhead is identical on both sides
    /// of each comparison. In the woven copy these loops are not woven; they call the woven methods.
    /// </summary>
    public static class Loops
    {
        public static int Add(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.Add(i, 1); return s; }
        public static int AddOpt(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.AddOpt(i, 1); return s; }
        public static int Native(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.Native(i, 1); return s; }
        public static int NativeToDelegate(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.NativeToDelegate(i, 1); return s; }
        public static int GuardStatic(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.GuardStatic(i, 1); return s; }
        public static int GuardClosure(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.GuardClosure(i, 1); return s; }
        public static int Plain(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.Plain(i, 1); return s; }
        public static int ScopedElsewhere(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.ScopedElsewhere(i, 1); return s; }
        public static int ScopedHere(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.ScopedHere(i, 1); return s; }
        public static int ScopedReleased(int n) { int s = 0; for (int i = 0; i < n; i++) s += Calls.ScopedReleased(i, 1); return s; }
        public static int Replacement(int n) { int s = 0; for (int i = 0; i < n; i++) s += Replacements.Add(i, 1); return s; }
        public static int ClosureDirect(Closure c, int n) { int s = 0; for (int i = 0; i < n; i++) s += c.Add(i, 1); return s; }
    }
}
