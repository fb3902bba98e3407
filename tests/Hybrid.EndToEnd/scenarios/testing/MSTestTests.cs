using System.Threading.Tasks;
using Calendar;
using Hybrid.Testing;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Calendar.Tests;

[TestClass]
public class GreetingTests : HybridFakesTest
{
    [TestInitialize]
    public async Task Arrange()
    {
        await Task.Yield();
        Fake.Of(() => Clock.Year()).Returns(2030);
    }

    [TestMethod]
    public void TheFakeFromTestInitializeIsSeen() => Assert.AreEqual("Hello from the future, Ada", Greeting.For("Ada"));

    [TestMethod]
    public void EveryTestGetsItsOwn()
    {
        Fake.Of(() => Clock.Year()).Returns(2000);
        Assert.AreEqual("Hello, Ada", Greeting.For("Ada"));
    }
}
