using System;
using System.Reflection;
using NUnit.Framework;

namespace Hybrid.Tests;

public class SmokeTests
{
    [Test]
    public void StaticMethodIsRedirectedAndRestored()
    {
        var original = typeof(Calc).GetMethod(nameof(Calc.Twice))!;
        Assert.That(Calc.Twice(5), Is.EqualTo(10));
        using (var r = Engine.Redirect(original, typeof(Calc).GetMethod(nameof(Calc.TimesTen))!))
        {
            Assert.That(Calc.Twice(5), Is.EqualTo(50));
            Assert.That(r.GetOriginal<Func<int, int>>()(5), Is.EqualTo(10));
        }
        Assert.That(Calc.Twice(5), Is.EqualTo(10));
    }
}
