using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

/// <summary>
/// Weaves the whole fixture assembly once, loads it into a collectible context and checks, per method kind, that
/// (1) with the slot empty the method behaves as before, (2) a handler in the slot takes over, and
/// (3) the Original copy still runs the original body while redirected.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class BehaviourTests
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance;
    private TempDir dir = null!;
    private IsolatedContext context = null!;
    private Assembly asm = null!;

    [OneTimeSetUp]
    public void WeaveFixtures()
    {
        dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        Weave.Ok(input, "Hybrid.Weaver.Fixtures.*");
        context = new IsolatedContext(dir.Path);
        asm = context.LoadFile(input);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        context.Dispose();
        dir.Dispose();
    }

    private Type T(string name) => asm.GetType("Hybrid.Weaver.Fixtures." + name, throwOnError: true)!;

    private MethodInfo M(string type, string name, params Type[] parameters)
        => parameters.Length == 0 && T(type).GetMethods(All).Count(m => m.Name == name) == 1
            ? T(type).GetMethod(name, All)!
            : T(type).GetMethod(name, All, parameters)!;

    private static object? Call(MethodBase m, object? target, params object?[] args)
    {
        try
        {
            return m.Invoke(target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    [TearDown]
    public void ClearAllSlots()
    {
        foreach (var type in asm.GetTypes())
            foreach (var m in type.GetMethods(All | BindingFlags.DeclaredOnly).Cast<MethodBase>().Concat(type.GetConstructors(All | BindingFlags.DeclaredOnly)))
                if (!m.ContainsGenericParameters && !type.ContainsGenericParameters && m.GetCustomAttributesData().Any(a => a.AttributeType.FullName == "Hybrid.Woven.HybridGuardAttribute"))
                    Contract.Clear(m);
    }

    [Test]
    public void StaticMethod_RunsOriginallyThenRedirectsThenOriginalStillAvailable()
    {
        var add = M("Statics", "Add");
        Assert.That(Call(add, null, 2, 3), Is.EqualTo(5));

        Contract.Redirect(add, a => (int)a[0]! * (int)a[1]!);
        Assert.That(Call(add, null, 2, 3), Is.EqualTo(6));
        Assert.That(Call(Contract.Original(add), null, 2, 3), Is.EqualTo(5), "Original keeps the un-redirected body");

        Contract.Clear(add);
        Assert.That(Call(add, null, 2, 3), Is.EqualTo(5));
    }

    [Test]
    public void ReferenceTypesAndVoid()
    {
        var greet = M("Statics", "Greet");
        Assert.That(Call(greet, null, "Ann"), Is.EqualTo("Hello Ann"));
        Contract.Redirect(greet, a => "Hi " + a[0]);
        Assert.That(Call(greet, null, "Ann"), Is.EqualTo("Hi Ann"));

        var nothing = M("Statics", "Nothing");
        var calls = 0;
        Contract.Redirect(nothing, _ => { calls++; return null; });
        Call(nothing, null);
        Assert.That(calls, Is.EqualTo(1));
    }

    [Test]
    public void Overloads_HaveIndependentSlots()
    {
        var byInt = M("Statics", "Overloaded", typeof(int));
        var byString = M("Statics", "Overloaded", typeof(string));
        Contract.Redirect(byInt, _ => -1);
        Assert.That(Call(byInt, null, 4), Is.EqualTo(-1));
        Assert.That(Call(byString, null, "abcd"), Is.EqualTo(4));
    }

    [Test]
    public void RefAndOutParameters_AreForwardedByReference()
    {
        var swap = M("Statics", "Swap");
        var args = new object?[] { 1, 2 };
        Call(swap, null, args);
        Assert.That(args, Is.EqualTo(new object[] { 2, 1 }));

        // Handler that writes through the refs: a = 10, b = 20.
        var handlerType = Contract.HandlerType(swap);
        var ps = handlerType.GetMethod("Invoke")!.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        var body = Expression.Block(Expression.Assign(ps[0], Expression.Constant(10)), Expression.Assign(ps[1], Expression.Constant(20)));
        Contract.Set(swap, Expression.Lambda(handlerType, body, ps).Compile());
        args = new object?[] { 1, 2 };
        Call(swap, null, args);
        Assert.That(args, Is.EqualTo(new object[] { 10, 20 }));

        var tryParse = M("Statics", "TryParse");
        args = new object?[] { "42", null };
        Assert.That(Call(tryParse, null, args), Is.EqualTo(true));
        Assert.That(args[1], Is.EqualTo(42));
        handlerType = Contract.HandlerType(tryParse);
        ps = handlerType.GetMethod("Invoke")!.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        body = Expression.Block(Expression.Assign(ps[1], Expression.Constant(123)), Expression.Constant(true));
        Contract.Set(tryParse, Expression.Lambda(handlerType, body, ps).Compile());
        args = new object?[] { "not a number", null };
        Assert.That(Call(tryParse, null, args), Is.EqualTo(true));
        Assert.That(args[1], Is.EqualTo(123));

        var readIn = M("Statics", "ReadIn");
        Assert.That(Call(readIn, null, 4), Is.EqualTo(12));
        Contract.Set(readIn, Contract.ConstantHandler(Contract.HandlerType(readIn), 7));
        Assert.That(Call(readIn, null, 4), Is.EqualTo(7));
    }

    private static int FakeSum(ReadOnlySpan<int> values) => -values.Length;

    private static int[] fakeStorage = new int[1];

    private static ref int FakeSlot(int[] array, int index) => ref fakeStorage[0];

    private static unsafe int FakeDeref(int* p) => -*p;

    [Test]
    public void SpanRefReturnAndPointerSignatures()
    {
        // Span parameters cannot go through reflection Invoke; call through a delegate of the same shape instead.
        var sum = M("Statics", "Sum");
        var direct = sum.CreateDelegate<Func<ReadOnlySpan<int>, int>>();
        Assert.That(direct(new[] { 1, 2, 3 }), Is.EqualTo(6));
        Contract.Set(sum, Delegate.CreateDelegate(Contract.HandlerType(sum), typeof(BehaviourTests).GetMethod(nameof(FakeSum), All)!));
        Assert.That(direct(new[] { 1, 2, 3 }), Is.EqualTo(-3));

        var slot = M("Statics", "Slot");
        var slotDirect = slot.CreateDelegate<RefGetter>();
        var array = new[] { 5, 6 };
        slotDirect(array, 1) = 60;
        Assert.That(array[1], Is.EqualTo(60));
        Contract.Set(slot, Delegate.CreateDelegate(Contract.HandlerType(slot), typeof(BehaviourTests).GetMethod(nameof(FakeSlot), All)!));
        slotDirect(array, 1) = 99;
        Assert.That(array[1], Is.EqualTo(60), "redirected ref return must write to the handler's storage");
        Assert.That(fakeStorage[0], Is.EqualTo(99));

        unsafe
        {
            var deref = M("Statics", "Deref");
            var derefDirect = (delegate*<int*, int>)deref.MethodHandle.GetFunctionPointer();
            int value = 41;
            Assert.That(derefDirect(&value), Is.EqualTo(42));
            Contract.Set(deref, Delegate.CreateDelegate(Contract.HandlerType(deref), typeof(BehaviourTests).GetMethod(nameof(FakeDeref), All)!));
            Assert.That(derefDirect(&value), Is.EqualTo(-41));
        }
    }

    private delegate ref int RefGetter(int[] array, int index);

    [Test]
    public void RefStructInstanceMethod()
    {
        var first = T("SpanHolder").GetMethod("First")!;
        // Members of ref structs cannot be invoked through reflection; a delegate can call the static helper.
        var firstOf = T("SpanHolder").GetMethod("FirstOf")!.CreateDelegate<Func<int[], int>>();
        Assert.That(firstOf(new[] { 9, 8 }), Is.EqualTo(9));
        var invoke = Contract.HandlerType(first).GetMethod("Invoke")!;
        Assert.That(invoke.GetParameters()[0].ParameterType, Is.EqualTo(T("SpanHolder").MakeByRefType()));
        Contract.Set(first, Contract.ConstantHandler(Contract.HandlerType(first), -9));
        Assert.That(firstOf(new[] { 9, 8 }), Is.EqualTo(-9));
    }

    [Test]
    public void GenericMethod_SlotPerInstantiation()
    {
        var id = M("Statics", "Id");
        var idInt = id.MakeGenericMethod(typeof(int));
        var idString = id.MakeGenericMethod(typeof(string));
        Assert.That(Call(idInt, null, 3), Is.EqualTo(3));
        Contract.Redirect(idInt, a => (int)a[0]! + 100);
        Assert.That(Call(idInt, null, 3), Is.EqualTo(103));
        Assert.That(Call(idString, null, "x"), Is.EqualTo("x"), "Id<string> must not be affected by redirecting Id<int>");
        Contract.Redirect(idString, a => "s:" + a[0]);
        Assert.That(Call(idString, null, "x"), Is.EqualTo("s:x"));
        Assert.That(Call(Contract.Original(idString), null, "x"), Is.EqualTo("x"));

        var mixed = T("Tricky").GetMethod("Mixed")!.MakeGenericMethod(typeof(string), typeof(int));
        var args = new object?[] { "a", 5, null };
        Assert.That(Call(mixed, null, args), Is.EqualTo(1));
        Assert.That(args[2], Is.EqualTo("a"));
    }

    [Test]
    public void GenericType_SlotPerClosedType()
    {
        var cacheInt = T("Cache`1").MakeGenericType(typeof(int));
        var cacheString = T("Cache`1").MakeGenericType(typeof(string));
        var ci = Activator.CreateInstance(cacheInt)!;
        var cs = Activator.CreateInstance(cacheString)!;
        var getInt = cacheInt.GetMethod("Get")!;
        var getString = cacheString.GetMethod("Get")!;
        Assert.That(Call(getInt, ci, 5), Is.EqualTo(5));
        Contract.Redirect(getInt, a => -(int)a[1]!);
        Assert.That(Call(getInt, ci, 5), Is.EqualTo(-5));
        Assert.That(Call(getString, cs, "v"), Is.EqualTo("v"));

        var map = cacheInt.GetMethod("Map")!.MakeGenericMethod(typeof(string));
        Assert.That(Call(map, ci, (Func<int, string>)(x => "m" + x)), Is.EqualTo("m5"));
        Contract.Redirect(map, _ => "redirected");
        Assert.That(Call(map, ci, (Func<int, string>)(x => "m" + x)), Is.EqualTo("redirected"));

        var constrained = T("Constrained`1").MakeGenericType(typeof(int));
        var c = Activator.CreateInstance(constrained)!;
        Assert.That(Call(constrained.GetMethod("Max")!, c, 3, 9), Is.EqualTo(9));
        Assert.That(Call(constrained.GetMethod("Maybe")!, c, 3, false), Is.Null);
        var fill = constrained.GetMethod("Fill")!.MakeGenericMethod(typeof(List<int>));
        Assert.That(Call(fill, c, new List<int>(), 4), Is.EqualTo(new List<int> { 4 }));
        Contract.Redirect(fill, a => new List<int> { 1, 2 });
        Assert.That(Call(fill, c, new List<int>(), 4), Is.EqualTo(new List<int> { 1, 2 }));
    }

    [Test]
    public void InstanceAndVirtualMethods()
    {
        var counter = Activator.CreateInstance(T("Counter"), 1)!;
        var increment = M("Counter", "Increment");
        Assert.That(Call(increment, counter), Is.EqualTo(2));
        object? seen = null;
        Contract.Redirect(increment, a => { seen = a[0]; return 1000; });
        Assert.That(Call(increment, counter), Is.EqualTo(1000));
        Assert.That(seen, Is.SameAs(counter), "the instance is passed first");

        var derived = Activator.CreateInstance(T("DerivedCounter"))!;
        var baseDescribe = M("Counter", "Describe");
        var derivedDescribe = T("DerivedCounter").GetMethod("Describe", All | BindingFlags.DeclaredOnly)!;
        Assert.That(Call(baseDescribe, derived), Is.EqualTo("Derived Counter 100"), "virtual dispatch still reaches the override");
        Contract.Redirect(baseDescribe, _ => "BASE");
        Assert.That(Call(baseDescribe, derived), Is.EqualTo("Derived BASE"), "base.Describe() goes through the base guard");
        Contract.Redirect(derivedDescribe, _ => "DERIVED");
        Assert.That(Call(baseDescribe, derived), Is.EqualTo("DERIVED"));
        Assert.That(Call(Contract.Original(derivedDescribe), derived), Is.EqualTo("Derived BASE"));
    }

    [Test]
    public void PropertiesAndEvents()
    {
        var now = T("Statics").GetProperty("Now")!;
        Assert.That(now.GetValue(null), Is.EqualTo(new DateTime(2000, 1, 1)));
        Contract.Redirect(now.GetMethod!, _ => new DateTime(2030, 5, 6));
        Assert.That(now.GetValue(null), Is.EqualTo(new DateTime(2030, 5, 6)));

        var counter = Activator.CreateInstance(T("Counter"), 0)!;
        var value = T("Counter").GetProperty("Value")!;
        object? written = null;
        Contract.Redirect(value.SetMethod!, a => { written = a[1]; return null; });
        value.SetValue(counter, 7);
        Assert.That(written, Is.EqualTo(7));
        Assert.That(value.GetValue(counter), Is.EqualTo(0), "the setter body was skipped");

        var changed = T("Counter").GetEvent("Changed")!;
        var added = 0;
        Contract.Redirect(changed.AddMethod!, _ => { added++; return null; });
        changed.AddEventHandler(counter, (EventHandler)((_, _) => { }));
        Assert.That(added, Is.EqualTo(1));
    }

    [Test]
    public void StructMethods_ReceiveThisByReference()
    {
        var point = T("Point");
        var p = Activator.CreateInstance(point, 2, 3)!;
        var sum = point.GetMethod("Sum")!;
        var move = point.GetMethod("Move")!;
        var product = point.GetMethod("Product")!;
        Assert.That(Call(sum, p), Is.EqualTo(5));
        Assert.That(Call(product, p), Is.EqualTo(6));
        Call(move, p, 10);
        Assert.That(point.GetField("X")!.GetValue(p), Is.EqualTo(12), "Move mutates the boxed struct in place");

        var handlerType = Contract.HandlerType(move);
        var ps = handlerType.GetMethod("Invoke")!.GetParameters().Select(x => Expression.Parameter(x.ParameterType, x.Name)).ToArray();
        Assert.That(ps[0].IsByRef, Is.True, "struct instance is passed as ref T");
        // Handler writes Y through the reference: proves the handler sees the caller's struct, not a copy.
        var body = Expression.Assign(Expression.Field(ps[0], "Y"), ps[1]);
        Contract.Set(move, Expression.Lambda(handlerType, body, ps).Compile());
        Call(move, p, 77);
        Assert.That(point.GetField("X")!.GetValue(p), Is.EqualTo(12));
        Assert.That(point.GetField("Y")!.GetValue(p), Is.EqualTo(77));

        Contract.Set(product, Contract.ConstantHandler(Contract.HandlerType(product), -1));
        Assert.That(Call(product, p), Is.EqualTo(-1));
    }

    [Test]
    public void GenericStructAndNestedGenericTypes()
    {
        var pair = T("Pair`1").MakeGenericType(typeof(string));
        var ctor = pair.GetConstructor(new[] { typeof(string), typeof(string) })!;
        var p = ctor.Invoke(new object[] { "l", "r" });
        var pick = pair.GetMethod("Pick")!;
        Assert.That(Call(pick, p, false), Is.EqualTo("r"));
        var invoke = Contract.HandlerType(pick).GetMethod("Invoke")!;
        Assert.That(invoke.GetParameters()[0].ParameterType, Is.EqualTo(pair.MakeByRefType()), "ref Pair<string>");
        Contract.Redirect(pick, a => "picked:" + a[1]);
        Assert.That(Call(pick, p, false), Is.EqualTo("picked:False"));
        var pairInt = T("Pair`1").MakeGenericType(typeof(int));
        Assert.That(Call(pairInt.GetMethod("Pick")!, Activator.CreateInstance(pairInt, 1, 2), true), Is.EqualTo(1), "Pair<int> unaffected");

        // Value-type constructor chained with this(): guard after the this() call.
        Contract.Redirect(ctor, _ => null);
        var empty = ctor.Invoke(new object[] { "l", "r" });
        Assert.That(pair.GetField("Left")!.GetValue(empty), Is.Null);

        var nested = T("Outer`1+Nested`1").MakeGenericType(typeof(int), typeof(string));
        var n = Activator.CreateInstance(nested)!;
        var describe = nested.GetMethod("Describe")!;
        Assert.That(Call(describe, n, 1, "b"), Is.EqualTo("1/b"));
        Assert.That(Contract.HandlerType(describe).GetGenericArguments(), Is.EqualTo(new[] { typeof(int), typeof(string) }));
        Contract.Redirect(describe, a => "nested");
        Assert.That(Call(describe, n, 1, "b"), Is.EqualTo("nested"));
    }

    [Test]
    public void NestedType()
    {
        var inner = T("Outer+Inner");
        var o = Activator.CreateInstance(inner)!;
        var value = inner.GetMethod("Value")!;
        Assert.That(Call(value, o), Is.EqualTo(42));
        Contract.Redirect(value, _ => 24);
        Assert.That(Call(value, o), Is.EqualTo(24));
    }

    [Test]
    public void Constructors_GuardRunsAfterBaseCall()
    {
        var counterType = T("Counter");
        var log = counterType.GetField("Log")!;
        var ctor = counterType.GetConstructor(new[] { typeof(int) })!;

        var plain = ctor.Invoke(new object[] { 5 });
        Assert.That(log.GetValue(plain), Is.EqualTo(new[] { "field-init", "ctor(5)" }));

        object? self = null;
        Contract.Redirect(ctor, a =>
        {
            self = a[0];
            ((List<string>)log.GetValue(a[0])!).Add("redirected(" + a[1] + ")");
            return null;
        });
        var redirected = ctor.Invoke(new object[] { 6 });
        Assert.That(self, Is.SameAs(redirected));
        Assert.That(log.GetValue(redirected), Is.EqualTo(new[] { "field-init", "redirected(6)" }), "field initialisers and base call ran, body did not");
        Assert.That(counterType.GetProperty("Count")!.GetValue(redirected), Is.EqualTo(0));

        // The Original of a constructor re-runs the body after the base call on an existing instance.
        Call(Contract.Original(ctor), redirected, 7);
        Assert.That(log.GetValue(redirected), Is.EqualTo(new[] { "field-init", "redirected(6)", "ctor(7)" }));
        Assert.That(counterType.GetProperty("Count")!.GetValue(redirected), Is.EqualTo(7));

        // this(...) chaining: the guard of Counter() sits after the call to Counter(int), which is itself redirected.
        var defaultCtor = counterType.GetConstructor(Type.EmptyTypes)!;
        Contract.Clear(ctor);
        Contract.Redirect(defaultCtor, a => { ((List<string>)log.GetValue(a[0])!).Add("default-redirected"); return null; });
        var chained = defaultCtor.Invoke(null);
        Assert.That(log.GetValue(chained), Is.EqualTo(new[] { "field-init", "ctor(10)", "default-redirected" }));

        var derivedCtor = T("DerivedCounter").GetConstructor(Type.EmptyTypes)!;
        Contract.Redirect(derivedCtor, _ => null);
        var derived = derivedCtor.Invoke(null);
        Assert.That(counterType.GetProperty("Count")!.GetValue(derived), Is.EqualTo(100), "base(100) ran before the guard");

        var pointCtor = T("Point").GetConstructor(new[] { typeof(int), typeof(int) })!;
        Contract.Redirect(pointCtor, _ => null);
        var p = pointCtor.Invoke(new object[] { 1, 2 });
        Assert.That(T("Point").GetField("X")!.GetValue(p), Is.EqualTo(0));
    }

    [Test]
    public async Task AsyncAndIteratorStubsAreGuarded()
    {
        var doubleAsync = M("Statics", "DoubleAsync");
        Assert.That(await (Task<int>)Call(doubleAsync, null, 21)!, Is.EqualTo(42));
        Contract.Redirect(doubleAsync, _ => Task.FromResult(-1));
        Assert.That(await (Task<int>)Call(doubleAsync, null, 21)!, Is.EqualTo(-1));
        Assert.That(await (Task<int>)Call(Contract.Original(doubleAsync), null, 21)!, Is.EqualTo(42), "Original starts the real state machine");

        var range = M("Statics", "Range");
        Assert.That(((IEnumerable)Call(range, null, 3)!).Cast<int>(), Is.EqualTo(new[] { 0, 1, 2 }));
        Contract.Redirect(range, _ => new[] { 7 });
        Assert.That(((IEnumerable)Call(range, null, 3)!).Cast<int>(), Is.EqualTo(new[] { 7 }));
    }

    [Test]
    public void ControlFlowShapesSurvive()
    {
        Assert.That(Call(M("Statics", "DoWhile"), null, 5), Is.EqualTo(5));
        Assert.That(Call(M("Statics", "DoWhile"), null, 0), Is.EqualTo(1));
        Assert.That(Call(M("Statics", "Protected"), null, 1), Is.EqualTo("ok+finally"));
        Assert.That(Call(M("Statics", "Protected"), null, -1), Is.EqualTo("caught+finally"));
        Assert.That(Call(Contract.Original(M("Statics", "Protected")), null, -1), Is.EqualTo("caught+finally"));
        Assert.That(new[] { 0, 1, 2, 3, 9 }.Select(i => Call(M("Statics", "Classify"), null, i)), Is.EqualTo(new[] { "zero", "one", "two", "three", "many" }));
        Assert.That(Call(M("Statics", "Optional"), null, 2), Is.EqualTo(20));
        Assert.That(Call(M("Statics", "Params"), null, new[] { 1, 2 }), Is.EqualTo(2));
        Assert.That(Call(M("Statics", "Local"), null, 4), Is.EqualTo(9));
        Assert.That(((Func<int, int>)Call(M("Statics", "MakeAdder"), null, 3)!)(4), Is.EqualTo(7));
    }

    [Test]
    public void WovenMethodsCarryTheContractAttributesAndFlags()
    {
        var add = M("Statics", "Add");
        var attr = Contract.GuardAttribute(add);
        var guard = (Type)attr.ConstructorArguments[0].Value!;
        Assert.That(guard.Name, Does.StartWith("<Hybrid>Guard_"));
        Assert.That(guard.DeclaringType, Is.EqualTo(T("Statics")));
        Assert.That(guard.IsAbstract && guard.IsSealed, Is.True, "guard holder is a static class");
        Assert.That(add.MethodImplementationFlags.HasFlag(MethodImplAttributes.NoInlining), Is.True);
        Assert.That(add.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization), Is.True);
        var invoke = Contract.HandlerType(add).GetMethod("Invoke")!;
        Assert.That(invoke.GetParameters().Select(p => p.ParameterType), Is.EqualTo(new[] { typeof(int), typeof(int) }));
        Assert.That(invoke.ReturnType, Is.EqualTo(typeof(int)));

        var cacheGet = T("Cache`1").GetMethod("Get")!;
        var openGuard = (Type)Contract.GuardAttribute(cacheGet).ConstructorArguments[0].Value!;
        Assert.That(openGuard.IsGenericTypeDefinition, Is.True);
        Assert.That(openGuard.GetGenericArguments(), Has.Length.EqualTo(1));
        var mapGuard = (Type)Contract.GuardAttribute(T("Cache`1").GetMethod("Map")!).ConstructorArguments[0].Value!;
        Assert.That(mapGuard.GetGenericArguments(), Has.Length.EqualTo(2), "generic over type params then method params");

        var woven = asm.GetCustomAttributesData().Single(a => a.AttributeType.FullName == "Hybrid.Woven.HybridWovenAttribute");
        Assert.That(woven.ConstructorArguments[0].Value, Is.EqualTo(Hybrid.Weaving.Weaver.Version));
        Assert.That(asm.GetReferencedAssemblies().Select(a => a.Name), Has.None.StartWith("Hybrid").And.None.EqualTo("System.Private.CoreLib"));
    }

    [Test]
    public void ExceptionStackTraceKeepsSourceLines()
    {
        var throws = M("Statics", "Throws");
        var line = TestPaths.LineOf("LINE-MARKER: Throws");
        var e = Assert.Throws<InvalidOperationException>(() => Call(throws, null, 1))!;
        Assert.That(e.StackTrace, Does.Contain("Fixtures.cs:line " + line));
        e = Assert.Throws<InvalidOperationException>(() => Call(Contract.Original(throws), null, 1))!;
        Assert.That(e.StackTrace, Does.Contain("Fixtures.cs:line " + line), "the Original copy maps to the same source");

        // Constructors: the guard is inserted mid-body, after the base call.
        var ctor = T("Thrower").GetConstructor(new[] { typeof(int) })!;
        var ctorLine = TestPaths.LineOf("LINE-MARKER: CtorThrows");
        var wrapped = Assert.Throws<TargetInvocationException>(() => ctor.Invoke(new object[] { 1 }))!;
        Assert.That(wrapped.InnerException, Is.InstanceOf<InvalidOperationException>());
        Assert.That(wrapped.InnerException!.StackTrace, Does.Contain("Fixtures.cs:line " + ctorLine));
        var instance = ctor.Invoke(new object[] { 0 });
        e = Assert.Throws<InvalidOperationException>(() => Call(Contract.Original(ctor), instance, 1))!;
        Assert.That(e.StackTrace, Does.Contain("Fixtures.cs:line " + ctorLine));
    }
}
