using System;
using Hybrid.X64;
using NUnit.Framework;

namespace Hybrid.Tests.X64;

/// <summary>
/// The two x64 calling conventions as data, checked on every lane (Windows x64 runs under Wine only): which returned
/// structs travel through a hidden buffer (System V ABI 3.2.3: classes over 16 bytes are MEMORY; Microsoft x64
/// calling convention, "Return values": only sizes 1, 2, 4 and 8 come back in RAX) and where the third argument is.
/// </summary>
public class X64AbiTests
{
#pragma warning disable CS0649 // only their sizes matter
    private struct One { public byte A; }
    private struct Three { public byte A, B, C; }
    private struct Eight { public long A; }
    private struct Twelve { public int A, B, C; }
    private struct Sixteen { public long A, B; }
#pragma warning restore CS0649

    [TestCase(typeof(One), false, false)]
    [TestCase(typeof(Three), false, true)]
    [TestCase(typeof(Eight), false, false)]
    [TestCase(typeof(Twelve), false, true)]
    [TestCase(typeof(Sixteen), false, true)]
    [TestCase(typeof(Big), true, true)]
    [TestCase(typeof(int), false, false)]
    [TestCase(typeof(decimal), false, true)]
    [TestCase(typeof(string), false, false)]
    [TestCase(typeof(void), false, false)]
    public void HiddenReturnBuffer(Type type, bool systemV, bool windows)
    {
        Assert.That(X64Abi.SystemV.ReturnsThroughHiddenBuffer(type), Is.EqualTo(systemV), "System V");
        Assert.That(X64Abi.Windows.ReturnsThroughHiddenBuffer(type), Is.EqualTo(windows), "Microsoft x64");
    }

    [Test]
    public void ThirdArgumentRegister()
    {
        Assert.That(X64Abi.SystemV.ThirdArgumentIsR8, Is.False, "rdi, rsi, rdx");
        Assert.That(X64Abi.Windows.ThirdArgumentIsR8, Is.True, "rcx, rdx, r8");
    }
}
