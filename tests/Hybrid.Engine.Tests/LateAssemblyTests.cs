using System;
using System.Linq;
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

    [Test]
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
        }
        Assert.That(CoresSeenByLateCode(), Is.EqualTo(Environment.ProcessorCount));
    }

    /// <summary>Compiling this (not the test) loads the late assembly: after the redirect.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int CoresSeenByLateCode() => Hybrid.LateFixtures.Machine.Cores();
}
