using System;
using System.Reflection;
using System.Reflection.Emit;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>Bad input is refused with a message naming the method, the reason and the fix — and no byte written.</summary>
[NonParallelizable]
public class BadInputTests
{
    private static readonly MethodInfo Twice = typeof(Calc).GetMethod(nameof(Calc.Twice))!;
    private static readonly MethodInfo TimesTen = typeof(Calc).GetMethod(nameof(Calc.TimesTen))!;

    public abstract class AbstractBase
    {
        public abstract int Value();
    }

    public interface IService
    {
        int Call();
    }

    public class WithStaticCtor
    {
        public static int Field;

        static WithStaticCtor() => Field = 1;
    }

    public static class Generics
    {
        public static T Echo<T>(T value) => value;
    }

    public static int WrongArity(int a, int b) => 0;
    public static long WrongReturn(int a) => 0;
    public static int WrongParameter(long a) => 0;
    public int InstanceReplacement(int a) => 0;
    public static string AnimalNameWrongSelf(string self) => "";

    private static bool IsArm64 => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;

    private static T Refused<T>(TestDelegate action) where T : Exception
    {
        using var writes = FakeOs.CountingCodeWrites();
        var e = Assert.Throws<T>(action)!;
        Assert.That(writes.Writes, Is.Zero, "no code was written");
        return e;
    }

    [Test]
    public void NullArguments()
    {
        Assert.That(Refused<ArgumentNullException>(() => Engine.Redirect(null!, TimesTen)).ParamName, Is.EqualTo("original"));
        Assert.That(Refused<ArgumentNullException>(() => Engine.Redirect(Twice, (MethodInfo)null!)).ParamName, Is.EqualTo("replacement"));
        Assert.That(Refused<ArgumentNullException>(() => Engine.Redirect(Twice, (Delegate)null!)).ParamName, Is.EqualTo("replacement"));
        Assert.Throws<ArgumentNullException>(() => Engine.Explain(null!));
    }

    [Test]
    public void SignatureMismatchNamesBothSignatures()
    {
        var arity = Refused<ArgumentException>(() => Engine.Redirect(Twice, typeof(BadInputTests).GetMethod(nameof(WrongArity))!));
        Assert.That(arity.Message, Does.Contain("Hybrid.Tests.Calc.Twice(System.Int32)").And.Contain("WrongArity(System.Int32, System.Int32)")
            .And.Contain("Expected static System.Int32 (System.Int32)").And.Contain("Fix:"));
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(Twice, typeof(BadInputTests).GetMethod(nameof(WrongReturn))!)).Message,
            Does.Contain("returns System.Int64, the original returns System.Int32"));
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(Twice, typeof(BadInputTests).GetMethod(nameof(WrongParameter))!)).Message,
            Does.Contain("parameter 1 is System.Int64, expected System.Int32"));
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(Twice, new Func<long, int>(x => 0))).Message,
            Does.Contain("parameter 1 is System.Int64"));
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(typeof(Animal).GetMethod(nameof(Animal.Name))!, typeof(BadInputTests).GetMethod(nameof(AnimalNameWrongSelf))!)).Message,
            Does.Contain("with the instance first"));
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(typeof(Counter).GetMethod(nameof(Counter.Next))!, new Func<Counter, int>(c => 0))).Message,
            Does.Contain("as ref Hybrid.Tests.Counter"));
    }

    [Test]
    public void InstanceReplacementMethodIsRefused()
    {
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(Twice, typeof(BadInputTests).GetMethod(nameof(InstanceReplacement))!)).Message,
            Does.Contain("must be a static method").And.Contain("pass a delegate"));
    }

    [Test]
    public void AbstractMethod()
    {
        var e = Refused<ArgumentException>(() => Engine.Redirect(typeof(AbstractBase).GetMethod(nameof(AbstractBase.Value))!, new Func<AbstractBase, int>(_ => 1)));
        Assert.That(e.Message, Does.Contain("AbstractBase.Value()").And.Contain("abstract").And.Contain("Fix: redirect the override"));
        Assert.That(e.ParamName, Is.EqualTo("original"));
    }

    [Test]
    public void InterfaceDeclaredMethod()
    {
        var e = Refused<ArgumentException>(() => Engine.Redirect(typeof(IService).GetMethod(nameof(IService.Call))!, new Func<IService, int>(_ => 1)));
        Assert.That(e.Message, Does.Contain("declared by interface").And.Contain("redirect the implementing method"));
    }

    [Test]
    public void ExternMethod()
    {
        var method = typeof(Math).GetMethod(nameof(Math.Sqrt))!; // an FCall/intrinsic implemented by the runtime
        var e = Refused<ArgumentException>(() => Engine.Redirect(method, new Func<double, double>(x => x)));
        Assert.That(e.Message, Does.Contain("System.Math.Sqrt(System.Double)").And.Contain("extern").And.Contain("Fix:"));
    }

    [Test]
    public void OpenGenericDefinition()
    {
        var open = typeof(Generics).GetMethod(nameof(Generics.Echo))!;
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(open, TimesTen)).Message,
            Does.Contain("open generic definition").And.Contain("MakeGenericMethod"));
        var openType = typeof(Box<>).GetMethod("Get")!;
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(openType, TimesTen)).Message, Does.Contain("open generic"));
    }

    [Test]
    public void StaticConstructor()
    {
        var cctor = typeof(WithStaticCtor).TypeInitializer!;
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(cctor, new Action(() => { }))).Message,
            Does.Contain("static constructor").And.Contain("Fix:"));
    }

    [Test]
    public void DynamicMethodOriginal()
    {
        var dynamic = new DynamicMethod("d", typeof(int), Type.EmptyTypes);
        dynamic.GetILGenerator().Emit(OpCodes.Ldc_I4_0);
        dynamic.GetILGenerator().Emit(OpCodes.Ret);
        Assert.That(Refused<ArgumentException>(() => Engine.Redirect(dynamic, new Func<int>(() => 1))).Message, Does.Contain("Fix:"));
    }

    [Test]
    public void WrongGetOriginalDelegateShape()
    {
        using var r = Engine.Redirect(Twice, TimesTen);
        var e = Assert.Throws<ArgumentException>(() => r.GetOriginal<Func<long, int>>())!;
        Assert.That(e.Message, Does.Contain("Calc.Twice(System.Int32)").And.Contain("expected a delegate shaped static System.Int32 (System.Int32)"));
    }

    public static class Tiny
    {
        // Tier-1 code for this is `lea eax,[rdi+1]; ret` (4 bytes); with AggressiveOptimization it is compiled that
        // way at once, and callers jump straight to it: no room for a 5-byte jump.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public static int Inc(int x) => x + 1;
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void BodyTooSmallForAJumpIsRefusedWithoutTouchingTheNextMethod()
    {
        var inc = typeof(Tiny).GetMethod(nameof(Tiny.Inc))!;
        Tiny.Inc(1);
        if (IsArm64)
        {
            // arm64 replaces one instruction, and every body has one: the same tiny method is redirected there.
            Assert.That(Engine.Explain(inc).CanRedirect, Is.True);
            using (Engine.Redirect(inc, TimesTen))
                Assert.That(Tiny.Inc(1), Is.EqualTo(10));
            Assert.That(Tiny.Inc(1), Is.EqualTo(2));
            return;
        }
        var e = Refused<NotSupportedException>(() => Engine.Redirect(inc, TimesTen));
        Assert.That(e.Message, Does.Contain("Tiny.Inc(System.Int32)").And.Contain("too small").And.Contain("<Patchable Include="));
        Assert.That(Tiny.Inc(1), Is.EqualTo(2));
        var plan = Engine.Explain(inc);
        Assert.That(plan.CanRedirect, Is.False);
        Assert.That(plan.Summary, Does.Contain("too small"));
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void TinyReadyToRunGetterIsRefused()
    {
        // Version.get_Major is precompiled as `mov eax,[rdi+8]; ret`: 4 bytes.
        var major = typeof(Version).GetProperty(nameof(Version.Major))!.GetMethod!;
        if (IsArm64)
        {
            // arm64: `ldr w0, [x0, #8]; ret` has an instruction to replace and one to come back to.
            using (Engine.Redirect(major, new Func<Version, int>(_ => 99)))
                Assert.That(new Version(3, 4).Major, Is.EqualTo(99));
            Assert.That(new Version(3, 4).Major, Is.EqualTo(3));
            return;
        }
        var e = Refused<NotSupportedException>(() => Engine.Redirect(major, new Func<Version, int>(_ => 99)));
        Assert.That(e.Message, Does.Contain("System.Version.get_Major()").And.Contain("too small"));
        Assert.That(new Version(3, 4).Major, Is.EqualTo(3));
    }
}
