using System;
using System.IO;
using System.Linq;
using System.Linq.Expressions;
using NUnit.Framework;

namespace Hybrid.Testing.Tests;

[TestFixture, HybridFakes, NonParallelizable]
public class ShortcutTests
{
    [Test]
    public void ReturnsFixedValue()
    {
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(50);
        Assert.That(Pricing.Discount(1), Is.EqualTo(50));
        Assert.That(Pricing.Discount(2), Is.EqualTo(50));
    }

    [Test]
    public void ReturnsComputedPerCall()
    {
        int n = 0;
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(() => ++n);
        Assert.That(new[] { Pricing.Discount(0), Pricing.Discount(0), Pricing.Discount(0) }, Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [Test]
    public void SequenceWithRepeatCountsLikeApplyFuncSeq()
    {
        var fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>()))
            .ReturnsSequence(Outcome.Return(1, times: 2), 2, Outcome.Throw<int>(new IOException("down")), Outcome.Return(3, times: 2));
        Assert.That(Pricing.Discount(0), Is.EqualTo(1));
        Assert.That(Pricing.Discount(0), Is.EqualTo(1));
        Assert.That(Pricing.Discount(0), Is.EqualTo(2));
        Assert.Throws<IOException>(() => Pricing.Discount(0));
        Assert.That(Pricing.Discount(0), Is.EqualTo(3));
        Assert.That(Pricing.Discount(0), Is.EqualTo(3));
        var e = Assert.Throws<InvalidOperationException>(() => Pricing.Discount(0))!;
        Assert.That(e.Message, Does.Contain("Hybrid.Testing.Tests.Pricing.Discount(System.Int32)").And.Contain("used up").And.Contain("call #7").And.Contain("Outcome.Forever"));
        Assert.That(fake.CallCount, Is.EqualTo(7));
    }

    [Test]
    public void SequenceEndingForever()
    {
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).ReturnsSequence(1, Outcome.Return(9, Outcome.Forever));
        Assert.That(Enumerable.Range(0, 5).Select(Pricing.Discount), Is.EqualTo(new[] { 1, 9, 9, 9, 9 }));
    }

    [Test]
    public void SequenceRejectsForeverBeforeTheEnd()
    {
        var fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>()));
        var e = Assert.Throws<ArgumentException>(() => fake.ReturnsSequence(Outcome.Return(1, Outcome.Forever), 2))!;
        Assert.That(e.Message, Does.Contain("Forever outcome the last"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Outcome.Return(1, times: 0));
    }

    [Test]
    public void ThrowsAnException()
    {
        Fake.Of(() => File.ReadAllText(Arg.Any<string>())).Throws(new FileNotFoundException("nope"));
        Assert.Throws<FileNotFoundException>(() => File.ReadAllText("/etc/hostname"));
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Throws<TimeoutException>();
        Assert.Throws<TimeoutException>(() => Pricing.Discount(1));
    }

    [Test]
    public void CountsCallsAndRecordsArguments()
    {
        var fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>()));   // a spy: original behaviour, counted
        Assert.That(fake.CallCount, Is.Zero);
        Assert.That(fake.LastCall, Is.Null);
        Assert.That(Pricing.Discount(9), Is.EqualTo(2));
        Assert.That(Pricing.Discount(10), Is.EqualTo(3));
        Assert.That(fake.CallCount, Is.EqualTo(2));
        Assert.That(fake.LastArguments, Is.EqualTo(new object[] { 10 }));
        Assert.That(fake.Calls.Select(c => c.Arg<int>(0)), Is.EqualTo(new[] { 9, 10 }));
        Assert.That(fake.LastCall!.Number, Is.EqualTo(2));
        Assert.That(fake.LastCall.ToString(), Does.Contain("#2").And.Contain("Discount").And.Contain("10"));
    }

    [Test]
    public void DoesWithTypedArguments()
    {
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Does((int customer) => customer * 100);
        Assert.That(Pricing.Discount(4), Is.EqualTo(400));
        Fake.Of(() => Path.Combine(Arg.Any<string>(), Arg.Any<string>())).Does((string a, string b) => a + "|" + b);
        Assert.That(Path.Combine("x", "y"), Is.EqualTo("x|y"));
    }

    [Test]
    public void DoesWithCallObject()
    {
        var a = new Invoice(1);
        Fake.Of((Invoice i) => i.Total()).Does(call => ((Invoice)call.Instance!).Amount * 10);
        Assert.That(a.Total(), Is.EqualTo(10m));
    }

    [Test]
    public void CallsOriginalAgain()
    {
        var fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(-1);
        Assert.That(Pricing.Discount(8), Is.EqualTo(-1));
        fake.CallsOriginal();
        Assert.That(Pricing.Discount(8), Is.EqualTo(1));
        Assert.That(fake.CallCount, Is.EqualTo(2));
    }

    [Test]
    public void VoidMethod()
    {
        string? seen = null;
        var fake = Fake.Of(() => Pricing.Log(Arg.Any<string>())).Does(call => { seen = call.Arg<string>(0); });
        Pricing.LastLog = null;
        Pricing.Log("hi");
        Assert.That(seen, Is.EqualTo("hi"));
        Assert.That(Pricing.LastLog, Is.Null, "the original did not run");
        fake.VerifyCalled(1);
    }

    [Test]
    public void OneInstanceByCapturedSelector()
    {
        var a = new Invoice(10);
        var b = new Invoice(20);
        var fake = Fake.Of(() => a.Total()).Returns(0m);
        Assert.That(fake.Instance, Is.SameAs(a));
        Assert.That(a.Total(), Is.EqualTo(0m));
        Assert.That(b.Total(), Is.EqualTo(24m));
        Assert.That(fake.CallCount, Is.EqualTo(1));
    }

    [Test]
    public void OneInstanceByFor()
    {
        var a = new Invoice(10);
        var b = new Invoice(20);
        Fake.Of((Invoice i) => i.Total()).For(b).Returns(7m);
        Assert.That(a.Total(), Is.EqualTo(12m));
        Assert.That(b.Total(), Is.EqualTo(7m));
    }

    [Test]
    public void SpecificInstanceBeatsEveryInstanceWhateverTheOrder()
    {
        var a = new Invoice(10);
        var b = new Invoice(20);
        Fake.Of(() => a.Total()).Returns(1m);
        Fake.Of((Invoice i) => i.Total()).Returns(2m);
        Assert.That(a.Total(), Is.EqualTo(1m));
        Assert.That(b.Total(), Is.EqualTo(2m));
    }

    [Test]
    public void NewestFakeWinsAndDisposeFallsBack()
    {
        var first = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(1);
        var second = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(2);
        Assert.That(Pricing.Discount(0), Is.EqualTo(2));
        second.Dispose();
        Assert.That(Pricing.Discount(0), Is.EqualTo(1));
        first.Dispose();
        Assert.That(Pricing.Discount(8), Is.EqualTo(1), "original");
        Assert.That(first.IsActive, Is.False);
        Assert.Throws<ObjectDisposedException>(() => first.Returns(3));
    }

    [Test]
    public void VirtualMethodSelectedOnAnInstanceFakesItsOverride()
    {
        var note = new CreditNote(5);
        Fake.Of(() => note.Describe()).Returns("faked");
        Assert.That(note.Describe(), Is.EqualTo("faked"));
        Assert.That(new Invoice(5).Describe(), Is.EqualTo("invoice 5"));
    }

    [Test]
    public void VirtualMethodSelectedByParameterTypeFakesThatTypesBody()
    {
        Fake.Of((CreditNote n) => n.Describe()).Returns("every credit note");
        Assert.That(new CreditNote(1).Describe(), Is.EqualTo("every credit note"));
        Assert.That(new Invoice(1).Describe(), Is.EqualTo("invoice 1"));
    }

    [Test]
    public void InterfaceCallOnAnInstanceFakesTheImplementation()
    {
        IGreeter greeter = new Greeter();
        Fake.Of(() => greeter.Greet(Arg.Any<string>())).Does((string name) => "hi " + name);
        Assert.That(greeter.Greet("bob"), Is.EqualTo("hi bob"));
        Assert.That(new Greeter().Greet("bob"), Is.EqualTo("hello bob"));
    }

    [Test]
    public void ConstructorAndPropertyByReflection()
    {
        var getter = typeof(Invoice).GetProperty(nameof(Invoice.Amount))!.GetMethod!;
        Fake.Of<decimal>(getter).Returns(3m);
        Assert.That(new Invoice(100).Amount, Is.EqualTo(3m));
        var e = Assert.Throws<ArgumentException>(() => Fake.Of<int>(getter))!;
        Assert.That(e.Message, Does.Contain("returns System.Decimal, not System.Int32"));
    }

    [Test]
    public void ConstructorByReflectionRunsTheFakeInsteadOfTheBody()
    {
        var ctor = typeof(Invoice).GetConstructor(new[] { typeof(decimal) })!;
        object? built = null;
        var fake = Fake.Of(ctor).Does(call => { built = call.Instance; });
        var invoice = new Invoice(5);
        Assert.That(invoice.Amount, Is.Zero, "the constructor body did not run");
        Assert.That(built, Is.SameAs(invoice));
        Assert.That(fake.LastArguments, Is.EqualTo(new object[] { 5m }));
    }

    [Test]
    public void SelectorsWhoseResultDoesNotFitTheMethodAreRefused()
    {
        var ctor = Assert.Throws<ArgumentException>(() => Fake.Of(() => new Invoice(Arg.Any<decimal>())))!;
        Assert.That(ctor.Message, Does.Contain("constructor").And.Contain("GetConstructor"));
        Expression<Func<object>> boxed = () => Pricing.Discount(1);
        var cast = Assert.Throws<ArgumentException>(() => Fake.Of(boxed))!;
        Assert.That(cast.Message, Does.Contain("converts the result").And.Contain("System.Int32").And.Contain("System.Object"));
    }

    [Test]
    public void VerifyMessagesHelp()
    {
        var fake = Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Returns(1);
        var e = Assert.Throws<FakeVerificationException>(fake.VerifyCalled)!;
        Assert.That(e.Message, Does.Contain("Pricing.Discount(System.Int32)").And.Contain("never called").And.Contain("FakeScope.Global").And.Contain("inlined"));
        Pricing.Discount(1);
        fake.VerifyCalled();
        var again = Assert.Throws<FakeVerificationException>(() => fake.VerifyCalled(2))!;
        Assert.That(again.Message, Does.Contain("called 1 time(s), expected 2").And.Contain("#1"));
        Assert.Throws<FakeVerificationException>(fake.VerifyNotCalled);
    }

    [Test]
    public void SelectorErrorsNameTheProblemAndTheFix()
    {
        var field = Assert.Throws<ArgumentException>(() => Fake.Of(() => Shapes.Field))!;
        Assert.That(field.Message, Does.Contain("field").And.Contain("Shapes.Field").And.Contain("Fix"));
        var notCall = Assert.Throws<ArgumentException>(() => Fake.Of(() => 1 + Shapes.Field))!;
        Assert.That(notCall.Message, Does.Contain("not a method call").And.Contain("Fix"));
        Invoice? nothing = null;
        var nullInstance = Assert.Throws<ArgumentException>(() => Fake.Of(() => nothing!.Total()))!;
        Assert.That(nullInstance.Message, Does.Contain("null").And.Contain("(Hybrid.Testing.Tests.Invoice x) => x.Total"));
        var counter = new Counter();
        var structInstance = Assert.Throws<ArgumentException>(() => Fake.Of(() => counter.Next()))!;
        Assert.That(structInstance.Message, Does.Contain("struct values are copies"));
        var staticFor = Assert.Throws<InvalidOperationException>(() => Fake.Of(() => Pricing.Discount(0)).For(new object()))!;
        Assert.That(staticFor.Message, Does.Contain("is static"));
    }

    [Test]
    public void WrongResultTypeFromUntypedBehaviourIsReported()
    {
        var method = typeof(Pricing).GetMethod(nameof(Pricing.Discount))!;
        Fake.Of(method).Does(_ => "text");
        var e = Assert.Throws<InvalidCastException>(() => Pricing.Discount(1))!;
        Assert.That(e.Message, Does.Contain("returned a System.String").And.Contain("returns System.Int32"));
    }

    [Test]
    public void EngineRefusalsSurfaceUnchanged()
    {
        var e = Assert.Throws<ArgumentException>(() => Fake.Of((IGreeter g) => g.Greet(Arg.Any<string>())))!;
        Assert.That(e.Message, Does.Contain("interface").And.Contain("Fix"));
        Assert.That(FakeScope.Current!.Fakes, Is.Empty, "a failed fake leaves nothing behind");
    }
}
