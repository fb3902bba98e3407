using System;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Hybrid.Testing.Tests;

[TestFixture, HybridFakes]
public class SmokeTests
{
    [Test]
    public async Task ClockStaticInstance()
    {
        var when = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var clock = Fake.Of(() => DateTime.UtcNow).Returns(when);
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(99);
        var a = new Invoice(10);
        var b = new Invoice(20);
        Fake.Of(() => a.Total()).Returns(1m);
        Assert.That(DateTime.UtcNow, Is.EqualTo(when));
        Assert.That(Pricing.Discount(3), Is.EqualTo(99));
        Assert.That(a.Total(), Is.EqualTo(1m));
        Assert.That(b.Total(), Is.EqualTo(24m));
        Assert.That(await Task.Run(() => DateTime.UtcNow), Is.EqualTo(when));
        Assert.That(clock.CallCount, Is.EqualTo(2));
    }
}
