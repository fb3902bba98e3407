using System;
using System.IO;
using System.Linq;
using System.Runtime.Loader;
using System.Runtime.CompilerServices;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>
/// Call-site guards in an assembly the process has not loaded yet: the redirect is made before the code under test
/// first runs (a test's first line), so the engine must find them itself — otherwise whether a fake works on the IL
/// path depends on which test ran first.
/// </summary>
/// <remarks>
/// Runs first (<c>Order(0)</c>): any Explain or refused redirect of a method without guards makes the engine load the
/// woven assemblies of the folder, this one included, and the scenario would be gone.
/// </remarks>
[NonParallelizable, Order(0)]
public class LateAssemblyTests
{
    private const string Late = "Hybrid.Engine.LateFixtures";

    [Test, Order(1)]
    public void WovenCallSitesInAnAssemblyNotLoadedYetAreFound()
    {
        Assert.That(AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == Late), Is.False,
            "precondition: the late assembly is not loaded yet (this fixture must run before any test that makes the engine look for guards)");
        var processorCount = typeof(Environment).GetProperty(nameof(Environment.ProcessorCount))!.GetMethod!;
        var plan = Engine.Explain(processorCount);
        Assert.That(plan.CanRedirect, Is.True, plan.Summary);
        using (var r = Engine.Redirect(processorCount, new Func<int>(() => 4242)))
        {
            Assert.That(CoresSeenByLateCode(), Is.EqualTo(4242), $"{r.Strategy}: the woven call site in {Late} sees the redirect");
            // Natively the body's jump answers too; the guard must be filled all the same (a tier-1 guard may inline the method).
            Assert.That(CallSiteSlots(LateAssembly()), Is.Not.Empty.And.All.Not.Null, "the guard loaded after the redirect was filled");
        }
        Assert.That(CallSiteSlots(LateAssembly()), Is.All.Null);
        Assert.That(CoresSeenByLateCode(), Is.EqualTo(Environment.ProcessorCount));
    }

    /// <summary>
    /// A plugin: a woven assembly loaded from outside the application's folder, into a load context of its own, while a
    /// redirect is live. Its call-site guard must be filled as it loads — on the IL path nothing else sends its calls to
    /// the replacement (before the fix they ran the original, silently) — and emptied when the redirect goes.
    /// </summary>
    [Test, Order(2)]
    public void WovenCallSitesInAPluginLoadedWhileARedirectIsLiveSeeIt()
    {
        var processorCount = typeof(Environment).GetProperty(nameof(Environment.ProcessorCount))!.GetMethod!;
        string folder = Path.Combine(Path.GetTempPath(), "hybrid-plugin-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string plugin = Path.Combine(folder, Late + ".dll");
            File.Copy(Path.Combine(AppContext.BaseDirectory, Late + ".dll"), plugin);
            var context = new AssemblyLoadContext("hybrid-plugin-" + Guid.NewGuid().ToString("N"));
            Func<int> cores;
            using (var r = Engine.Redirect(processorCount, new Func<int>(() => 4343)))
            {
                var assembly = context.LoadFromAssemblyPath(plugin);
                Assert.That(AssemblyLoadContext.GetLoadContext(assembly), Is.SameAs(context), "precondition: a second copy, in the plugin's own context");
                cores = assembly.GetType("Hybrid.LateFixtures.Machine")!.GetMethod("Cores")!.CreateDelegate<Func<int>>();
                Assert.That(cores(), Is.EqualTo(4343), $"{r.Strategy}: the woven call site in the plugin sees the live redirect");
                Assert.That(CallSiteSlots(assembly), Is.Not.Empty.And.All.Not.Null);
            }
            Assert.That(cores(), Is.EqualTo(Environment.ProcessorCount), "the plugin's guard is emptied with the redirect");
            using (Engine.Redirect(processorCount, new Func<int>(() => 4444)))
                Assert.That(cores(), Is.EqualTo(4444), "a redirect made after the plugin loaded fills its guard too");
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { } // Windows: the plugin stays mapped
        }
    }

    /// <summary>The values of the call-site guard slots the weaver put into <paramref name="assembly"/>.</summary>
    private static object?[] CallSiteSlots(System.Reflection.Assembly assembly) =>
        assembly.GetCustomAttributesData()
            .Where(a => a.AttributeType.FullName == "Hybrid.Woven.HybridCallSitesAttribute")
            .SelectMany(a => ((Type)a.ConstructorArguments[0].Value!).GetNestedTypes(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic))
            .Select(t => t.GetField("Target", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static))
            .Where(f => f is not null)
            .Select(f => f!.GetValue(null))
            .ToArray();

    /// <summary>Compiling this (not the test) loads the late assembly.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static System.Reflection.Assembly LateAssembly() => typeof(Hybrid.LateFixtures.Machine).Assembly;

    /// <summary>Compiling this (not the test) loads the late assembly: after the redirect.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int CoresSeenByLateCode() => Hybrid.LateFixtures.Machine.Cores();
}
