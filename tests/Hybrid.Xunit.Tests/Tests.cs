using System;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;
using Hybrid.Testing;
using Xunit;

namespace Hybrid.Xunit.Tests;

/// <summary>The code under test: a static the tests fake (woven by this project, so the IL lanes can fake it too).</summary>
public static class Clock
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Year() => 2026;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Month() => 11;
}

/// <summary>
/// Fakes arranged in the constructor and in an async <c>InitializeAsync</c> — flows the test method does not inherit
/// async-locals from — belong to the test.
/// </summary>
[HybridFakes]
public sealed class AsyncSetUpTests : IAsyncLifetime
{
    private readonly Fake<int> _fromConstructor;
    private Fake<int>? _fromInitialize;

    public AsyncSetUpTests() => _fromConstructor = Fake.Of(() => Clock.Month()).Returns(2);

    public async ValueTask InitializeAsync()
    {
        await Task.Yield(); // an async set-up: its own async-local changes would end here
        _fromInitialize = Fake.Of(() => Clock.Year()).Returns(2030);
    }

    public ValueTask DisposeAsync()
    {
        // After the test: [HybridFakes] has disposed the test's scope.
        Assert.False(_fromInitialize!.IsActive);
        Assert.False(_fromConstructor.IsActive);
        return default;
    }

    [Fact]
    public async Task FakesFromInitializeAsyncAndTheConstructorAreSeenByTheTest()
    {
        Assert.Equal(2030, Clock.Year());
        Assert.Equal(2, Clock.Month());
        await Task.Delay(1, TestContext.Current.CancellationToken);
        Assert.Equal(2030, await Task.Run(() => Clock.Year(), TestContext.Current.CancellationToken)); // and by what the test starts
        Assert.StartsWith("test ", FakeScope.Current!.Name);
        Assert.Contains(nameof(FakesFromInitializeAsyncAndTheConstructorAreSeenByTheTest), FakeScope.Current!.Name);
        Assert.Equal(2, _fromInitialize!.CallCount);
    }
}

/// <summary>A fake a test leaves undisposed ends with the test: whichever of the two runs second checks the other's.</summary>
[HybridFakes]
public sealed class LeakTests
{
    private static Fake<int>? s_first, s_second;

    [Fact]
    public void First()
    {
        CheckGone(s_second);
        s_first = Fake.Of(() => Clock.Year()).Returns(1999);
        Assert.Equal(1999, Clock.Year());
    }

    [Fact]
    public void Second()
    {
        CheckGone(s_first);
        s_second = Fake.Of(() => Clock.Year()).Returns(2001);
        Assert.Equal(2001, Clock.Year());
    }

    private static void CheckGone(Fake<int>? other)
    {
        if (other is null)
            return; // this one runs first
        Assert.False(other.IsActive, "the other test's fake was disposed with its test");
        Assert.Equal(2026, Clock.Year());
    }
}

/// <summary>Two test classes are two collections, which xUnit runs in parallel: each sees only its own fake.</summary>
[HybridFakes]
public sealed class ParallelA
{
    [Fact]
    public async Task SeesOnlyItsOwnFake()
    {
        Fake.Of(() => Clock.Year()).Returns(3001);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(3001, Clock.Year());
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }
    }
}

[HybridFakes]
public sealed class ParallelB
{
    [Fact]
    public async Task SeesOnlyItsOwnFake()
    {
        Fake.Of(() => Clock.Year()).Returns(3002);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(3002, Clock.Year());
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>VerifyAllCalled: every fake of the test was called, so the test passes.</summary>
public sealed class VerifyTests
{
    [Fact, HybridFakes(VerifyAllCalled = true)]
    public void AFakeThatIsCalledPasses()
    {
        Fake.Of(() => Clock.Month()).Returns(7);
        Assert.Equal(7, Clock.Month());
    }
}

/// <summary>A class without [HybridFakes] (none on the assembly) keeps Hybrid.Testing's own scoping.</summary>
public sealed class WithoutTheAttribute
{
    [Fact]
    public void FakeOfBeginsAnImplicitScopeForTheTest()
    {
        using var fake = Fake.Of(() => Clock.Year()).Returns(1984);
        Assert.Equal(1984, Clock.Year());
        Assert.Equal("an implicit scope", FakeScope.Current!.Name);
    }
}
