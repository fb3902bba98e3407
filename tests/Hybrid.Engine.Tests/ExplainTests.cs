using System;
using NUnit.Framework;

namespace Hybrid.Tests;

[NonParallelizable]
[Category(Categories.NativeOnly)] // explains native plans for unwoven targets
public class ExplainTests
{
    public static class Small
    {
        public static int Id(int x) => x; // small, not NoInlining: likely inlined into callers
    }

    [Test]
    public void ExplainsANativeRedirectWithoutWritingCode()
    {
        RedirectPlan plan;
        using (var writes = FakeOs.CountingCodeWrites())
        {
            plan = Engine.Explain(typeof(Calc).GetMethod(nameof(Calc.Twice))!);
            Assert.That(writes.Writes, Is.Zero);
        }
        Assert.That(plan.CanRedirect, Is.True);
        Assert.That(plan.Strategy, Is.EqualTo(RedirectStrategy.NativeJump));
        Assert.That(plan.Summary, Does.Contain("Calc.Twice(System.Int32)").And.Contain("native jump"));
        Assert.That(Calc.Twice(4), Is.EqualTo(8));
    }

    public static class NeverRedirected
    {
        public static int Small(int x) => x;
    }

    [Test]
    public unsafe void LeavesTheMethodAsItFoundIt()
    {
        var method = typeof(NeverRedirected).GetMethod(nameof(NeverRedirected.Small))!;
        ushort Flags() => *(ushort*)(method.MethodHandle.Value + 6);
        RuntimeHelpersPrepare(method);
        const ushort notInline = 0x2000; // MethodDesc::m_wFlags, see engine/CoreClr/InliningBlock.cs
        Assert.That(Flags() & notInline, Is.Zero);
        Assert.That(Engine.Explain(method).CanRedirect, Is.True);
        Assert.That(Flags() & notInline, Is.Zero, "Explain does not mark the method not-inlinable");
        using (Engine.Redirect(method, new Func<int, int>(x => -x)))
            Assert.That(Flags() & notInline, Is.EqualTo(notInline), "Redirect does");
    }

    private static void RuntimeHelpersPrepare(System.Reflection.MethodBase m) => System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(m.MethodHandle);


    [Test]
    public void WarnsAboutLikelyInlining()
    {
        var plan = Engine.Explain(typeof(Small).GetMethod(nameof(Small.Id))!);
        Assert.That(plan.Warnings, Has.Some.Contains("inlined").And.Some.Contains("<Patchable Include=\"Hybrid.Tests.ExplainTests+Small.Id\" />"));
        Assert.That(Engine.Explain(typeof(Calc).GetMethod(nameof(Calc.Twice))!).Warnings, Has.None.Contains("inlined"), "NoInlining methods get no such warning");
    }

    [Test]
    public void WarnsWhereNoThreadFenceGuardsTheWrite()
    {
        var plan = Engine.Explain(typeof(Calc).GetMethod(nameof(Calc.Twice))!);
        if (Hybrid.Platform.Fence.UnavailableReason is null)
            Assert.That(plan.Warnings, Has.None.Contains("not stopped"));
        else
            Assert.That(plan.Warnings, Has.Some.Contains("Other threads are not stopped while the entry jump is written").And.Some.Contains("<Patchable"));
    }

    [Test]
    public void SaysWhatHappensWithSharedGenericCode()
    {
        var plan = Engine.Explain(typeof(Generic).GetMethod(nameof(Generic.Name))!.MakeGenericMethod(typeof(string)));
        Assert.That(plan.CanRedirect, Is.True);
        Assert.That(plan.Warnings, Has.Some.Contains("shared generic code").And.Some.Contains("only this instantiation"));
        var instance = Engine.Explain(typeof(Box<string>).GetMethod(nameof(Box<string>.Get))!);
        Assert.That(instance.Warnings, Has.Some.Contains("subclasses"));
        Assert.That(Engine.Explain(typeof(Box<int>).GetMethod(nameof(Box<int>.Get))!).Warnings, Has.None.Contains("shared"));
    }

    [Test]
    public void ExplainsRefusalsInsteadOfThrowing()
    {
        var plan = Engine.Explain(typeof(BadInputTests.AbstractBase).GetMethod(nameof(BadInputTests.AbstractBase.Value))!);
        Assert.That(plan.CanRedirect, Is.False);
        Assert.That(plan.Summary, Does.Contain("abstract").And.Not.Contain("(Parameter"));
        Assert.That(plan.ToString(), Does.StartWith(plan.Summary));
    }
}
