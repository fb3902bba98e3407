using System;
using System.Runtime.InteropServices;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>Each target framework's run really executes on that runtime (CI runs all three from one dotnet root).</summary>
public class RuntimeIdentityTests
{
#if NET10_0
    private const int Expected = 10;
#elif NET9_0
    private const int Expected = 9;
#else
    private const int Expected = 8;
#endif

    [Test]
    public void RunsOnTheRuntimeItTargets()
    {
        TestContext.Out.WriteLine($"Engine tests running on {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.ProcessArchitecture})");
        Assert.That(Environment.Version.Major, Is.EqualTo(Expected), RuntimeInformation.FrameworkDescription);
    }
}
