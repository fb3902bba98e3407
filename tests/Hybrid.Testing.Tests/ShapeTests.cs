using System;
using NUnit.Framework;

namespace Hybrid.Testing.Tests;

[TestFixture, HybridFakes, NonParallelizable]
public class ShapeTests
{
    [Test]
    public void DoesWithWrongArgumentTypes_FailsWhenArranged()
    {
        // Not when the code under test calls it, with a message about an API the test never used.
        var fake = Fake.Of(() => System.IO.File.ReadAllText(Arg.Any<string>()));
        var e = Assert.Throws<ArgumentException>(() => fake.Does((int x) => "x"))!;
        Assert.That(e.Message, Does.Contain("Does((System.Int32) => ...) does not match").And.Contain("ReadAllText")
            .And.Contain("argument 0 ('path') is a System.String").And.Contain("Fix: write Does((System.String) => ...)"));
        var count = Assert.Throws<ArgumentException>(() => fake.Does((string a, string b) => a + b))!;
        Assert.That(count.Message, Does.Contain("takes 2 argument(s)").And.Contain("has 1"));
        fake.Does((object path) => "read " + path); // a wider type is fine
        Assert.That(System.IO.File.ReadAllText("f"), Is.EqualTo("read f"));
    }

    [Test]
    public void OutParameterSetByTheFake()
    {
        var fake = Fake.Of(() => Shapes.TryParse(Arg.Any<string>(), out Arg.Ref<int>.Value)).Does(call =>
        {
            call.SetArgument(1, 42);
            return true;
        });
        Assert.That(Shapes.TryParse("nonsense", out int value), Is.True);
        Assert.That(value, Is.EqualTo(42));
        Assert.That(fake.LastArguments, Is.EqualTo(new object?[] { "nonsense", 42 }));
    }

    [Test]
    public void OutParameterLeftAloneBecomesDefault()
    {
        Fake.Of(() => Shapes.TryParse(Arg.Any<string>(), out Arg.Ref<int>.Value)).Returns(false);
        int value = 7;
        Assert.That(Shapes.TryParse("5", out value), Is.False);
        Assert.That(value, Is.Zero);
    }

    [Test]
    public void RefParameterSeenAndWrittenBack()
    {
        var fake = Fake.Of(() => Shapes.Bump(ref Arg.Ref<int>.Value, Arg.Any<int>()))
            .Does(call => call.SetArgument(0, call.Arg<int>(0) * call.Arg<int>(1)));
        int value = 3;
        Shapes.Bump(ref value, 5);
        Assert.That(value, Is.EqualTo(15));
        Assert.That(fake.LastCall!.Arg<int>(1), Is.EqualTo(5));
        var e = Assert.Throws<InvalidOperationException>(() => fake.LastCall!.SetArgument(1, 0))!;
        Assert.That(e.Message, Does.Contain("only ref and out"));
    }

    [Test]
    public void SpyOnRefParameterRunsOriginalInPlace()
    {
        var fake = Fake.Of(() => Shapes.Bump(ref Arg.Ref<int>.Value, Arg.Any<int>()));
        int value = 3;
        Shapes.Bump(ref value, 5);
        Assert.That(value, Is.EqualTo(8));
        Assert.That(fake.CallCount, Is.EqualTo(1));
    }

    [Test]
    public void SpanArgumentsAreRecordedAsArrays()
    {
        var sum = Fake.Of(() => Shapes.Sum(Arg.Any<int[]>())).Returns(-1);
        Assert.That(Shapes.Sum(new[] { 1, 2, 3 }), Is.EqualTo(-1));
        Assert.That(sum.LastCall!.Arg<int[]>(0), Is.EqualTo(new[] { 1, 2, 3 }));

        var fill = Fake.Of(typeof(Shapes).GetMethod(nameof(Shapes.Fill))!);
        Span<byte> buffer = stackalloc byte[4];
        Assert.That(Shapes.Fill(buffer, 9), Is.EqualTo(4), "spy: the original ran on the caller's span");
        Assert.That(buffer.ToArray(), Is.EqualTo(new byte[] { 9, 9, 9, 9 }));
        Assert.That(fill.LastCall!.Arg<byte[]>(0), Has.Length.EqualTo(4));
    }

    [Test]
    public void RefStructReturnIsRefusedWithReason()
    {
        var e = Assert.Throws<NotSupportedException>(() => Fake.Of(typeof(Shapes).GetMethod(nameof(Shapes.Slice))!))!;
        Assert.That(e.Message, Does.Contain("Shapes.Slice(System.Byte[])").And.Contain("ref struct System.Span<System.Byte>").And.Contain("Engine.Redirect"));
    }

    [Test]
    public void StructInstanceMethod()
    {
        var fake = Fake.Of((Counter c) => c.Next()).Does(call => ((Counter)call.Instance!).Value + 100);
        var counter = new Counter { Value = 5 };
        Assert.That(counter.Next(), Is.EqualTo(105));
        Assert.That(fake.LastCall!.Instance, Is.EqualTo(new Counter { Value = 5 }));
        Assert.Throws<InvalidOperationException>(() => fake.For(counter));
    }

    [Test]
    public void NullableResultAndDefaults()
    {
        Fake.Of(() => Shapes.Maybe(Arg.Any<int>())).Returns(5);
        Assert.That(Shapes.Maybe(-1), Is.EqualTo(5));
        Fake.Of(() => Shapes.Maybe(Arg.Any<int>())).Returns((int?)null);
        Assert.That(Shapes.Maybe(1), Is.Null);
        Fake.Of(() => Pricing.Discount(Arg.Any<int>())).Does(_ => { });
        Assert.That(Pricing.Discount(3), Is.Zero, "Does(Action) on a non-void method returns the default");
    }

    [Test]
    public void GenericInstantiations()
    {
        Fake.Of(() => Shapes.Echo(Arg.Any<int>())).Returns(1);
        Fake.Of(() => Shapes.Echo(Arg.Any<string>())).Does((string s) => s.ToUpperInvariant());
        Assert.That(Shapes.Echo(7), Is.EqualTo(1));
        Assert.That(Shapes.Echo("abc"), Is.EqualTo("ABC"));
        Assert.That(Shapes.Echo(7L), Is.EqualTo(7L));
    }
}
