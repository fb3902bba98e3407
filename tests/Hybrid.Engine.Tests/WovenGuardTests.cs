using System;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>The IL strategy and how the engine chooses between strategies.</summary>
[NonParallelizable]
public class WovenGuardTests
{
    private delegate int SumShape(ReadOnlySpan<int> values); // Func<> cannot take a ref struct before .NET 9

    private RedirectStrategy? _forced;
    private IDisposable? _os;

    [SetUp]
    public void Remember() => _forced = Engine.ForcedStrategy;

    [TearDown]
    public void Restore()
    {
        Engine.ForcedStrategy = _forced;
        _os?.Dispose();
        _os = null;
    }

    [Test]
    public void PinnedILRedirectsThroughTheGuardWithoutWritingCode()
    {
        Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
        using var writes = FakeOs.CountingCodeWrites();
        using (var r = Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Twice))!, typeof(Calc).GetMethod(nameof(Calc.TimesTen))!))
        {
            Assert.That(r.Strategy, Is.EqualTo(RedirectStrategy.ILDispatch));
            Assert.That(Calc.Twice(5), Is.EqualTo(50));
            Assert.That(r.GetOriginal<Func<int, int>>()(5), Is.EqualTo(10));
        }
        Assert.That(Calc.Twice(5), Is.EqualTo(10));
        Assert.That(writes.Writes, Is.Zero, "the IL path writes no code");
    }

    [Test]
    public void DelegatesOverEmittedCodeWorkOnTheGuard()
    {
        // Expression.Compile and Reflection.Emit give delegates over a DynamicMethod, which has no runtime MethodInfo.
        Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
        var twice = typeof(Calc).GetMethod(nameof(Calc.Twice))!;
        var x = System.Linq.Expressions.Expression.Parameter(typeof(int), "x");
        var compiled = System.Linq.Expressions.Expression.Lambda<Func<int, int>>(System.Linq.Expressions.Expression.Multiply(x, System.Linq.Expressions.Expression.Constant(7)), x).Compile();
        var emitted = new System.Reflection.Emit.DynamicMethod("Negate", typeof(int), new[] { typeof(int) });
        var il = emitted.GetILGenerator();
        il.Emit(System.Reflection.Emit.OpCodes.Ldarg_0);
        il.Emit(System.Reflection.Emit.OpCodes.Neg);
        il.Emit(System.Reflection.Emit.OpCodes.Ret);
        using (Engine.Redirect(twice, compiled))
        {
            Assert.That(Calc.Twice(3), Is.EqualTo(21));
            using (Engine.Redirect(twice, emitted.CreateDelegate(typeof(Func<int, int>))))
                Assert.That(Calc.Twice(3), Is.EqualTo(-3));
        }
        Assert.That(Calc.Twice(3), Is.EqualTo(6));
    }

    [Test]
    public void StackingOnTheGuardFollowsTheSameRules()
    {
        Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
        var twice = typeof(Calc).GetMethod(nameof(Calc.Twice))!;
        var a = Engine.Redirect(twice, typeof(Calc).GetMethod(nameof(Calc.TimesTen))!);
        var b = Engine.Redirect(twice, new Func<int, int>(x => -x));
        Assert.That(Calc.Twice(3), Is.EqualTo(-3));
        b.Dispose();
        Assert.That(Calc.Twice(3), Is.EqualTo(30));
        a.Dispose();
        Assert.That(Calc.Twice(3), Is.EqualTo(6));
    }

    [Test]
    public void PinnedILOnAnUnwovenMethodNamesThePatchableLine()
    {
        Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
        var e = Assert.Throws<NotSupportedException>(() => Engine.Redirect(typeof(Replacements).GetMethod(nameof(Replacements.Sum))!, new SumShape(_ => 0)))!;
        Assert.That(e.Message, Does.Contain("Replacements.Sum").And.Contain("pinned to ILDispatch (Engine.ForcedStrategy)")
            .And.Contain("<Patchable Include=\"Hybrid.Tests.Replacements.Sum\" />"));
        var plan = Engine.Explain(typeof(Replacements).GetMethod(nameof(Replacements.Sum))!);
        Assert.That(plan.CanRedirect, Is.False);
        Assert.That(plan.Summary, Does.Contain("<Patchable Include="));
    }

    [Test]
    public void FallsBackToTheGuardAutomaticallyWhenNativePatchingIsUnavailable()
    {
        Engine.ForcedStrategy = null;
        _os = FakeOs.RefusingNativePatching();
        using var writes = FakeOs.CountingCodeWrites();
        var plan = Engine.Explain(typeof(Calc).GetMethod(nameof(Calc.Thrice))!);
        Assert.That(plan.Strategy, Is.EqualTo(RedirectStrategy.ILDispatch));
        Assert.That(plan.Summary, Does.Contain("woven IL guard").And.Contain("enforces W^X").And.Contain("EACCES"));
        using (var r = Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Thrice))!, typeof(Calc).GetMethod(nameof(Calc.Minus))!))
        {
            Assert.That(r.Strategy, Is.EqualTo(RedirectStrategy.ILDispatch));
            Assert.That(Calc.Thrice(4), Is.EqualTo(-4));
        }
        Assert.That(writes.Writes, Is.Zero);
        var unwoven = Assert.Throws<NotSupportedException>(() => Engine.Redirect(typeof(Replacements).GetMethod(nameof(Replacements.Sum))!, new SumShape(_ => 0)))!;
        Assert.That(unwoven.Message, Does.Contain("enforces W^X").And.Contain("not woven").And.Contain("<Patchable Include=\"Hybrid.Tests.Replacements.Sum\" />"));
    }

    [Test]
    public void PinnedNativeRefusesInsteadOfSwitching()
    {
        Engine.ForcedStrategy = RedirectStrategy.NativeJump;
        _os = FakeOs.RefusingNativePatching();
        var e = Assert.Throws<NotSupportedException>(() => Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Thrice))!, typeof(Calc).GetMethod(nameof(Calc.Minus))!))!;
        Assert.That(e.Message, Does.Contain("pinned to NativeJump").And.Contain("enforces W^X"));
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void WovenMethodsPreferTheNativeJumpWhereItWorks()
    {
        Engine.ForcedStrategy = null;
        using var r = Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Square))!, typeof(Calc).GetMethod(nameof(Calc.Minus))!);
        Assert.That(r.Strategy, Is.EqualTo(RedirectStrategy.NativeJump));
        Assert.That(Calc.Square(3), Is.EqualTo(-3));
        Assert.That(Engine.Explain(typeof(Calc).GetMethod(nameof(Calc.Square))!).Summary, Does.Contain("fallback"));
    }

    [Test]
    public void CapabilityProbeMatchesTheEnvironment()
    {
        TestContext.Out.WriteLine($"native patching: {NativePatching.UnavailableReason ?? "available"}");
        if (Categories.Hardened)
        {
            Assert.That(NativePatching.UnavailableReason, Does.Contain("W^X").And.Contain("EACCES"));
            using var r = Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Add1))!, typeof(Calc).GetMethod(nameof(Calc.Minus))!);
            Assert.That(r.Strategy, Is.EqualTo(RedirectStrategy.ILDispatch), "chosen automatically, no override set");
            Assert.That(Calc.Add1(5), Is.EqualTo(-5));
        }
        else
        {
            Assert.That(NativePatching.UnavailableReason, Is.Null);
        }
    }

    [Test]
    public void EnvironmentVariableValues()
    {
        Engine.ForcedStrategy = null;
        var field = typeof(Engine).GetField("s_forcedSet", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        string? saved = Environment.GetEnvironmentVariable(Engine.StrategyVariable);
        try
        {
            field.SetValue(null, false);
            Environment.SetEnvironmentVariable(Engine.StrategyVariable, "IL");
            Assert.That(Engine.ForcedStrategy, Is.EqualTo(RedirectStrategy.ILDispatch));
            Environment.SetEnvironmentVariable(Engine.StrategyVariable, "native");
            Assert.That(Engine.ForcedStrategy, Is.EqualTo(RedirectStrategy.NativeJump));
            Environment.SetEnvironmentVariable(Engine.StrategyVariable, "auto");
            Assert.That(Engine.ForcedStrategy, Is.Null);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Engine.StrategyVariable, saved);
        }
    }
}
