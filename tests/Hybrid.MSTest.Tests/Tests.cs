using System.Runtime.CompilerServices;
using System.Threading.Tasks;
using Hybrid.Testing;
using Microsoft.VisualStudio.TestTools.UnitTesting;

[assembly: Parallelize(Workers = 2, Scope = ExecutionScope.ClassLevel)]

namespace Hybrid.MSTest.Tests;

/// <summary>The code under test: a static the tests fake (woven by this project, so the IL lanes can fake it too).</summary>
public static class Clock
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Year() => 2026;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Month() => 11;
}

/// <summary>Fakes arranged in an async [TestInitialize], before and after its first await, belong to the test, and end with it.</summary>
[TestClass]
public sealed class SetUpTests : HybridFakesTest
{
    private Fake<int>? _fromAsyncInit, _fromSyncInit;

    [TestInitialize]
    public async Task ArrangeAsync()
    {
        _fromSyncInit = Fake.Of(() => Clock.Month()).Returns(2);
        await Task.Yield(); // an async set-up: its own async-local changes would end here
        _fromAsyncInit = Fake.Of(() => Clock.Year()).Returns(2030);
    }

    [TestCleanup]
    public void StillLiveInCleanUp()
    {
        Assert.IsTrue(_fromAsyncInit!.IsActive, "TestCleanup runs inside the test's scope");
        Assert.AreEqual(2030, Clock.Year());
    }

    [TestMethod]
    public async Task FakesFromTestInitializeAreSeenByTheTest()
    {
        Assert.AreEqual(2030, Clock.Year());
        Assert.AreEqual(2, Clock.Month());
        Assert.AreEqual(2030, await Task.Run(() => Clock.Year())); // and by what the test starts
        Assert.StartsWith("test ", FakeScope.Current!.Name);
        Assert.AreSame(Fakes, FakeScope.Current);
        Assert.AreEqual(2, _fromAsyncInit!.CallCount);
        Assert.IsTrue(_fromSyncInit!.IsActive);
    }
}

/// <summary>A fake a test leaves undisposed ends with the test: whichever of the two runs second checks the other's.</summary>
[TestClass]
public sealed class LeakTests : HybridFakesTest
{
    private static Fake<int>? s_first, s_second;

    [TestMethod]
    public void First()
    {
        CheckGone(s_second);
        s_first = Fake.Of(() => Clock.Year()).Returns(1999);
        Assert.AreEqual(1999, Clock.Year());
    }

    [TestMethod]
    public void Second()
    {
        CheckGone(s_first);
        s_second = Fake.Of(() => Clock.Year()).Returns(2001);
        Assert.AreEqual(2001, Clock.Year());
    }

    private static void CheckGone(Fake<int>? other)
    {
        if (other is null)
            return; // this one runs first
        Assert.IsFalse(other.IsActive, "the other test's fake was disposed with its test");
        Assert.AreEqual(2026, Clock.Year());
    }
}

/// <summary>Classes run in parallel (assembly attribute): each sees only its own fake.</summary>
[TestClass]
public sealed class ParallelA : HybridFakesTest
{
    [TestMethod]
    public async Task SeesOnlyItsOwnFake()
    {
        Fake.Of(() => Clock.Year()).Returns(3001);
        for (int i = 0; i < 20; i++)
        {
            Assert.AreEqual(3001, Clock.Year());
            await Task.Delay(2);
        }
    }
}

[TestClass]
public sealed class ParallelB : HybridFakesTest
{
    [TestMethod]
    public async Task SeesOnlyItsOwnFake()
    {
        Fake.Of(() => Clock.Year()).Returns(3002);
        for (int i = 0; i < 20; i++)
        {
            Assert.AreEqual(3002, Clock.Year());
            await Task.Delay(2);
        }
    }
}

/// <summary>VerifyAllCalled: every fake of the test was called, so the test passes.</summary>
[TestClass]
public sealed class VerifyTests : HybridFakesTest
{
    protected override bool VerifyAllCalled => true;

    [TestMethod]
    public void AFakeThatIsCalledPasses()
    {
        Fake.Of(() => Clock.Month()).Returns(7);
        Assert.AreEqual(7, Clock.Month());
    }
}
