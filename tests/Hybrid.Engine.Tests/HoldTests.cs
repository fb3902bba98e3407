using System;
using System.Runtime.CompilerServices;
using System.Threading;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>
/// A redirect must survive tiered compilation: 10^7 calls for a method that was hot (tier-1) before the redirect, one
/// that was never called, a virtual override, and ReadyToRun framework code. Calls run in batches with pauses so the
/// runtime's background tiering gets every chance to install new code.
/// </summary>
[NonParallelizable]
[Category(Categories.NativeOnly)] // targets live in this (unwoven) assembly and the subject is tier-up of native code
public class HoldTests
{
    private const int Calls = 10_000_000;
    private const int Batches = 10;

    public static class Targets
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Hot(int x) => x ^ 0x5A5A;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Cold(int x) => x ^ 0x3C3C;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Replacement(int x) => -1;
    }

    public class Base
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public virtual int Value(int x) => x + 1;
    }

    public sealed class Derived : Base
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public override int Value(int x) => x + 2;
    }

    public static int DerivedReplacement(Derived self, int x) => -1;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long CountHot(int n)
    {
        long wrong = 0;
        for (int i = 0; i < n; i++)
            if (Targets.Hot(i) != -1) wrong++;
        return wrong;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long CountCold(int n)
    {
        long wrong = 0;
        for (int i = 0; i < n; i++)
            if (Targets.Cold(i) != -1) wrong++;
        return wrong;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long CountVirtual(Base b, int n)
    {
        long wrong = 0;
        for (int i = 0; i < n; i++)
            if (b.Value(i) != -1) wrong++;
        return wrong;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long CountUtcNow(int n)
    {
        long wrong = 0;
        var expected = Replacements.FixedUtcNow();
        for (int i = 0; i < n; i++)
            if (DateTime.UtcNow != expected) wrong++;
        return wrong;
    }

    private static long InBatches(Func<int, long> run)
    {
        long wrong = 0;
        for (int b = 0; b < Batches; b++)
        {
            wrong += run(Calls / Batches);
            Thread.Sleep(120); // tiering's background worker and call-counting delay (100 ms) run in these gaps
        }
        return wrong;
    }

    [Test]
    public void HotMethodRedirectedAfterTierUpHolds()
    {
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 1_000_000; j++)
                Targets.Hot(j);
            Thread.Sleep(150);
        }
        using var r = Engine.Redirect(typeof(Targets).GetMethod(nameof(Targets.Hot))!, typeof(Targets).GetMethod(nameof(Targets.Replacement))!);
        Assert.That(InBatches(CountHot), Is.Zero, "calls that bypassed the redirect");
    }

    [Test]
    public void NeverCalledMethodRedirectedHoldsThroughTierUp()
    {
        using var r = Engine.Redirect(typeof(Targets).GetMethod(nameof(Targets.Cold))!, typeof(Targets).GetMethod(nameof(Targets.Replacement))!);
        Assert.That(InBatches(CountCold), Is.Zero, "calls that bypassed the redirect");
        Assert.That(r.GetOriginal<Func<int, int>>()(0x3C3C), Is.Zero, "the original still runs through GetOriginal");
    }

    [Test]
    public void VirtualOverrideCalledOnceThenRedirectedHolds()
    {
        Base b = new Derived();
        b.Value(1); // tier-0 body exists; the vtable slot points straight at it
        using var r = Engine.Redirect(typeof(Derived).GetMethod(nameof(Derived.Value))!, typeof(HoldTests).GetMethod(nameof(DerivedReplacement))!);
        Assert.That(InBatches(n => CountVirtual(b, n)), Is.Zero, "calls that bypassed the redirect");
    }

    [Test]
    public void ReadyToRunFrameworkMethodHolds()
    {
        var getter = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
        using var r = Engine.Redirect(getter, typeof(Replacements).GetMethod(nameof(Replacements.FixedUtcNow))!);
        Assert.That(InBatches(CountUtcNow), Is.Zero, "calls that bypassed the redirect");
    }
}

[NonParallelizable]
[Category(Categories.NativeOnly)]
public class InliningTests
{
    public static class Small
    {
        public static int Seven() => 7; // inlinable: no NoInlining
    }

    public static int Eight() => 8;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int CompiledAfterTheRedirect() => Small.Seven();

    [Test]
    public void CallersCompiledAfterTheRedirectDoNotInlineTheOriginal()
    {
        using var r = Engine.Redirect(typeof(Small).GetMethod(nameof(Small.Seven))!, typeof(InliningTests).GetMethod(nameof(Eight))!);
        // Fully optimised on first call, so the JIT would inline Seven() here if it were allowed to.
        Assert.That(CompiledAfterTheRedirect(), Is.EqualTo(8));
    }
}
