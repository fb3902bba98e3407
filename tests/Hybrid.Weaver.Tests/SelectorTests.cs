using System.Linq;
using Hybrid.Weaving;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

[TestFixture]
public sealed class SelectorTests
{
    private const string Ns = "Hybrid.Weaver.Fixtures.";

    private static WeaveResult Run(params string[] selectors)
    {
        using var dir = new TempDir();
        return Weave.Run(dir.Copy(TestPaths.Fixtures), null, null, selectors);
    }

    private static string[] Woven(params string[] selectors)
    {
        var result = Run(selectors);
        Assert.That(result.Success, Is.True, () => string.Join("\n", result.Diagnostics));
        return result.WovenMethods.Select(m => m.Method).ToArray();
    }

    [Test]
    public void MethodName_SelectsAllOverloads()
        => Assert.That(Woven(Ns + "Statics.Overloaded"), Has.Length.EqualTo(2));

    [TestCase("Statics.Overloaded(System.Int32)")]
    [TestCase("Statics.Overloaded(int)")]
    public void ParameterList_SelectsOneOverload(string selector)
        => Assert.That(Woven(Ns + selector), Is.EqualTo(new[] { "System.Int32 Hybrid.Weaver.Fixtures.Statics::Overloaded(System.Int32)" }));

    [TestCase("Statics.Swap(System.Int32&,System.Int32&)")]
    [TestCase("Statics.Swap(ref int, ref int)")]
    [TestCase("Statics.TryParse(System.String,System.Int32&)")]
    [TestCase("Statics.Sum(System.ReadOnlySpan`1<System.Int32>)")]
    [TestCase("Statics.Id(T)")]
    public void ParameterList_ByRefAndGenericSpellings(string selector)
        => Assert.That(Woven(Ns + selector), Has.Length.EqualTo(1));

    [Test]
    public void Property_SelectsAccessors()
    {
        Assert.That(Woven(Ns + "Statics.Now"), Is.EqualTo(new[] { "System.DateTime Hybrid.Weaver.Fixtures.Statics::get_Now()" }));
        Assert.That(Woven(Ns + "Counter.Value"), Has.Length.EqualTo(2));
        Assert.That(Woven(Ns + "Counter.Changed"), Has.Length.EqualTo(2), "events select add/remove");
    }

    [Test]
    public void Constructors_NestedTypes_GenericArity()
    {
        Assert.That(Woven(Ns + "Counter..ctor"), Has.Length.EqualTo(2));
        Assert.That(Woven(Ns + "Outer+Inner.Value"), Is.EqualTo(new[] { "System.Int32 Hybrid.Weaver.Fixtures.Outer/Inner::Value()" }));
        Assert.That(Woven(Ns + "Outer/Inner.Value"), Has.Length.EqualTo(1));
        Assert.That(Woven(Ns + "Cache`1.Get"), Is.EqualTo(new[] { "T Hybrid.Weaver.Fixtures.Cache`1::Get(T)" }));
        Assert.That(Woven(Ns + "Cache.Get"), Has.Length.EqualTo(1), "arity may be omitted when unambiguous");
    }

    [Test]
    public void Globs()
    {
        var statics = Woven(Ns + "Statics.*");
        Assert.That(statics, Does.Contain("System.Int32 Hybrid.Weaver.Fixtures.Statics::Add(System.Int32,System.Int32)"));
        Assert.That(statics, Has.All.Contain("Hybrid.Weaver.Fixtures.Statics::"));
        Assert.That(statics, Has.None.Contain("::<").And.None.Contain("/<"), "compiler-generated methods (state machines, lambdas) are not woven");
        Assert.That(Woven(Ns + "Statics.Ad?"), Has.Length.EqualTo(1));
        var all = Woven("*");
        Assert.That(Woven("Hybrid.*"), Is.EqualTo(all));
        Assert.That(all.Length, Is.GreaterThan(50));
    }

    [Test]
    public void AsyncAndIterator_StubIsWoven()
    {
        Assert.That(Woven(Ns + "Statics.DoubleAsync"), Is.EqualTo(new[] { "System.Threading.Tasks.Task`1<System.Int32> Hybrid.Weaver.Fixtures.Statics::DoubleAsync(System.Int32)" }));
        Assert.That(Woven(Ns + "Statics.Range"), Has.Length.EqualTo(1));
    }

    [TestCase("Statics.Ad", "Hybrid.Weaver.Fixtures.Statics.Add")]
    [TestCase("Statix.Greet", "Hybrid.Weaver.Fixtures.Statics.Greet")]
    [TestCase("Counter.Incremnt", "Hybrid.Weaver.Fixtures.Counter.Increment")]
    public void NoMatch_IsAnErrorNamingClosestNames(string selector, string suggestion)
    {
        var result = Run(Ns + selector);
        Assert.That(result.Success, Is.False);
        var error = result.Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error);
        Assert.That(error.Code, Is.EqualTo(DiagnosticCodes.SelectorMatchedNothing));
        Assert.That(error.Message, Does.Contain(Ns + selector).And.Contain(suggestion));
    }

    [Test]
    public void NoMatchingOverload_ListsOverloads()
    {
        var error = Run(Ns + "Statics.Overloaded(System.Double)").Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error);
        Assert.That(error.Message, Does.Contain("Overloaded(System.Int32)").And.Contain("Overloaded(System.String)"));
    }

    [TestCase("NoDots")]
    [TestCase("Ns.Type.Method(int")]
    [TestCase("")]
    public void InvalidSelector(string selector)
        => Assert.That(Run(selector).Diagnostics.Single(d => d.Severity == DiagnosticSeverity.Error).Code, Is.EqualTo(DiagnosticCodes.InvalidSelector));

    [Test]
    public void NoSelectors_IsAnError()
        => Assert.That(Run().Diagnostics.Single().Code, Is.EqualTo(DiagnosticCodes.NoSelectors));

    [TestCase("Statics..cctor", DiagnosticCodes.SkipStaticConstructor)]
    [TestCase("Shape.Area", DiagnosticCodes.SkipNoBody)]
    [TestCase("Statics.VarArgs", DiagnosticCodes.SkipCallingConvention)]
    [TestCase("IGreeter.Hello", DiagnosticCodes.SkipInterface)]
    public void ExplicitlySelectedUnweavableMethod_IsSkippedWithWarning(string selector, string code)
    {
        var result = Run(Ns + selector, Ns + "Statics.Add");
        Assert.That(result.Success, Is.True);
        var warning = result.Diagnostics.Single(d => d.Code == code);
        Assert.That(warning.Severity, Is.EqualTo(DiagnosticSeverity.Warning));
        Assert.That(result.SkippedMethods.Single().Code, Is.EqualTo(code));
        Assert.That(result.WovenMethods, Has.Count.EqualTo(1));
    }

    [Test]
    public void GlobSkips_AreListedNotWarned()
    {
        var result = Run(Ns + "Statics.*");
        Assert.That(result.SkippedMethods.Select(s => s.Code), Is.EquivalentTo(new[] { DiagnosticCodes.SkipStaticConstructor, DiagnosticCodes.SkipCallingConvention }));
        Assert.That(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning).Select(d => d.Code), Is.EquivalentTo(new[] { DiagnosticCodes.SignatureRemoved }));
    }
}
