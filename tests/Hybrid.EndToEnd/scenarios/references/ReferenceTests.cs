using System;
using System.Linq;
using System.Reflection;
using Hybrid;
using Newtonsoft.Json;
using NUnit.Framework;

namespace Json.Tests;

public class ReferenceTests
{
    static bool IsWoven(MethodBase m) => m.GetCustomAttributesData().Any(a => a.AttributeType.FullName == "Hybrid.Woven.HybridGuardAttribute");

    [Test]
    public void NuGetAssemblyIsWovenInTheOutputAndRedirected()
    {
        var serialize = typeof(JsonConvert).GetMethod(nameof(JsonConvert.SerializeObject), new[] { typeof(object) })!;
        Assert.That(IsWoven(serialize), Is.True, $"JsonConvert.SerializeObject(object) is not woven; loaded from {typeof(JsonConvert).Assembly.Location}");
        Assert.That(JsonConvert.SerializeObject(new { A = 1 }), Is.EqualTo("{\"A\":1}"));
        using (var redirect = Engine.Redirect(serialize, new Func<object?, string>(_ => "redirected")))
        {
            TestContext.Out.WriteLine($"e2e: redirected JsonConvert.SerializeObject with strategy {redirect.Strategy}");
            Assert.That(JsonConvert.SerializeObject(new { A = 1 }), Is.EqualTo("redirected"));
        }
        Assert.That(JsonConvert.SerializeObject(new { A = 1 }), Is.EqualTo("{\"A\":1}"));
    }

    [Test]
    public void ProjectReferenceIsWovenInTheOutputAndRedirected()
    {
        var rateFor = typeof(Billing.TaxTable).GetMethod(nameof(Billing.TaxTable.RateFor))!;
        Assert.That(IsWoven(rateFor), Is.True, $"TaxTable.RateFor is not woven; loaded from {typeof(Billing.TaxTable).Assembly.Location}");
        using var redirect = Engine.Redirect(rateFor, new Func<string, decimal>(_ => 0.5m));
        Assert.That(Billing.TaxTable.RateFor("DE"), Is.EqualTo(0.5m));
    }
}
