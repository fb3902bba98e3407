using System;
using System.Linq;
using System.Reflection;
using Hybrid;
using NUnit.Framework;
using Shop;

namespace Shop.Tests;

public class CartTests
{
    static bool IsWoven(MethodBase m) => m.GetCustomAttributesData().Any(a => a.AttributeType.FullName == "Hybrid.Woven.HybridGuardAttribute");

    [Test]
    public void PatchableMethodIsWovenAndRedirected()
    {
        var priceOf = typeof(PriceList).GetMethod(nameof(PriceList.PriceOf))!;
        Assert.That(IsWoven(priceOf), Is.True, "Shop.PriceList.PriceOf carries no HybridGuard attribute: the <Patchable> item was not woven");
        Assert.That(new Cart().Total("ab", "cd"), Is.EqualTo(6m));

        using (var redirect = Engine.Redirect(priceOf, new Func<string, decimal>(_ => 10m)))
        {
            TestContext.Out.WriteLine($"e2e: redirected {priceOf.DeclaringType}.{priceOf.Name} with strategy {redirect.Strategy}");
            Assert.That(new Cart().Total("ab", "cd"), Is.EqualTo(20m));
        }
        Assert.That(new Cart().Total("ab", "cd"), Is.EqualTo(6m));
    }

    [Test]
    public void GlobSelectsEveryCartMethod()
    {
        Assert.That(IsWoven(typeof(Cart).GetMethod(nameof(Cart.Total))!), Is.True);
        Assert.That(IsWoven(typeof(Cart).GetMethod(nameof(Cart.Count))!), Is.True);
    }
}
