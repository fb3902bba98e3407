// The recipes quoted in docs/testing.md ("Testing with Hybrid"). Keep each recipe between its region markers
// self-contained: the doc shows exactly this code, and the test suite compiles and runs it.
using System;
using System.IO;
using System.Runtime.CompilerServices;
using Hybrid.Testing;
using NUnit.Framework;

namespace Hybrid.Testing.Tests.Recipes;

#region code-under-test
public static class Billing
{
    public static bool IsOverdue(DateTime dueUtc) => DateTime.UtcNow > dueUtc;

    public static string LoadCurrency(string configPath) =>
        File.Exists(configPath) ? File.ReadAllText(configPath).Trim() : "EUR";

    public static string NewOrderId() => "order-" + Guid.NewGuid().ToString("N")[..8];
}

public class Account
{
    public Account(decimal balance) => Balance = balance;

    public decimal Balance { get; }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public decimal AvailableCredit() => Balance * 2;
}

public class Exchange
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public virtual decimal Rate(string currency) => throw new IOException("no network in unit tests");

    /// <summary>Retries twice on I/O errors.</summary>
    public decimal RateWithRetry(string currency)
    {
        for (int attempt = 1; ; attempt++)
        {
            try { return Rate(currency); }
            catch (IOException) when (attempt < 3) { }
        }
    }
}
#endregion

#region recipes
[TestFixture, Parallelizable(ParallelScope.All), HybridFakes]
public class Recipes
{
    // 1. Clock: every DateTime.UtcNow in this test (and what it awaits or starts) is 1 March 2030.
    [Test]
    public void Clock()
    {
        Fake.Of(() => DateTime.UtcNow).Returns(new DateTime(2030, 3, 1, 0, 0, 0, DateTimeKind.Utc));

        Assert.That(Billing.IsOverdue(new DateTime(2030, 2, 28)), Is.True);
        Assert.That(Billing.IsOverdue(new DateTime(2030, 3, 2)), Is.False);
    }

    // 2. File system: no file is touched; the fakes see the path the code asked for.
    [Test]
    public void FileSystem()
    {
        Fake.Of(() => File.Exists(Arg.Any<string>())).Returns(true);
        var read = Fake.Of(() => File.ReadAllText(Arg.Any<string>())).Does((string path) => path.EndsWith(".cfg") ? " CHF\n" : "");

        Assert.That(Billing.LoadCurrency("/etc/billing.cfg"), Is.EqualTo("CHF"));
        Assert.That(read.LastCall!.Arg<string>(0), Is.EqualTo("/etc/billing.cfg"));
    }

    // 3. Static third-party call: deterministic Guid.NewGuid(), and proof it was called once.
    [Test]
    public void StaticThirdPartyCall()
    {
        var newGuid = Fake.Of(() => Guid.NewGuid()).Returns(Guid.Parse("12345678-0000-0000-0000-000000000000"));

        Assert.That(Billing.NewOrderId(), Is.EqualTo("order-12345678"));
        newGuid.VerifyCalled(1);
    }

    // 4. One instance: only `rich` is faked; every other Account runs the real method.
    [Test]
    public void OneInstance()
    {
        var rich = new Account(10);
        var poor = new Account(10);
        Fake.Of(() => rich.AvailableCredit()).Returns(1_000_000m);

        Assert.That(rich.AvailableCredit(), Is.EqualTo(1_000_000m));
        Assert.That(poor.AvailableCredit(), Is.EqualTo(20m));
    }

    // 5. Sequence: fail twice, then succeed — like gomonkey's ApplyFuncSeq with OutputCell{Values, Times}.
    [Test]
    public void Sequence()
    {
        var rate = Fake.Of((Exchange e) => e.Rate(Arg.Any<string>()))
            .ReturnsSequence(Outcome.Throw<decimal>(new IOException("timeout"), times: 2), 1.08m);

        Assert.That(new Exchange().RateWithRetry("USD"), Is.EqualTo(1.08m));
        Assert.That(rate.CallCount, Is.EqualTo(3));
        Assert.That(rate.LastArguments, Is.EqualTo(new object[] { "USD" }));
    }
}
#endregion
