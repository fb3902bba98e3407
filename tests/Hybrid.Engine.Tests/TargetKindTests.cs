using System;
using System.Linq;
using System.Threading;
using System.IO;
using System.Reflection;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>Every kind of method the engine must redirect natively, each checked before, during and after.</summary>
[NonParallelizable]
public class TargetKindTests
{
    private static MethodInfo R(string name) => typeof(Replacements).GetMethod(name)!;

    [Test]
    public void Static()
    {
        using (var r = Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Twice))!, typeof(Calc).GetMethod(nameof(Calc.TimesTen))!))
        {
            Assert.That(Calc.Twice(5), Is.EqualTo(50));
            Assert.That(r.Strategy, Is.EqualTo(Categories.ExpectedStrategy));
            Assert.That(r.GetOriginal<Func<int, int>>()(5), Is.EqualTo(10));
        }
        Assert.That(Calc.Twice(5), Is.EqualTo(10));
    }

    [Test]
    public void StaticWithDelegateCapturingState()
    {
        int seen = 0;
        using (Engine.Redirect(typeof(Calc).GetMethod(nameof(Calc.Square))!, new Func<int, int>(x => { seen = x; return -7; })))
        {
            Assert.That(Calc.Square(9), Is.EqualTo(-7));
            Assert.That(seen, Is.EqualTo(9));
        }
        Assert.That(Calc.Square(9), Is.EqualTo(81));
    }

    [Test]
    public void InstanceNonVirtual()
    {
        var animal = new Animal("cat");
        using (var r = Engine.Redirect(typeof(Animal).GetMethod(nameof(Animal.Name))!, R(nameof(Replacements.AnimalName))))
        {
            Assert.That(animal.Name(), Is.EqualTo("fake"));
            Assert.That(r.GetOriginal<Func<Animal, string>>()(animal), Is.EqualTo("cat"));
        }
        Assert.That(animal.Name(), Is.EqualTo("cat"));
    }

    [Test]
    public void VirtualOverrideThroughBaseReference()
    {
        Animal dog = new Dog();
        Animal generic = new Animal("x");
        using (Engine.Redirect(typeof(Dog).GetMethod(nameof(Dog.Sound))!, R(nameof(Replacements.DogSound))))
        {
            Assert.That(dog.Sound(), Is.EqualTo("meow"));
            Assert.That(generic.Sound(), Is.EqualTo("..."), "only the override is redirected");
        }
        Assert.That(dog.Sound(), Is.EqualTo("woof"));
    }

    [Test]
    public void InterfaceImplementationThroughInterface()
    {
        IShape shape = new Square();
        Assert.That(shape.Area(), Is.EqualTo(4));
        using (Engine.Redirect(typeof(Square).GetMethod(nameof(Square.Area))!, R(nameof(Replacements.SquareArea))))
            Assert.That(shape.Area(), Is.EqualTo(-1));
        Assert.That(shape.Area(), Is.EqualTo(4));
    }

    [Test]
    public void StructInstanceMethodGetsThisByRef()
    {
        var counter = new Counter { Value = 100 };
        using (var r = Engine.Redirect(typeof(Counter).GetMethod(nameof(Counter.Next))!, R(nameof(Replacements.CounterNext))))
        {
            Assert.That(counter.Next(), Is.EqualTo(90));
            Assert.That(counter.Value, Is.EqualTo(90), "the replacement mutated the caller's struct through ref this");
            var original = r.GetOriginal<CounterNext>();
            Assert.That(original(ref counter), Is.EqualTo(91));
        }
        Assert.That(counter.Next(), Is.EqualTo(92));
    }

    public delegate int CounterNext(ref Counter self);

    [Test]
    public void GenericMethodValueTypeInstantiationOnly()
    {
        var ofInt = typeof(Generic).GetMethod(nameof(Generic.Name))!.MakeGenericMethod(typeof(int));
        using (Engine.Redirect(ofInt, R(nameof(Replacements.GenericNameOfInt))))
        {
            Assert.That(Generic.Name<int>(), Is.EqualTo("redirected int"));
            Assert.That(Generic.Name<long>(), Is.EqualTo("Int64"));
            Assert.That(Generic.Name<string>(), Is.EqualTo("String"));
        }
        Assert.That(Generic.Name<int>(), Is.EqualTo("Int32"));
    }

    [Test]
    public void GenericMethodReferenceTypeInstantiationOnly()
    {
        Assert.That(Generic.Name<object>(), Is.EqualTo("Object"));
        var ofString = typeof(Generic).GetMethod(nameof(Generic.Name))!.MakeGenericMethod(typeof(string));
        using (var r = Engine.Redirect(ofString, R(nameof(Replacements.GenericNameOfString))))
        {
            Assert.That(Generic.Name<string>(), Is.EqualTo("redirected string"));
            Assert.That(Generic.Name<object>(), Is.EqualTo("Object"), "shares the code of Name<string> but is another instantiation");
            Assert.That(Generic.Name<Uri>(), Is.EqualTo("Uri"));
            Assert.That(r.GetOriginal<Func<string>>()(), Is.EqualTo("String"));
        }
        Assert.That(Generic.Name<string>(), Is.EqualTo("String"));
    }

    [Test]
    public void SharedGenericMethodReturningStructThroughHiddenBuffer()
    {
        Assert.That(Generic.MakeBig<object>(1).B, Is.EqualTo(6));
        var ofString = typeof(Generic).GetMethod(nameof(Generic.MakeBig))!.MakeGenericMethod(typeof(string));
        using (var r = Engine.Redirect(ofString, R(nameof(Replacements.MakeBigOfString))))
        {
            var big = Generic.MakeBig<string>(3);
            Assert.That((big.A, big.D), Is.EqualTo((300L, 99L)));
            Assert.That(Generic.MakeBig<object>(1).B, Is.EqualTo(6));
            Assert.That(r.GetOriginal<Func<long, Big>>()(5).A, Is.EqualTo(5));
        }
    }

    [Test]
    public void MethodOfGenericTypeValueAndReferenceInstantiations()
    {
        var ints = new Box<int>(5);
        var strings = new Box<string>("s");
        var objects = new Box<object>("o");
        using (Engine.Redirect(typeof(Box<int>).GetMethod(nameof(Box<int>.Get))!, R(nameof(Replacements.BoxIntGet))))
        using (Engine.Redirect(typeof(Box<string>).GetMethod(nameof(Box<string>.Get))!, R(nameof(Replacements.BoxStringGet))))
        {
            Assert.That(ints.Get(), Is.EqualTo(-5));
            Assert.That(strings.Get(), Is.EqualTo("[s]"));
            Assert.That(objects.Get(), Is.EqualTo("o"), "Box<object> shares Box<string>'s code but is not redirected");
            Assert.That(new Box<long>(5).Get(), Is.EqualTo(5));
        }
        Assert.That((ints.Get(), strings.Get()), Is.EqualTo((5, "s")));
    }

    [Test]
    public void StaticMethodOfSharedGenericType()
    {
        using (var r = Engine.Redirect(typeof(Box<string>).GetMethod(nameof(Box<string>.Kind))!, R(nameof(Replacements.BoxKind))))
        {
            Assert.That(Box<string>.Kind(), Is.EqualTo("fake box"));
            Assert.That(Box<object>.Kind(), Is.EqualTo("box of Object"));
            Assert.That(r.GetOriginal<Func<string>>()(), Is.EqualTo("box of String"));
        }
        Assert.That(Box<string>.Kind(), Is.EqualTo("box of String"));
    }

    [Test]
    public void InstanceMethodOfSharedGenericTypeReturningBigStruct()
    {
        var box = new Box<string>("x");
        using (var r = Engine.Redirect(typeof(Box<string>).GetMethod(nameof(Box<string>.Wide))!, R(nameof(Replacements.BoxWide))))
        {
            var big = box.Wide(8);
            Assert.That((big.A, big.B, big.C, big.D), Is.EqualTo((-8L, -2L, -3L, -4L)));
            Assert.That(new Box<object>("y").Wide(8).A, Is.EqualTo(8));
            Assert.That(r.GetOriginal<Func<Box<string>, long, Big>>()(box, 9).D, Is.EqualTo(7));
        }
    }

    [Test]
    public void Constructor()
    {
        var ctor = typeof(Widget).GetConstructor(new[] { typeof(string) })!;
        int before = Widget.Built;
        using (var r = Engine.Redirect(ctor, R(nameof(Replacements.WidgetCtor))))
        {
            var w = new Widget("a");
            Assert.That(w.Label, Is.Null, "the original constructor body did not run");
            Assert.That(Replacements.LastWidgetLabel, Is.EqualTo("a"));
            Assert.That(Widget.Built, Is.EqualTo(before));
        }
        Assert.That(new Widget("b").Label, Is.EqualTo("b"));
    }

    [Test]
    public void PropertyGetterAndSetter()
    {
        var animal = new Animal("a");
        var property = typeof(Animal).GetProperty(nameof(Animal.Legs))!;
        using (Engine.Redirect(property.GetMethod!, R(nameof(Replacements.LegsGet))))
        using (Engine.Redirect(property.SetMethod!, R(nameof(Replacements.LegsSet))))
        {
            animal.Legs = 2;
            Assert.That(Replacements.LastLegs, Is.EqualTo(200));
            Assert.That(animal.Legs, Is.EqualTo(3));
        }
        animal.Legs = 6;
        Assert.That(animal.Legs, Is.EqualTo(6));
    }

    [Test]
    public void RefOutInParameters()
    {
        int calls = 0;
        using (Engine.Redirect(typeof(Shapes).GetMethod(nameof(Shapes.TryParse))!, R(nameof(Replacements.TryParse))))
        {
            Assert.That(Shapes.TryParse("1", out int value, ref calls, 2), Is.True);
            Assert.That((value, calls), Is.EqualTo((4244, 100)));
        }
        Assert.That(Shapes.TryParse("1", out int again, ref calls, 0), Is.True);
        Assert.That((again, calls), Is.EqualTo((1, 101)));
    }

    [Test]
    public void SpanParameter()
    {
        using (Engine.Redirect(typeof(Shapes).GetMethod(nameof(Shapes.Sum))!, R(nameof(Replacements.Sum))))
            Assert.That(Shapes.Sum(new[] { 1, 2, 3 }), Is.EqualTo(3000));
        Assert.That(Shapes.Sum(new[] { 1, 2, 3 }), Is.EqualTo(6));
    }

    [Test]
    public void StructReturn()
    {
        using (Engine.Redirect(typeof(Shapes).GetMethod(nameof(Shapes.MakeBig))!, R(nameof(Replacements.MakeBig))))
            Assert.That(Shapes.MakeBig(4).D, Is.EqualTo(-4));
        Assert.That(Shapes.MakeBig(4).D, Is.EqualTo(7));
    }

    [Test]
    public void RefReturn()
    {
        var values = new[] { 1, 2, 3 };
        using (Engine.Redirect(typeof(Shapes).GetMethod(nameof(Shapes.Pick))!, R(nameof(Replacements.Pick))))
            Assert.That(Shapes.Pick(values, 1), Is.EqualTo(8));
        Assert.That(Shapes.Pick(values, 1), Is.EqualTo(2));
    }

    [Test]
    [Category(Categories.FrameworkMethod)]
    public void FrameworkDateTimeUtcNow()
    {
        var getter = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
        using (var r = Engine.Redirect(getter, R(nameof(Replacements.FixedUtcNow))))
        {
            Assert.That(DateTime.UtcNow, Is.EqualTo(Replacements.FixedUtcNow()));
            Assert.That(r.GetOriginal<Func<DateTime>>()().Year, Is.GreaterThan(2020));
        }
        Assert.That(DateTime.UtcNow.Year, Is.GreaterThan(2020));
    }

    [Test]
    [Category(Categories.FrameworkMethod)]
    public void FrameworkGuidNewGuid()
    {
        using (Engine.Redirect(typeof(Guid).GetMethod(nameof(Guid.NewGuid))!, R(nameof(Replacements.FixedGuid))))
            Assert.That(Guid.NewGuid(), Is.EqualTo(Replacements.FixedGuid()));
        Assert.That(Guid.NewGuid(), Is.Not.EqualTo(Replacements.FixedGuid()));
    }

    [Test]
    [Category(Categories.FrameworkMethod)]
    public void WovenCallSitesMadeHotBeforeANativeRedirectSeeIt()
    {
        // This assembly's calls to Guid.NewGuid go through a call-site guard (its csproj weaves them). Made hot, that
        // guard is compiled at tier 1, and the JIT may inline NewGuid into it (arm64 .NET 9 did): the jump in NewGuid's
        // body then never runs for these calls. A native redirect therefore fills the call-site slots as well.
        var newGuid = typeof(Guid).GetMethod(nameof(Guid.NewGuid))!;
        for (int round = 0; round < 20; round++)
        {
            for (int i = 0; i < 100; i++)
                Guid.NewGuid();
            Thread.Sleep(10); // the tiering worker compiles in the background
        }
        var slots = Woven.CallSiteGuards.SlotsFor(newGuid);
        Assert.That(slots, Is.Not.Empty, "this assembly is woven at its Guid.NewGuid call sites");
        Redirection? seen = null;
        using (var r = Engine.Redirect(newGuid, new Func<Guid>(() => seen!.GetOriginal<Func<Guid>>()() == Guid.Empty ? Guid.Empty : Replacements.FixedGuid())))
        {
            seen = r;
            Assert.That(Guid.NewGuid(), Is.EqualTo(Replacements.FixedGuid()), "a woven call site, hot before the redirect; GetOriginal from there runs the original");
            if (r.Strategy == RedirectStrategy.NativeJump)
                Assert.That(newGuid.Invoke(null, null), Is.EqualTo(Replacements.FixedGuid()), "a call that is not woven (reflection) reaches the jump");
            else
                Assert.That(newGuid.Invoke(null, null), Is.Not.EqualTo(Replacements.FixedGuid()), "the IL guard serves woven call sites only");
            Assert.That(slots.Select(s => s.GetValue(null)), Is.All.Not.Null, $"{r.Strategy}: the call-site slots are filled");
        }
        Assert.That(slots.Select(s => s.GetValue(null)), Is.All.Null, "disposed: the call-site slots are empty again");
        Assert.That(Guid.NewGuid(), Is.Not.EqualTo(Replacements.FixedGuid()));
    }

    [Test]
    [Category(Categories.FrameworkMethod)]
    public void FrameworkFileReadAllText()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, "real");
        try
        {
            var method = typeof(File).GetMethod(nameof(File.ReadAllText), new[] { typeof(string) })!;
            using (Engine.Redirect(method, R(nameof(Replacements.ReadAllText))))
                Assert.That(File.ReadAllText(path), Is.EqualTo("contents of " + path));
            Assert.That(File.ReadAllText(path), Is.EqualTo("real"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    [Category(Categories.FrameworkMethod)]
    public void FrameworkEnvironmentGetEnvironmentVariable()
    {
        var method = typeof(Environment).GetMethod(nameof(Environment.GetEnvironmentVariable), new[] { typeof(string) })!;
        using (Engine.Redirect(method, R(nameof(Replacements.GetEnvironmentVariable))))
            Assert.That(Environment.GetEnvironmentVariable("HYBRID_X"), Is.EqualTo("env:HYBRID_X"));
        Assert.That(Environment.GetEnvironmentVariable("HYBRID_X"), Is.Null);
    }
}
