using System;
using Hybrid.Targets;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>
/// A native redirect to a closure runs through a compiled bridge. A test suite redirects the same methods to new
/// closures in every test: bridges are reused once their redirect is gone, so each redirect does not compile one
/// (~100 µs) and the delegate slots do not grow without end.
/// </summary>
[NonParallelizable]
[Category(Categories.NativeOnly)] // bridges belong to the native path
public class BridgeReuseTests
{
    public static class Target
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        public static int Scale(int x) => x * 2;
    }

    private static readonly System.Reflection.MethodInfo Scale = typeof(Target).GetMethod(nameof(Target.Scale))!;

    [Test]
    public void ClosuresInOneTestAfterAnotherShareOneBridge()
    {
        using (Engine.Redirect(Scale, new Func<int, int>(x => x)))
            Assert.That(Target.Scale(1), Is.EqualTo(1));
        int bridges = DelegateBridges.Count;
        for (int test = 0; test < 200; test++)
        {
            int factor = test + 3; // a new closure each time, as a new test would make
            using (Engine.Redirect(Scale, new Func<int, int>(x => x * factor)))
                Assert.That(Target.Scale(5), Is.EqualTo(5 * factor), $"test {test}: the reused bridge calls this test's closure");
            Assert.That(Target.Scale(5), Is.EqualTo(10));
        }
        Assert.That(DelegateBridges.Count, Is.EqualTo(bridges), "no bridge was built after the first");
    }

    [Test]
    public void LiveRedirectsDoNotShareABridge()
    {
        int a = 7, b = 11;
        using var first = Engine.Redirect(Scale, new Func<int, int>(x => x * a));
        using (var second = Engine.Redirect(Scale, new Func<int, int>(x => x * b)))
        {
            Assert.That(Target.Scale(2), Is.EqualTo(22), "the newest wins");
            Assert.That(second.GetOriginal<Func<int, int>>()(2), Is.EqualTo(4));
        }
        Assert.That(Target.Scale(2), Is.EqualTo(14), "the first redirect's closure, through its own bridge");
        // A third closure while the first is live takes the second's bridge, not the first's.
        int c = 13;
        using (Engine.Redirect(Scale, new Func<int, int>(x => x * c)))
            Assert.That(Target.Scale(2), Is.EqualTo(26));
        Assert.That(Target.Scale(2), Is.EqualTo(14));
    }

    [Test]
    public void AFailedRedirectGivesItsBridgeBack()
    {
        var forced = Engine.ForcedStrategy;
        Engine.ForcedStrategy = RedirectStrategy.NativeJump;
        int bridges;
        try
        {
            using var refusing = FakeOs.RefusingCodeWrites();
            Assert.Throws<NotSupportedException>(() => Engine.Redirect(Scale, new Func<int, int>(x => -x)));
            bridges = DelegateBridges.Count;
            Assert.Throws<NotSupportedException>(() => Engine.Redirect(Scale, new Func<int, int>(x => -x - 1)));
        }
        finally
        {
            Engine.ForcedStrategy = forced;
        }
        Assert.That(DelegateBridges.Count, Is.EqualTo(bridges), "the refused attempt's bridge served the next attempt");
        using (Engine.Redirect(Scale, new Func<int, int>(x => -x)))
            Assert.That(Target.Scale(3), Is.EqualTo(-3));
    }
}
