using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests.Internals;

/// <summary>
/// The platform layer (engine/Platform.cs) picks every seam once for CPU × OS × runtime; no other file asks which
/// platform it is on.
/// </summary>
public class PlatformTests
{
    [Test]
    public void SeamsMatchThisProcess()
    {
        var cpu = RuntimeInformation.ProcessArchitecture;
        Assert.That(Platform.Cpu, cpu == Architecture.Arm64 ? Is.InstanceOf<Hybrid.Arm64.Arm64Hooks>() : Is.InstanceOf<Hybrid.X64.X64Hooks>());
        Assert.That(Platform.CodeReader, cpu == Architecture.Arm64 ? Is.InstanceOf<Hybrid.Arm64.Arm64CodeReader>() : Is.InstanceOf<Hybrid.X64.X64CodeReader>());
        Type fence = cpu == Architecture.Arm64 ? (OperatingSystem.IsLinux() ? typeof(LinuxArm64ThreadFence) : typeof(NoThreadFence))
            : OperatingSystem.IsLinux() ? typeof(LinuxX64ThreadFence)
            : OperatingSystem.IsWindows() ? typeof(WindowsX64ThreadFence)
            : typeof(NoThreadFence);
        Assert.That(Platform.Fence, Is.InstanceOf(fence));
        Assert.That(Platform.Runtime, Is.InstanceOf<Hybrid.CoreClr.CoreClrRuntime>(), "this suite runs on CoreCLR (Mono has its own lane)");
        Assert.That(Platform.Memory, OperatingSystem.IsWindows() ? Is.InstanceOf<WindowsMemory>() : OperatingSystem.IsLinux() ? Is.InstanceOf<LinuxMemory>() : Is.InstanceOf<PosixMemory>());
    }

    /// <summary>The fakes the suite relies on (tests/Shared/FakeOs.cs) see what they claim to see.</summary>
    [Test, NonParallelizable]
    [Category(Categories.NativeOnly)]
    public void TheFakeOsCountsAndRefusesThroughTheSeams()
    {
        var method = typeof(FakeTarget).GetMethod(nameof(FakeTarget.Sevenfold))!;
        using (var writes = FakeOs.CountingCodeWrites())
        {
            using (Engine.Redirect(method, new Func<int, int>(x => -x)))
                Assert.That(FakeTarget.Sevenfold(2), Is.EqualTo(-2));
            Assert.That(writes.Writes, Is.EqualTo(2), "the entry jump and its restore");
        }
        var forced = Engine.ForcedStrategy;
        Engine.ForcedStrategy = RedirectStrategy.NativeJump;
        try
        {
            using (FakeOs.RefusingCodeWrites())
                Assert.That(() => Engine.Redirect(method, new Func<int, int>(x => -x)), Throws.InstanceOf<NotSupportedException>().With.Message.Contains("enforces W^X"));
            Assert.That(Os.NativePatching.UnavailableReason, Is.Null, "a write refused while pinned is not remembered");
            using (FakeOs.RefusingNativePatching())
                Assert.That(Os.NativePatching.UnavailableReason, Does.Contain("enforces W^X").And.Contain("EACCES"));
            Assert.That(Os.NativePatching.UnavailableReason, Is.Null, "the real OS is back");
        }
        finally
        {
            Engine.ForcedStrategy = forced;
        }
        using (Engine.Redirect(method, new Func<int, int>(x => x + 1)))
            Assert.That(FakeTarget.Sevenfold(2), Is.EqualTo(3));
        Assert.That(FakeTarget.Sevenfold(2), Is.EqualTo(14));
    }

    public static class FakeTarget
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        public static int Sevenfold(int x) => x * 7;
    }

    private static readonly Regex PlatformQuestion = new(
        @"Host\.Is(Linux|Windows|MacOS|FreeBSD|Mono|CoreClr|NetFramework)\b|RuntimeInformation\.(ProcessArchitecture|IsOSPlatform)|OperatingSystem\.Is\w+\(",
        RegexOptions.Compiled);

    /// <summary>
    /// Only <c>Platform.cs</c> asks, and <c>Compat/</c>, which answers the question for both builds. The platform
    /// folders' files do not ask either: each is an implementation for the platform its name says (a file that
    /// depends on two axes is named for both, <c>LinuxX64ThreadFence.cs</c>), and Platform.cs names it.
    /// </summary>
    private static readonly string[] PlatformLayer = { "Compat" };

    [Test]
    public void NoEngineFileButPlatformCsAsksWhichPlatformItIsOn()
    {
        var engine = FindEngineSources();
        if (engine is null)
            Assert.Ignore("the engine's sources are not next to this test run (a published test program)");
        var offenders = Directory.GetFiles(engine, "*.cs", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(engine, path).Replace('\\', '/'))
            .Where(relative => !relative.StartsWith("obj/", StringComparison.Ordinal) && !relative.StartsWith("bin/", StringComparison.Ordinal))
            .Where(relative => relative != "Platform.cs" && !PlatformLayer.Any(folder => relative.StartsWith(folder + "/", StringComparison.Ordinal)))
            .SelectMany(relative => File.ReadLines(Path.Combine(engine, relative))
                .Select((line, index) => (relative, line: index + 1, text: line.Trim()))
                .Where(l => !l.text.StartsWith("//", StringComparison.Ordinal) && PlatformQuestion.IsMatch(l.text)))
            .Select(l => $"{l.relative}:{l.line}: {l.text}")
            .ToList();
        Assert.That(offenders, Is.Empty, "ask a seam of engine/Platform.cs for a capability instead");
    }

    private static string? FindEngineSources()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "engine", "Platform.cs");
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "Hybrid.sln")))
                return Path.GetDirectoryName(candidate);
        }
        return null;
    }
}
