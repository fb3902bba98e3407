using System;
using System.Threading;
using System.Threading.Tasks;
using Hybrid.Testing.Internal;
using NUnit.Framework;

namespace Hybrid.Testing.Tests;

/// <summary>What sees a scoped fake and what does not. Each test manages its own scopes (no [HybridFakes]).</summary>
[TestFixture, NonParallelizable]
public class ScopeTests
{
    private static int Original(int customer) => customer % 7;

    [TearDown]
    public void NoScopeLeftBehind() => Assert.That(FakeScope.Current, Is.Null);

    [Test]
    public async Task TaskRunThreadsAndTimersStartedByTheTestSeeItsFakes()
    {
        using var scope = FakeScope.Begin();
        scope.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(40);
        Assert.That(await Task.Run(() => Pricing.Discount(1)), Is.EqualTo(40));
        int onThread = 0;
        var thread = new Thread(() => onThread = Pricing.Discount(1));
        thread.Start();
        thread.Join();
        Assert.That(onThread, Is.EqualTo(40));
        var fromPool = new TaskCompletionSource<int>();
        ThreadPool.QueueUserWorkItem(_ => fromPool.SetResult(Pricing.Discount(1)));
        Assert.That(await fromPool.Task, Is.EqualTo(40));
    }

    [Test]
    public async Task CodeThatDoesNotCarryTheTestsContextSeesTheOriginal()
    {
        using var scope = FakeScope.Begin();
        scope.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(40);
        Task<int> outside;
        using (ExecutionContext.SuppressFlow())       // like a worker started before the test
            outside = Task.Run(() => Pricing.Discount(1));
        Assert.That(await outside, Is.EqualTo(Original(1)));
    }

    [Test]
    public async Task ChildFlowSeesFakesAddedAfterItStarted()
    {
        using var scope = FakeScope.Begin();
        var started = new SemaphoreSlim(0);
        var go = new SemaphoreSlim(0);
        var child = Task.Run(async () =>
        {
            started.Release();
            await go.WaitAsync();
            return Pricing.Discount(1);
        });
        await started.WaitAsync();
        scope.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(41);
        go.Release();
        Assert.That(await child, Is.EqualTo(41));
    }

    [Test]
    public async Task SiblingFlowsWithTheirOwnScopesAreIsolated()
    {
        using var barrier = new Barrier(2);
        async Task<(int, int)> Sibling(int value)
        {
            await Task.Yield();
            using var mine = FakeScope.Begin("sibling " + value);
            mine.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(value);
            barrier.SignalAndWait();                // both fakes live at once
            int seen = Pricing.Discount(1);
            barrier.SignalAndWait();
            return (value, seen);
        }
        var results = await Task.WhenAll(Task.Run(() => Sibling(100)), Task.Run(() => Sibling(200)));
        foreach (var (value, seen) in results)
            Assert.That(seen, Is.EqualTo(value));
    }

    [Test]
    public async Task FakesMadeInAnAsyncHelperStayInTheBegunScope()
    {
        using var scope = FakeScope.Begin();
        await ArrangeAsync();
        Assert.That(Pricing.Discount(1), Is.EqualTo(43));

        static async Task ArrangeAsync()
        {
            await Task.Yield();
            Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(43);
        }
    }

    [Test]
    public async Task WithoutABegunScopeAnAsyncHelpersFakesEndWithTheHelper()
    {
        // Documented limit of the implicit scope: AsyncLocal changes made inside an async method do not flow back.
        Fake? made = null;
        await ArrangeAsync();
        Assert.That(Pricing.Discount(1), Is.EqualTo(Original(1)));
        made!.Dispose();

        async Task ArrangeAsync()
        {
            await Task.Yield();
            made = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(44);
            Assert.That(Pricing.Discount(1), Is.EqualTo(44));
        }
    }

    [Test]
    public void ImplicitScopeInASynchronousTestIsTheTestsFlow()
    {
        var fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(45);
        Assert.That(Pricing.Discount(1), Is.EqualTo(45));
        Assert.That(fake.Scope.Name, Is.EqualTo("an implicit scope"));
        fake.Scope.Dispose();
        Assert.That(Pricing.Discount(1), Is.EqualTo(Original(1)));
    }

    [Test]
    public void InnerScopeOverridesAndRestoresParent()
    {
        using var outer = FakeScope.Begin("outer");
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(1);
        using (var inner = FakeScope.Begin("inner"))
        {
            Assert.That(inner.Parent, Is.SameAs(outer));
            Assert.That(Pricing.Discount(0), Is.EqualTo(1), "the parent's fake is seen");
            Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(2);
            Assert.That(Pricing.Discount(0), Is.EqualTo(2));
        }
        Assert.That(FakeScope.Current, Is.SameAs(outer));
        Assert.That(Pricing.Discount(0), Is.EqualTo(1));
    }

    [Test]
    public async Task GlobalFakesAreSeenEverywhereButScopedFakesWin()
    {
        using var global = FakeScope.Global.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(50);
        Task<int> outside;
        using (ExecutionContext.SuppressFlow())
            outside = Task.Run(() => Pricing.Discount(1));
        Assert.That(await outside, Is.EqualTo(50));
        using (var scope = FakeScope.Begin())
        {
            scope.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(51);
            Assert.That(Pricing.Discount(1), Is.EqualTo(51));
        }
        Assert.That(Pricing.Discount(1), Is.EqualTo(50));
        global.Dispose();
        Assert.That(Pricing.Discount(1), Is.EqualTo(Original(1)));
        Assert.That(FakeScope.Global.Fakes, Is.Empty);
    }

    [Test]
    public void DisposedScopeRefusesNewFakes()
    {
        var scope = FakeScope.Begin("finished test");
        scope.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => scope.Of(() => Pricing.Discount(0)))!;
        Assert.That(e.Message, Does.Contain("finished test").And.Contain("Pricing.Discount"));
    }

    [Test]
    public void EngineRedirectLivesWhileSomeFakeUsesTheMethodAndGoesWhenIdle()
    {
        var method = typeof(Shapes).GetMethod(nameof(Shapes.Echo))!.MakeGenericMethod(typeof(Guid));
        var hub = MethodHub.For(method);
        Assert.That(hub.IsInstalled, Is.False);
        using (var scope = FakeScope.Begin())
        {
            var a = scope.Of<Guid>(method).Returns(Guid.Empty);
            var b = FakeScope.Global.Of<Guid>(method);
            Assert.That(hub.IsInstalled, Is.True);
            a.Dispose();
            Assert.That(hub.IsInstalled, Is.True, "the global fake still uses it");
            b.Dispose();
            Assert.That(hub.InUse, Is.False);
            Assert.That(hub.IsInstalled, Is.True, "kept for the next test, which likely fakes it again");
            var g1 = Guid.NewGuid();
            Assert.That(Shapes.Echo(g1), Is.EqualTo(g1), "no fake: the dispatcher runs the original");
            Assert.That(scope.Of<Guid>(method).Returns(Guid.Empty), Is.Not.Null);
            Assert.That(Shapes.Echo(g1), Is.EqualTo(Guid.Empty), "a fake made while the redirect stayed is seen at once");
        }
        Assert.That(FakeScope.RemoveIdleRedirects(), Is.GreaterThanOrEqualTo(1));
        Assert.That(hub.IsInstalled, Is.False);
        var g = Guid.NewGuid();
        Assert.That(Shapes.Echo(g), Is.EqualTo(g));
    }

    [Test]
    public void AnIdleRedirectGoesByItself()
    {
        var method = typeof(Shapes).GetMethod(nameof(Shapes.Echo))!.MakeGenericMethod(typeof(long));
        var hub = MethodHub.For(method);
        using (var scope = FakeScope.Begin())
            scope.Of<long>(method).Returns(-1L);
        Assert.That(hub.IsInstalled, Is.True);
        // Not a timing assertion: the timer fires after MethodHub.IdleMilliseconds; waiting up to 30 s allows for a loaded machine.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (hub.IsInstalled && waited.Elapsed < TimeSpan.FromSeconds(30))
            System.Threading.Thread.Sleep(20);
        Assert.That(hub.IsInstalled, Is.False, "removed once idle");
        Assert.That(waited.ElapsedMilliseconds, Is.GreaterThanOrEqualTo(MethodHub.IdleMilliseconds - 100), "not before the idle time");
        Assert.That(Shapes.Echo(5L), Is.EqualTo(5L));
    }
}
