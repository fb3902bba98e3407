using System;
using System.Threading.Tasks;
using NUnit.Framework;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace Hybrid.Testing.Tests;

/// <summary>[HybridFakes] ends every fake with its test. The first two tests run in order: a fake left undisposed by one test must not reach the next.</summary>
[TestFixture, HybridFakes, NonParallelizable]
public class NUnitIntegrationTests
{
    private static Fake? s_leftBehind;
    private Fake? _fromSetUp;

    [SetUp]
    public async Task SetUp()
    {
        await Task.Yield();   // an async SetUp: its fakes still belong to the test's scope
        _fromSetUp = Fake.Of(() => Shapes.Maybe(Arg.Any<int>())).Returns(-5);
    }

    [TearDown]
    public void TearDown()
    {
        Assert.That(FakeScope.Current!.Name, Does.StartWith("test ").And.Contain(TestContext.CurrentContext.Test.Name));
        Assert.That(_fromSetUp!.IsActive, Is.True, "TearDown still runs inside the test's scope");
    }

    [Test, Order(1)]
    public void ATestThatForgetsToDispose()
    {
        s_leftBehind = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(1000);
        Assert.That(Pricing.Discount(1), Is.EqualTo(1000));
        Assert.That(Shapes.Maybe(3), Is.EqualTo(-5));
    }

    [Test, Order(2)]
    public void TheNextTestDoesNotSeeIt()
    {
        Assert.That(s_leftBehind!.IsActive, Is.False);
        Assert.That(Pricing.Discount(1), Is.EqualTo(1));
        Assert.That(Shapes.Maybe(3), Is.EqualTo(-5), "this test's own SetUp fake");
    }

    [Test]
    public void AFailingTestsFakesAreDisposedToo()
    {
        // Drive the attribute the way NUnit does around a test body that throws.
        var attribute = new HybridFakesAttribute();
        ITest test = TestExecutionContext.CurrentContext.CurrentTest;
        var outer = FakeScope.Current;
        Fake fake;
        attribute.BeforeTest(test);
        try
        {
            fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(7);
            Assert.That(fake.Scope, Is.Not.SameAs(outer));
            try
            {
                throw new InvalidOperationException("the test body failed");
            }
            catch (InvalidOperationException)
            {
            }
        }
        finally
        {
            attribute.AfterTest(test);
        }
        Assert.That(fake.IsActive, Is.False);
        Assert.That(FakeScope.Current, Is.SameAs(outer));
        Assert.That(Pricing.Discount(1), Is.EqualTo(1));
    }

    [Test]
    public void VerifyAllCalledFailsAPassingTestWithAnUnusedFake()
    {
        var attribute = new HybridFakesAttribute { VerifyAllCalled = true };
        ITest test = TestExecutionContext.CurrentContext.CurrentTest;
        attribute.BeforeTest(test);
        var unused = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(7);
        var used = Fake.Of(() => Pricing.Log(Arg.Any<string>()));
        Pricing.Log("x");
        var e = Assert.Throws<AssertionException>(() => attribute.AfterTest(test))!;
        Assert.That(e.Message, Does.Contain("VerifyAllCalled").And.Contain("Pricing.Discount(System.Int32)").And.Contain("never called").And.Not.Contain("Pricing.Log"));
        Assert.That(unused.IsActive || used.IsActive, Is.False, "disposed even though verification failed");
    }
}
