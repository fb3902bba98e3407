using System;
using System.Linq;
using System.Reflection;
using Hybrid;
using NUnit.Framework;
using Shop;

namespace Shop.Tests;

public class ReceiptTests
{
    [Test]
    public void FrameworkMethodSelectedInFodyWeaversIsRedirectedAtItsCallSites()
    {
        var utcNow = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
        var callSites = typeof(Receipt).Assembly.GetCustomAttributesData()
            .Where(a => a.AttributeType.FullName == "Hybrid.Woven.HybridCallSitesAttribute")
            .SelectMany(a => ((Type)a.ConstructorArguments[0].Value!).GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
            .SelectMany(t => t.GetCustomAttributesData().Where(x => x.AttributeType.FullName == "Hybrid.Woven.HybridCallSiteAttribute"))
            .Select(x => (string)x.ConstructorArguments[1].Value!)
            .ToList();
        Assert.That(callSites, Does.Contain("get_UtcNow"),
            "Shop.dll's call of DateTime.UtcNow carries no call-site guard: the Fody add-in did not weave it");
        using (var redirect = Engine.Redirect(utcNow, new Func<DateTime>(() => new DateTime(1999, 12, 31, 0, 0, 0, DateTimeKind.Utc))))
        {
            TestContext.Out.WriteLine($"e2e: redirected DateTime.get_UtcNow with strategy {redirect.Strategy}");
            Assert.That(Receipt.Stamp(), Is.EqualTo("issued 1999-12-31"));
        }
        Assert.That(Receipt.Stamp(), Is.Not.EqualTo("issued 1999-12-31"));
    }
}
