using System;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests.Internals;

public class PlatformMemoryTests
{
    [Test]
    public void AllocatesWithinReachOfCode()
    {
        var memory = Platform.Memory;
        nint code = typeof(PlatformMemoryTests).GetMethod(nameof(AllocatesWithinReachOfCode))!.MethodHandle.GetFunctionPointer();
        for (int i = 0; i < 50; i++)
        {
            nint p = memory.AllocateNear(code, 2 * memory.PageSize, int.MaxValue);
            Assert.That(p, Is.Not.EqualTo((nint)0), $"allocation {i}");
            Assert.That(Math.Abs((long)p - (long)code), Is.LessThan(int.MaxValue));
            Assert.That(memory.Query(p), Is.EqualTo(PageAccess.ReadWrite));
        }
    }

    [Test]
    public unsafe void TryRead_CopiesReadableMemory_AndRefusesUnreadableWithoutFaulting()
    {
        var memory = Platform.Memory;
        nint page = memory.AllocateNear(typeof(PlatformMemoryTests).TypeHandle.Value, 2 * memory.PageSize, int.MaxValue);
        Assert.That(page, Is.Not.EqualTo((nint)0));
        for (int i = 0; i < 16; i++)
            ((byte*)page)[memory.PageSize - 8 + i] = (byte)(i + 1);
        var buffer = new byte[16];
        Assert.That(memory.TryRead(page + memory.PageSize - 8, buffer), Is.True, "readable across a page boundary");
        Assert.That(buffer, Is.EqualTo(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }));

        Assert.That(memory.TryProtect(page + memory.PageSize, memory.PageSize, PageAccess.None, out _), Is.True);
        var untouched = new byte[16];
        Assert.That(memory.TryRead(page + memory.PageSize - 8, untouched), Is.False, "the second half is no longer readable");
        Assert.That(memory.TryRead(page + memory.PageSize, new byte[8]), Is.False);
        Assert.That(memory.TryRead(page, new byte[8]), Is.True, "and the pipe is still in order afterwards");
        memory.Free(page, 2 * memory.PageSize);
    }
}
