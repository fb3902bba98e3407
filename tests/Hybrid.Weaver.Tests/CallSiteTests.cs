using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using Hybrid.Weaving;
using Mono.Cecil;
using Mono.Cecil.Cil;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

/// <summary>
/// Call-site guards: framework methods have no body the weaver could guard, so the calls to them from the woven
/// assembly are redirected through injected wrappers (docs/weaver.md, "Call-site guards").
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CallSiteTests
{
    private const string CallsType = "Hybrid.Weaver.Fixtures.CallSites.Calls";

    private static readonly string[] Selectors =
    {
        "System.DateTime.UtcNow",
        "System.IO.File.ReadAllText(System.String)",
        "System.Guid.NewGuid",
        "System.String.Trim()",
        "System.Object.ToString",
        "System.IDisposable.Dispose",
        "System.Linq.Enumerable.Count(System.Collections.Generic.IEnumerable`1<TSource>)",
        "System.DateTime.AddDays",
        "System.Text.StringBuilder..ctor(int)",
        "System.Enum.Parse(System.String)",
        "System.Collections.Generic.List`1.Add",
        "System.Collections.Generic.Dictionary.TryGetValue(TKey, out TValue)",
        CallsType + ".Woven",
    };

    private TempDir dir = null!;
    private IsolatedContext context = null!;
    private Assembly asm = null!;
    private WeaveResult result = null!;

    [OneTimeSetUp]
    public void WeaveFixtures()
    {
        dir = new TempDir();
        var input = dir.Copy(TestPaths.Fixtures);
        result = Weave.Ok(input, Selectors);
        context = new IsolatedContext(dir.Path);
        asm = context.LoadFile(input);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        context.Dispose();
        dir.Dispose();
    }

    [TearDown]
    public void ClearSlots()
    {
        foreach (var slot in CallSiteContract.AllSlots(asm))
            slot.SetValue(null, null);
        foreach (var m in Calls.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            if (m.GetCustomAttributesData().Any(a => a.AttributeType.FullName == "Hybrid.Woven.HybridGuardAttribute"))
                Contract.Clear(m);
    }

    private Type Calls => asm.GetType(CallsType, throwOnError: true)!;

    private object? Call(string name, params object?[] args) => Call(name, Type.EmptyTypes, args);

    private object? Call(string name, Type[] typeArgs, params object?[] args)
    {
        var m = Calls.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        if (typeArgs.Length > 0)
            m = m.MakeGenericMethod(typeArgs);
        try
        {
            return m.Invoke(null, args);
        }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private object New(string type) => Activator.CreateInstance(asm.GetType("Hybrid.Weaver.Fixtures.CallSites." + type, throwOnError: true)!)!;

    /// <summary>Redirects <paramref name="target"/> at every call site in the woven fixture, exactly as the engine would.</summary>
    private void Redirect(MethodBase target, Func<object?[], object?> impl)
    {
        var slots = CallSiteContract.Slots(asm, target).ToList();
        Assert.That(slots, Is.Not.Empty, "no call-site guard for " + target);
        foreach (var slot in slots)
            slot.SetValue(null, Contract.Handler(slot.FieldType, impl));
    }

    static MethodInfo CountOf<T>() => typeof(Enumerable).GetMethods().Single(m => m.Name == "Count" && m.GetParameters().Length == 1).MakeGenericMethod(typeof(T));

    [Test]
    public void EmptySlots_BehaviourIsUnchanged()
    {
        var before = DateTime.UtcNow;
        var now = (DateTime)Call("UtcNow")!;
        Assert.That(now, Is.InRange(before, DateTime.UtcNow));
        Assert.That(((Func<DateTime>)Call("Later")!)(), Is.InRange(before, DateTime.UtcNow));

        var file = dir.File("text.txt");
        File.WriteAllText(file, "contents");
        Assert.That(Call("Read", file), Is.EqualTo("contents"));
        Assert.That(() => Call("Read", dir.File("missing.txt")), Throws.InstanceOf<FileNotFoundException>());

        var a = (Guid)Call("NewId")!;
        var b = ((Func<Guid>)Call("IdFactory")!)();
        Assert.That(a, Is.Not.EqualTo(Guid.Empty).And.Not.EqualTo(b));

        Assert.That(Call("Clean", "  x  "), Is.EqualTo("x"));
        Assert.That(Call("Describe", New("Custom")), Is.EqualTo("custom"), "virtual dispatch is preserved");
        Assert.That(Call("Describe", 12), Is.EqualTo("12"));
        var resource = New("Resource");
        Call("Close", resource);
        Assert.That(resource.GetType().GetField("Disposed")!.GetValue(resource), Is.EqualTo(1), "interface dispatch is preserved");
        Assert.That(Call("CountInts", new[] { 1, 2, 3 }), Is.EqualTo(3));
        Assert.That(Call("CountStrings", new List<string> { "a" }), Is.EqualTo(1));
        Assert.That(Call("CountAny", new[] { typeof(int) }, new[] { 1, 2 }), Is.EqualTo(2));
        var day = new DateTime(2020, 2, 28, 0, 0, 0, DateTimeKind.Utc);
        Assert.That(Call("Tomorrow", day), Is.EqualTo(day.AddDays(1)));
        Assert.That(((StringBuilder)Call("Builder", 77)!).Capacity, Is.EqualTo(77));
        Assert.That(Call("DescribeGeneric", new[] { typeof(int) }, 5), Is.EqualTo("5"));
        Assert.That(Call("Woven", 1), Is.EqualTo(1 + DateTime.UtcNow.Year));
    }

    [Test]
    public void StaticTargets_SlotSet_FixtureSeesReplacement()
    {
        var fixedTime = new DateTime(2000, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        Redirect(typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!, _ => fixedTime);
        Assert.That(Call("UtcNow"), Is.EqualTo(fixedTime));
        Assert.That(((Func<DateTime>)Call("Later")!)(), Is.EqualTo(fixedTime), "calls inside lambdas are redirected");

        Redirect(typeof(File).GetMethod(nameof(File.ReadAllText), new[] { typeof(string) })!, args => "fake:" + args[0]);
        Assert.That(Call("Read", "/nowhere"), Is.EqualTo("fake:/nowhere"));

        var id = Guid.Parse("11111111-2222-3333-4444-555555555555");
        Redirect(typeof(Guid).GetMethod(nameof(Guid.NewGuid))!, _ => id);
        Assert.That(Call("NewId"), Is.EqualTo(id));
        Assert.That(((Func<Guid>)Call("IdFactory")!)(), Is.EqualTo(id), "a delegate created from the method group goes through the wrapper");

        ClearSlots();
        Assert.That(Call("UtcNow"), Is.Not.EqualTo(fixedTime));
        Assert.That(Call("NewId"), Is.Not.EqualTo(id));
    }

    [Test]
    public void InstanceVirtualAndInterfaceTargets_SlotSet_FixtureSeesReplacement()
    {
        Redirect(typeof(string).GetMethod(nameof(string.Trim), Type.EmptyTypes)!, args => "[" + args[0] + "]");
        Assert.That(Call("Clean", " x "), Is.EqualTo("[ x ]"), "the instance is passed first");

        Redirect(typeof(object).GetMethod(nameof(ToString))!, args => "redirected " + args[0]!.GetType().Name);
        Assert.That(Call("Describe", New("Custom")), Is.EqualTo("redirected Custom"));
        Assert.That(Call("DescribeGeneric", new[] { typeof(int) }, 5), Is.EqualTo("5"), "constrained. call sites are left alone");

        var disposed = new List<object?>();
        Redirect(typeof(IDisposable).GetMethod(nameof(IDisposable.Dispose))!, args => { disposed.Add(args[0]); return null; });
        var resource = New("Resource");
        Call("Close", resource);
        Assert.That(disposed, Is.EqualTo(new[] { resource }));
        Assert.That(resource.GetType().GetField("Disposed")!.GetValue(resource), Is.EqualTo(0));

        var day = new DateTime(2020, 2, 28, 0, 0, 0, DateTimeKind.Utc);
        Redirect(typeof(DateTime).GetMethod(nameof(DateTime.AddDays))!, args => ((DateTime)args[0]!).AddYears((int)(double)args[1]!));
        Assert.That(Call("Tomorrow", day), Is.EqualTo(day.AddYears(1)), "value-type instance passed by reference");
    }

    [Test]
    public void GenericTarget_OneSlotPerInstantiation()
    {
        Redirect(CountOf<int>(), _ => 42);
        Assert.That(Call("CountInts", new[] { 1 }), Is.EqualTo(42));
        Assert.That(Call("CountAny", new[] { typeof(int) }, new[] { 1 }), Is.EqualTo(42), "generic callers share the closed instantiation's slot");
        Assert.That(Call("CountStrings", (object)new[] { "a" }), Is.EqualTo(1), "Count<string> is a different slot");
        Assert.That(Call("CountAny", new[] { typeof(string) }, (object)new[] { "a", "b" }), Is.EqualTo(2));

        Redirect(CountOf<string>(), _ => 7);
        Assert.That(Call("CountStrings", (object)new[] { "a" }), Is.EqualTo(7));
        Assert.That(Call("CountAny", new[] { typeof(string) }, (object)new[] { "a" }), Is.EqualTo(7));
    }

    [Test]
    public void ConstrainedGenericAndGenericTypeTargets()
    {
        Assert.That(Call("ParseDay", "Friday"), Is.EqualTo(DayOfWeek.Friday));
        var list = new List<int>();
        Assert.That(Call("AddTo", list, 4), Is.EqualTo(1));
        var lookup = new object?[] { new Dictionary<string, int> { ["a"] = 1 }, "a", null };
        Assert.That(Call("Lookup", lookup), Is.True);
        Assert.That(lookup[2], Is.EqualTo(1));

        var parse = typeof(Enum).GetMethods().Single(m => m.Name == nameof(Enum.Parse) && m.IsGenericMethodDefinition && m.GetParameters().Length == 1 && m.GetParameters()[0].ParameterType == typeof(string));
        Redirect(parse.MakeGenericMethod(typeof(DayOfWeek)), _ => DayOfWeek.Monday);
        Assert.That(Call("ParseDay", "Friday"), Is.EqualTo(DayOfWeek.Monday));

        Redirect(typeof(List<int>).GetMethod(nameof(List<int>.Add))!, args => null);
        Assert.That(Call("AddTo", list, 5), Is.EqualTo(1), "List<int>.Add redirected to a no-op");
        Assert.That(CallSiteContract.Slots(asm, typeof(List<string>).GetMethod(nameof(List<string>.Add))!).Single().GetValue(null), Is.Null, "List<string>.Add has its own slot");

        var tryGet = typeof(Dictionary<string, int>).GetMethod(nameof(Dictionary<string, int>.TryGetValue))!;
        var slot = CallSiteContract.Slots(asm, tryGet).Single();
        Assert.That(slot.FieldType.GetMethod("Invoke")!.GetParameters().Select(p => p.ParameterType),
            Is.EqualTo(new[] { typeof(Dictionary<string, int>), typeof(string), typeof(int).MakeByRefType() }));
        slot.SetValue(null, Contract.ConstantHandler(slot.FieldType, 0));
        Assert.That(Call("Lookup", lookup), Is.False);
    }

    [Test]
    public void Constructor_NewobjSitesAreRedirected()
    {
        Redirect(typeof(StringBuilder).GetConstructor(new[] { typeof(int) })!, args => new StringBuilder("made " + args[0]));
        Assert.That(Call("Builder", 5)!.ToString(), Is.EqualTo("made 5"));
    }

    [Test]
    public void WovenMethodAndItsOriginal_CallSitesAreRedirected()
    {
        Redirect(typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!, _ => new DateTime(2000, 1, 1));
        var woven = Calls.GetMethod("Woven")!;
        Assert.That(woven.Invoke(null, new object[] { 1 }), Is.EqualTo(2001));
        Assert.That(Contract.Original(woven).Invoke(null, new object[] { 1 }), Is.EqualTo(2001));
        Contract.Redirect(woven, args => -(int)args[0]!);
        Assert.That(woven.Invoke(null, new object[] { 1 }), Is.EqualTo(-1), "method guard and call-site guards coexist");
    }

    [Test]
    public void Result_ListsWrappedAndLeftAloneCallSites()
    {
        var targets = result.CallSites.Select(c => c.Target).ToList();
        Assert.That(targets, Does.Contain("System.DateTime.get_UtcNow()"));
        Assert.That(targets, Does.Contain("System.IO.File.ReadAllText(System.String)"));
        Assert.That(targets, Does.Contain("System.Linq.Enumerable.Count``1(System.Collections.Generic.IEnumerable`1<!!0>)"));
        Assert.That(result.CallSites.Single(c => c.Target.StartsWith("System.IDisposable.Dispose", StringComparison.Ordinal)).CallKind, Is.EqualTo("callvirt"));
        Assert.That(result.CallSites.Single(c => c.Target.StartsWith("System.Text.StringBuilder..ctor", StringComparison.Ordinal)).CallKind, Is.EqualTo("newobj"));
        Assert.That(result.CallSites.Single(c => c.Target == "System.Guid.NewGuid()").CallSites, Is.GreaterThanOrEqualTo(2), "call and ldftn");
        Assert.That(result.WovenMethods.Select(m => m.Method), Is.EqualTo(new[] { "System.Int32 " + CallsType + "::Woven(System.Int32)" }));

        var constrained = result.SkippedMethods.Where(s => s.Code == DiagnosticCodes.SkipCallSite && s.Reason.Contains("constrained.", StringComparison.Ordinal)).ToList();
        Assert.That(constrained, Has.Count.EqualTo(1));
        Assert.That(constrained[0].Method, Does.StartWith("System.Object.ToString() called from "));
        Assert.That(result.Diagnostics.Where(d => d.Code == DiagnosticCodes.SkipCallSite).Select(d => d.Severity), Has.All.EqualTo(DiagnosticSeverity.Warning));
    }

    [Test]
    public void FrameworkMethodWithoutCallSites_IsAWarningNamingIt()
    {
        using var d = new TempDir();
        var input = d.Copy(TestPaths.Fixtures);
        var run = Weave.Ok(input, "System.Console.Beep", CallsType + ".Woven");
        var warning = run.Diagnostics.Single(x => x.Code == DiagnosticCodes.NoCallSites);
        Assert.That(warning.Severity, Is.EqualTo(DiagnosticSeverity.Warning));
        Assert.That(warning.Message, Does.Contain("System.Console.Beep"));
        Assert.That(warning.Member, Is.EqualTo("System.Console.Beep"));
        Assert.That(run.CallSites, Is.Empty);

        // A member the referenced framework type does not have is a typo: an error with suggestions.
        var misspelt = Weave.Run(d.Copy(TestPaths.Fixtures, "misspelt.dll"), null, null, "System.DateTime.UtcNw");
        var error = misspelt.Diagnostics.Single(x => x.Severity == DiagnosticSeverity.Error);
        Assert.That(error.Code, Is.EqualTo(DiagnosticCodes.SelectorMatchedNothing));
        Assert.That(error.Message, Does.Contain("System.DateTime.UtcNow"));

        // Iced defines polyfills in namespace System (System.string2); a framework type it references still counts as one.
        var iced = Weave.Run(d.Copy(TestPaths.Iced), null, null, "System.Guid.NewGuid", "Iced.Intel.Instruction.get_IP");
        Assert.That(iced.Success, Is.True, () => string.Join(Environment.NewLine, iced.Diagnostics));
        Assert.That(iced.Diagnostics.Single(x => x.Code == DiagnosticCodes.NoCallSites).Message, Does.Contain("System.Guid.NewGuid"));

        // A miss inside the assembly's own namespaces is still a typo (error), not a framework method.
        var typo = Weave.Run(d.Copy(TestPaths.Fixtures, "typo.dll"), null, null, "Hybrid.Weaver.Fixtures.CallSites.Calls.Nope");
        Assert.That(typo.Diagnostics.Single(x => x.Severity == DiagnosticSeverity.Error).Code, Is.EqualTo(DiagnosticCodes.SelectorMatchedNothing));
    }

    [Test]
    public void Cli_ListsCallSites()
    {
        using var d = new TempDir();
        var input = d.Copy(TestPaths.Fixtures);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Hybrid.Weaving.Cli.CliApp.Run(new[] { input, "-p", "System.Guid.NewGuid", "System.Console.Beep", "-v" }, stdout, stderr);
        Assert.That(code, Is.EqualTo(Hybrid.Weaving.Cli.CliApp.Ok), stderr.ToString());
        Assert.That(stdout.ToString(), Does.Contain("calls   System.Guid.NewGuid() [call]").And.Contain("and the call sites of 1 external method(s)"));
        Assert.That(stderr.ToString(), Does.Contain("warning " + DiagnosticCodes.NoCallSites).And.Contain("System.Console.Beep"));
    }

    [Test]
    public void DelegateConstructors_AreLeftAlone()
    {
        using var d = new TempDir();
        var run = Weave.Ok(d.Copy(TestPaths.Fixtures), "System.Func`1..ctor");
        Assert.That(run.CallSites, Is.Empty);
        Assert.That(run.SkippedMethods.Select(s => s.Code), Has.All.EqualTo(DiagnosticCodes.SkipCallSite).And.Not.Empty);
    }

    [Test]
    public void TailPrefix_IsDroppedBeforeARewrittenCall()
    {
        using var d = new TempDir();
        var input = d.Copy(TestPaths.Fixtures);
        // C# never emits 'tail.'; add one by hand before File.ReadAllText (which is followed by ret).
        var bytes = File.ReadAllBytes(input);
        using (var module = ModuleDefinition.ReadModule(new MemoryStream(bytes), new ReaderParameters { ReadSymbols = false }))
        {
            var read = module.GetType(CallsType).Methods.Single(m => m.Name == "Read");
            var call = read.Body.Instructions.Single(i => i.OpCode == OpCodes.Call);
            Assert.That(call.Next.OpCode, Is.EqualTo(OpCodes.Ret));
            read.Body.GetILProcessor().InsertBefore(call, Instruction.Create(OpCodes.Tail));
            File.Delete(Path.ChangeExtension(input, ".pdb"));
            module.Write(input);
        }
        Weave.Ok(input, "System.IO.File.ReadAllText");
        using (var module = ModuleDefinition.ReadModule(input))
        {
            var body = module.GetType(CallsType).Methods.Single(m => m.Name == "Read").Body.Instructions;
            Assert.That(body.Select(i => i.OpCode), Does.Not.Contain(OpCodes.Tail));
            Assert.That(body.Single(i => i.OpCode == OpCodes.Call).Operand, Has.Property("Name").EqualTo("Call_0"));
        }
        using var context = new IsolatedContext(d.Path);
        var read2 = context.LoadFile(input).GetType(CallsType)!.GetMethod("Read")!;
        File.WriteAllText(d.File("t.txt"), "tail");
        Assert.That(read2.Invoke(null, new object[] { d.File("t.txt") }), Is.EqualTo("tail"));
    }

    [Test]
    public void Glob_SelectsCallTargets()
    {
        using var d = new TempDir();
        var run = Weave.Ok(d.Copy(TestPaths.Fixtures), "System.IO.File.*");
        Assert.That(run.CallSites.Select(c => c.Target), Is.EqualTo(new[] { "System.IO.File.ReadAllText(System.String)" }));
    }

    [Test]
    public void WovenIl_NoDirectCallsRemain_SequencePointsKept_Deterministic_Idempotent()
    {
        using var d = new TempDir();
        var a = d.Copy(TestPaths.Fixtures, "a.dll");
        var b = d.Copy(TestPaths.Fixtures, "b.dll");
        Weave.Ok(a, Selectors);
        Weave.Ok(b, Selectors);
        Assert.That(File.ReadAllBytes(a), Is.EqualTo(File.ReadAllBytes(b)), "deterministic");

        using (var original = ModuleDefinition.ReadModule(TestPaths.Fixtures, new ReaderParameters { ReadSymbols = true }))
        using (var woven = ModuleDefinition.ReadModule(a, new ReaderParameters { ReadSymbols = true }))
        {
            var direct = woven.GetTypes().Where(t => !t.FullName.StartsWith("<Hybrid>CallSites", StringComparison.Ordinal))
                .SelectMany(t => t.Methods).Where(m => m.HasBody)
                .SelectMany(m => m.Body.Instructions.Select(i => (Method: m, Instruction: i)))
                .Where(x => x.Instruction.Operand is MethodReference mr && (mr.Name == "get_UtcNow" || mr.Name == "ReadAllText" || mr.Name == "NewGuid"))
                .Select(x => x.Method.FullName + ": " + x.Instruction)
                .ToList();
            Assert.That(direct, Is.Empty);

            foreach (var name in new[] { "UtcNow", "Read", "Clean", "Tomorrow" })
            {
                static List<string> Lines(ModuleDefinition module, string method)
                {
                    var m = module.GetType(CallsType).Methods.Single(x => x.Name == method);
                    return m.DebugInformation.SequencePoints.Select(sp => sp.StartLine + ":" + sp.StartColumn + "-" + sp.EndColumn).ToList();
                }
                Assert.That(Lines(woven, name), Is.EqualTo(Lines(original, name)), name);
                var call = woven.GetType(CallsType).Methods.Single(x => x.Name == name).Body.Instructions
                    .Single(i => i.Operand is MethodReference mr && mr.Name.StartsWith("Call_", StringComparison.Ordinal));
                Assert.That(call.OpCode, Is.EqualTo(OpCodes.Call));
            }

            var holder = woven.GetType("<Hybrid>CallSites");
            Assert.That(woven.Assembly.CustomAttributes.Single(c => c.AttributeType.FullName == "Hybrid.Woven.HybridCallSitesAttribute").ConstructorArguments[0].Value, Is.SameAs(holder));
            Assert.That(woven.AssemblyReferences.Select(r => r.FullName), Is.EquivalentTo(original.AssemblyReferences.Select(r => r.FullName)), "no assembly reference added");
        }

        var again = Weave.Ok(a, Selectors);
        Assert.That(again.AlreadyWoven, Is.True);
        Assert.That(again.CallSites, Is.Empty);
    }
}

/// <summary>The engine's side of the call-site contract (docs/weaver.md, "Call-site guards"), by reflection only.</summary>
internal static class CallSiteContract
{
    private const string CallSitesAttribute = "Hybrid.Woven.HybridCallSitesAttribute";
    private const string CallSiteAttribute = "Hybrid.Woven.HybridCallSiteAttribute";

    private static IEnumerable<(Type Guard, CustomAttributeData Id)> Guards(Assembly assembly)
    {
        foreach (var a in assembly.GetCustomAttributesData().Where(a => a.AttributeType.FullName == CallSitesAttribute))
        {
            var holder = (Type)a.ConstructorArguments[0].Value!;
            foreach (var guard in holder.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
            {
                var id = guard.GetCustomAttributesData().SingleOrDefault(x => x.AttributeType.FullName == CallSiteAttribute);
                if (id != null)
                    yield return (guard, id);
            }
        }
    }

    /// <summary>Every slot of non-generic guards (for resetting in tests).</summary>
    public static IEnumerable<FieldInfo> AllSlots(Assembly assembly)
        => Guards(assembly).Where(g => !g.Guard.IsGenericTypeDefinition).Select(g => g.Guard.GetField("Target")!);

    /// <summary>The Target slots that redirect the call sites of <paramref name="target"/> (one per call kind) in <paramref name="assembly"/>.</summary>
    public static IEnumerable<FieldInfo> Slots(Assembly assembly, MethodBase target)
    {
        // The identity is computed from the method definition (open generic type, generic method definition).
        var definition = target.Module.ResolveMethod(target.MetadataToken)!;
        var declaring = definition.DeclaringType!;
        var arity = definition.IsGenericMethodDefinition ? definition.GetGenericArguments().Length : 0;
        var signature = Signature(definition);
        var args = (target.DeclaringType!.IsGenericType ? target.DeclaringType.GetGenericArguments() : Type.EmptyTypes)
            .Concat(target.IsGenericMethod ? target.GetGenericArguments() : Type.EmptyTypes).ToArray();
        foreach (var (guard, id) in Guards(assembly))
        {
            var a = id.ConstructorArguments;
            if ((Type)a[0].Value! != declaring || (string)a[1].Value! != definition.Name || (int)a[2].Value! != arity || (string)a[3].Value! != signature)
                continue;
            yield return (args.Length > 0 ? guard.MakeGenericType(args) : guard).GetField("Target")!;
        }
    }

    public static string Signature(MethodBase definition)
    {
        var ret = definition is MethodInfo mi ? mi.ReturnType : typeof(void);
        return Canonical(ret) + "(" + string.Join(",", definition.GetParameters().Select(p => Canonical(p.ParameterType))) + ")";
    }

    public static string Canonical(Type t)
    {
        if (t.IsByRef)
            return Canonical(t.GetElementType()!) + "&";
        if (t.IsPointer)
            return Canonical(t.GetElementType()!) + "*";
        if (t.IsArray)
            return Canonical(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        if (t.IsGenericParameter)
            return (t.DeclaringMethod != null ? "!!" : "!") + t.GenericParameterPosition;
        if (t.IsFunctionPointer)
            return "fnptr";
        if (t.IsGenericType)
            return Name(t.GetGenericTypeDefinition()) + "<" + string.Join(",", t.GetGenericArguments().Select(Canonical)) + ">";
        return Name(t);
    }

    private static string Name(Type t) => t.IsNested ? Name(t.DeclaringType!) + "+" + t.Name : string.IsNullOrEmpty(t.Namespace) ? t.Name : t.Namespace + "." + t.Name;
}

/// <summary>
/// Wraps <em>every</em> framework call site (<c>System.*</c>) of the real assemblies Iced.dll and Mono.Cecil.dll
/// (netstandard2.0 builds: targets are referenced through the netstandard facade) and requires identical workload
/// results and that every wrapper and rewritten method JIT-compiles.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CallSiteRealAssemblyTests
{
    private TempDir pristine = null!;
    private TempDir woven = null!;
    private readonly Dictionary<string, WeaveResult> results = new Dictionary<string, WeaveResult>();

    [OneTimeSetUp]
    public void WeaveAllFrameworkCalls()
    {
        pristine = TempDir.WithRealLibraries();
        woven = TempDir.WithRealLibraries();
        foreach (var name in new[] { "Iced.dll", "Mono.Cecil.dll" })
        {
            var result = Weave.Ok(woven.File(name), FrameworkTypeGlobs(woven.File(name)));
            results[name] = result;
            TestContext.Progress.WriteLine($"{name}: {result.CallSites.Count} wrappers, {result.CallSites.Sum(c => c.CallSites)} call sites, {result.SkippedMethods.Count} left-alone groups, {result.Elapsed.TotalMilliseconds:F0} ms");
        }
    }

    /// <summary>
    /// <c>Ns.Type.*</c> for every System.* type the assembly calls into. (A plain <c>System.*</c> would match the
    /// compiler-embedded attribute types the assembly defines, and so select those instead of call sites.)
    /// </summary>
    private static string[] FrameworkTypeGlobs(string path)
    {
        using var module = ModuleDefinition.ReadModule(path);
        var defined = new HashSet<string>(module.GetTypes().Select(t => t.FullName));
        return module.GetTypes().SelectMany(t => t.Methods).Where(m => m.HasBody)
            .SelectMany(m => m.Body.Instructions).Select(i => i.Operand).OfType<MethodReference>()
            .Where(m => !(m.DeclaringType is ArrayType))
            .Select(m => m.DeclaringType.GetElementType())
            .Where(t => !(t is ArrayType) && t.Namespace.StartsWith("System", StringComparison.Ordinal) && t.DeclaringType == null && !defined.Contains(t.FullName))
            .Select(t => t.FullName + ".*")
            .Distinct().OrderBy(x => x, StringComparer.Ordinal).ToArray();
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        pristine.Dispose();
        woven.Dispose();
    }

    [Test]
    public void Workloads_GiveIdenticalResults()
    {
        Assert.That(results["Mono.Cecil.dll"].CallSites.Count, Is.GreaterThan(100));
        Assert.That(results["Iced.dll"].CallSites.Count, Is.GreaterThan(20));
        var code = new byte[16 * 1024];
        new Random(12345).NextBytes(code);
        Assert.That(Workloads.Run(woven, "Iced", code), Is.EqualTo(Workloads.Run(pristine, "Iced", code)));
        var cecil = File.ReadAllBytes(TestPaths.Cecil);
        Assert.That(Workloads.Run(woven, "Cecil", cecil), Is.EqualTo(Workloads.Run(pristine, "Cecil", cecil)));
    }

    [Test]
    public void EveryMethodAndWrapperCompiles_AndSlotsAreFoundByContract()
    {
        using var context = new IsolatedContext(woven.Path);
        var asm = context.LoadFile(woven.File("Mono.Cecil.dll"));
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        int compiled = 0;
        foreach (var type in asm.GetTypes())
        {
            if (type.ContainsGenericParameters)
                continue;
            foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (m.ContainsGenericParameters || m.IsAbstract || m.GetMethodBody() == null)
                    continue;
                System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(m.MethodHandle);
                compiled++;
            }
        }
        TestContext.Out.WriteLine($"JIT-compiled {compiled} methods of Mono.Cecil with all framework call sites wrapped");

        // Every non-generic guard's identity resolves back to a framework method whose slot the contract finds.
        var holder = asm.GetTypes().Single(t => t.Name == "<Hybrid>CallSites");
        int checkedGuards = 0;
        foreach (var guard in holder.GetNestedTypes(BindingFlags.Public))
        {
            var id = guard.GetCustomAttributesData().Single(a => a.AttributeType.FullName == "Hybrid.Woven.HybridCallSiteAttribute").ConstructorArguments;
            var declaring = (Type)id[0].Value!;
            var candidates = declaring.GetMember((string)id[1].Value!, MemberTypes.Method | MemberTypes.Constructor, all)
                .Cast<MethodBase>().Where(m => CallSiteContract.Signature(m) == (string)id[3].Value!).ToList();
            candidates = candidates.Where(m => (m.IsGenericMethodDefinition ? m.GetGenericArguments().Length : 0) == (int)id[2].Value!).ToList();
            Assert.That(candidates, Has.Count.EqualTo(1), guard + ": " + declaring + "." + id[1].Value + " " + id[3].Value);
            Assert.That(guard.IsGenericTypeDefinition ? guard.GetGenericArguments().Length : 0,
                Is.EqualTo((declaring.IsGenericTypeDefinition ? declaring.GetGenericArguments().Length : 0) + (int)id[2].Value!), guard + " arity");
            if (!guard.IsGenericTypeDefinition)
                Assert.That(CallSiteContract.Slots(asm, candidates[0]).Select(f => f.DeclaringType), Does.Contain(guard));
            checkedGuards++;
        }
        Assert.That(checkedGuards, Is.EqualTo(holder.GetNestedTypes(BindingFlags.Public).Length).And.GreaterThan(100));
    }
}
