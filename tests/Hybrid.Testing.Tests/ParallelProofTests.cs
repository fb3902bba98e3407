using System;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Hybrid.Testing.Tests;

/// <summary>
/// The proof for issue 7: 60 tests run in parallel (LevelOfParallelism 8), and each fakes the same three methods —
/// DateTime.UtcNow (framework), Pricing.Discount (a NoInlining static standing in for a woven static; redirected
/// natively until the engine's IL-guard strategy is wired in) and Invoice.Total (an instance method, on one instance
/// shared by all tests) — with its own value, then checks many times, across awaits, Task.Run and thread hops,
/// that it sees only its own values and that its counters saw only its own calls. .ci/parallel-proof.sh runs it 20 times.
/// </summary>
[TestFixture, Parallelizable(ParallelScope.All), HybridFakes(VerifyAllCalled = true), Category("ParallelProof")]
public class ParallelProofTests
{
    private static readonly DateTime Epoch = new(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly Invoice Shared = new(1000m);

    [Test]
    public async Task EachTestSeesOnlyItsOwnFakes([Range(1, 60)] int n)
    {
        var clock = Fake.Of(() => DateTime.UtcNow).Returns(Epoch.AddDays(n));
        var discount = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(n);
        var total = Fake.Of((Invoice i) => i.Total()).Returns(n);
        var mine = new Invoice(n);
        var mineOnly = Fake.Of(() => mine.Total()).Returns(-n);

        int calls = 0;
        for (int round = 0; round < 25; round++)
        {
            Check();
            await Task.Yield();
            var fromChild = await Task.Run(() => { Check(); return (DateTime.UtcNow, Pricing.Discount(round), Shared.Total()); });
            Assert.That(fromChild, Is.EqualTo((Epoch.AddDays(n), n, (decimal)n)));
            calls += 2;
            if (round % 5 == 0)
                await Task.Delay(1);
            else
                Thread.Yield();
        }

        // Code that does not carry this test's context (a pre-existing worker) sees the originals meanwhile.
        Task<(int, decimal)> outside;
        using (ExecutionContext.SuppressFlow())
            outside = Task.Run(() => (Pricing.Discount(8), Shared.Total()));
        Assert.That(await outside, Is.EqualTo((1, 1200m)));

        Assert.That(discount.CallCount, Is.EqualTo(calls * 1 + calls / 2), "only this test's calls were counted");
        Assert.That(total.CallCount, Is.EqualTo(calls + calls / 2));
        Assert.That(mineOnly.CallCount, Is.EqualTo(calls));
        Assert.That(clock.CallCount, Is.GreaterThanOrEqualTo(calls + calls / 2));

        void Check()
        {
            Assert.That(DateTime.UtcNow, Is.EqualTo(Epoch.AddDays(n)));
            Assert.That(Pricing.Discount(0), Is.EqualTo(n));
            Assert.That(Shared.Total(), Is.EqualTo((decimal)n));
            Assert.That(mine.Total(), Is.EqualTo((decimal)-n));
        }
    }
}
