using System;
using System.IO;
using System.Linq;
using System.Reflection;
using NUnit.Framework;

namespace Hybrid.Weaving.Tests;

/// <summary>
/// Weaves every method of the real NuGet assemblies Iced.dll and Mono.Cecil.dll, then runs the same deterministic
/// workloads against pristine and woven copies (each in its own collectible context, so they never clash with the
/// test's own Cecil) and requires identical results.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RealAssemblyTests
{
    private TempDir pristine = null!;
    private TempDir woven = null!;
    private byte[] code = null!;

    [OneTimeSetUp]
    public void WeaveIcedAndCecil()
    {
        pristine = TempDir.WithRealLibraries();
        woven = TempDir.WithRealLibraries();
        foreach (var name in new[] { "Iced.dll", "Mono.Cecil.dll" })
        {
            var result = Weave.Ok(woven.File(name), "*");
            TestContext.Out.WriteLine($"{name}: {result.WovenMethods.Count} woven, {result.SkippedMethods.Count} skipped, {result.Elapsed.TotalMilliseconds:F0} ms");
            Assert.That(result.WovenMethods.Count, Is.GreaterThan(2000));
        }
        code = new byte[48 * 1024];
        new Random(12345).NextBytes(code);
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        pristine.Dispose();
        woven.Dispose();
    }

    [Test]
    public void WovenIced_DecodesAndFormatsIdentically()
    {
        var expected = Workloads.Run(pristine, "Iced", code);
        var actual = Workloads.Run(woven, "Iced", code);
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(int.Parse(expected.Split(':')[0]), Is.GreaterThan(10000), "a meaningful number of instructions was decoded");
    }

    [Test]
    public void WovenCecil_ReadsAndWritesIdentically()
    {
        var input = File.ReadAllBytes(TestPaths.Cecil);
        Assert.That(Workloads.Run(woven, "Cecil", input), Is.EqualTo(Workloads.Run(pristine, "Cecil", input)));
    }

    [Test]
    public void WovenCecil_EveryMethodCompilesAndReferencesAreUnchanged()
    {
        // JIT-compiling every woven method (and its Original copy) catches invalid IL that the workloads might
        // not reach; reference sets prove nothing leaked from the weaver's own runtime.
        using var context = new IsolatedContext(woven.Path);
        var asm = context.LoadFile(woven.File("Mono.Cecil.dll"));
        Assert.That(asm.GetReferencedAssemblies().Select(a => a.FullName),
            Is.EquivalentTo(PristineReferences()));
        int compiled = 0, guarded = 0;
        foreach (var type in asm.GetTypes())
        {
            if (type.ContainsGenericParameters)
                continue;
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
            foreach (var m in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (m.ContainsGenericParameters || m.IsAbstract || m.GetMethodBody() == null)
                    continue;
                System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(m.MethodHandle);
                compiled++;
                if (m.GetCustomAttributesData().Any(a => a.AttributeType.FullName == "Hybrid.Woven.HybridGuardAttribute"))
                {
                    Assert.That(Contract.HandlerType(m).GetMethod("Invoke"), Is.Not.Null);
                    guarded++;
                }
            }
        }
        TestContext.Out.WriteLine($"JIT-compiled {compiled} methods of woven Mono.Cecil ({guarded} guarded, non-generic)");
        Assert.That(guarded, Is.GreaterThan(1000));
    }

    private string[] PristineReferences()
    {
        using var context = new IsolatedContext(pristine.Path);
        return context.LoadFile(pristine.File("Mono.Cecil.dll")).GetReferencedAssemblies().Select(a => a.FullName).ToArray();
    }

    [Test]
    public void WovenIced_SlotRedirectsFormatter()
    {
        var nop = new byte[] { 0x90 };
        Assert.That(Workloads.Run(woven, "FormatFirst", nop), Is.EqualTo("nop"));
        var redirected = Workloads.Run(woven, "FormatFirst", nop, context =>
        {
            var iced = context.LoadFromAssemblyName(new AssemblyName("Iced"));
            var formatter = iced.GetType("Iced.Intel.IntelFormatter")!;
            var format = formatter.GetMethods().Single(m => m.Name == "Format" && m.DeclaringType == formatter && m.GetParameters().Length == 2);
            var output = iced.GetType("Iced.Intel.FormatterOutput")!;
            var write = output.GetMethod("Write", new[] { typeof(string), iced.GetType("Iced.Intel.FormatterTextKind")! })!;
            var text = Enum.Parse(iced.GetType("Iced.Intel.FormatterTextKind")!, "Text");
            Contract.Redirect(format, a =>
            {
                write.Invoke(a[2], new[] { "REDIRECTED", text });
                return null;
            });
        });
        Assert.That(redirected, Is.EqualTo("REDIRECTED"));
    }
}
