using System;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests.Internals;

public class PlatformMemoryTests
{
    [Test]
    public void AllocatesWithinReachOfCode()
    {
        var memory = PlatformMemory.Current;
        nint code = typeof(PlatformMemoryTests).GetMethod(nameof(AllocatesWithinReachOfCode))!.MethodHandle.GetFunctionPointer();
        for (int i = 0; i < 50; i++)
        {
            nint p = memory.AllocateNear(code, 2 * memory.PageSize, int.MaxValue);
            Assert.That(p, Is.Not.EqualTo((nint)0), $"allocation {i}");
            Assert.That(Math.Abs((long)p - (long)code), Is.LessThan(int.MaxValue));
            Assert.That(memory.Query(p), Is.EqualTo(PageAccess.ReadWrite));
        }
    }
}
