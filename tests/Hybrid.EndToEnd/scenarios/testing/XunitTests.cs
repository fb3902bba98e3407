using System.Threading.Tasks;
using Calendar;
using Hybrid.Testing;
using Xunit;

namespace Calendar.Tests;

[HybridFakes]
public class GreetingTests : IAsyncLifetime
{
    public async ValueTask InitializeAsync()
    {
        await Task.Yield();
        Fake.Of(() => Clock.Year()).Returns(2030);
    }

    public ValueTask DisposeAsync() => default;

    [Fact]
    public void TheFakeFromInitializeAsyncIsSeen() => Assert.Equal("Hello from the future, Ada", Greeting.For("Ada"));

    [Fact]
    public void EveryTestGetsItsOwn()
    {
        Fake.Of(() => Clock.Year()).Returns(2000);
        Assert.Equal("Hello, Ada", Greeting.For("Ada"));
    }
}
