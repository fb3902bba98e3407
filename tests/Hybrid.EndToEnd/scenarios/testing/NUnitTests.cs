using System.Threading.Tasks;
using Calendar;
using Hybrid.Testing;
using NUnit.Framework;

namespace Calendar.Tests;

[TestFixture, HybridFakes]
public class GreetingTests
{
    [SetUp]
    public async Task SetUp()
    {
        await Task.Yield();
        Fake.Of(() => Clock.Year()).Returns(2030);
    }

    [Test]
    public void TheFakeFromSetUpIsSeen() => Assert.That(Greeting.For("Ada"), Is.EqualTo("Hello from the future, Ada"));

    [Test]
    public void EveryTestGetsItsOwn()
    {
        Fake.Of(() => Clock.Year()).Returns(2000);
        Assert.That(Greeting.For("Ada"), Is.EqualTo("Hello, Ada"));
    }
}
