using System.Linq;
using Hybrid.Arm64;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// The arm64 Linux thread fence's machine code, as GNU objdump reads it. (It runs in the arm64 CoreCLR lane, where the
/// install/dispose stress test asserts that it stopped threads: LifecycleTests.ConcurrentCallersSeeOldOrNewResult….)
/// </summary>
[TestFixture]
public class LinuxArm64ThreadFenceTests
{
    private const ulong At = 0x0000_0055_0000_0000;
    private const ulong State = 0x0000_0055_aaaa_0000;

    private static string A(int word) => $"0x{At + (ulong)word * 4:x}";

    private static string[] Listing(byte[] code) =>
        Objdump.Disassemble(code, At).Select(l => $"{l.Mnemonic} {l.Operands}".Trim()).ToArray();

    [Test]
    public void HandlerCountsItselfInWakesTheWriterAndSleepsUntilReleased()
    {
        var code = LinuxArm64ThreadFence.BuildHandler(At, State);
        var expected = new[]
        {
            $"ldr x9, {A(26)}",
            "ldar w10, [x9]",                  // the generation this signal belongs to
            "add x11, x9, #0x8",
            "ldaxr w12, [x11]",                // arrived += 1, atomically (ARMv8.0: no LSE)
            "add w12, w12, #0x1",
            "stlxr w13, w12, [x11]",
            $"cbnz w13, {A(3)}",
            "mov x0, x11",                     // futex(&arrived, FUTEX_WAKE_PRIVATE, INT_MAX)
            "mov x1, #0x81",
            "mov x2, #0xffff",
            "movk x2, #0x7fff, lsl #16",
            "mov x3, #0x0",
            "mov x8, #0x62",
            "svc #0x0",
            "add x11, x9, #0x10",
            "ldar w2, [x11]",                  // released >= this generation: go
            "cmp w2, w10",
            $"b.cs {A(24)}",
            "mov x0, x11",                     // futex(&released, FUTEX_WAIT_PRIVATE, seen, no timeout)
            "mov x1, #0x80",
            "mov x3, #0x0",
            "mov x8, #0x62",
            "svc #0x0",
            $"b {A(15)}",
            "ret",                             // the kernel restores the interrupted registers
            "brk #0x0",
        };
        Assert.That(Listing(code).Take(expected.Length), Is.EqualTo(expected));
        Assert.That(Arm64Instructions.ReadUInt64(code, 26 * 4), Is.EqualTo(State), "the literal: the shared page");
        Assert.That(code.Length, Is.EqualTo(28 * 4));
    }

    [Test]
    public void RoutineSignalsWaitsThenComparesStoresAndMaintainsTheCacheBeforeItReleases()
    {
        var code = LinuxArm64ThreadFence.BuildRoutine(At, State);
        var expected = new[]
        {
            "mov x10, x0",
            $"ldr x9, {A(80)}",
            "ldaxr w11, [x9]",                 // generation += 1
            "add w11, w11, #0x1",
            "stlxr w15, w11, [x9]",
            $"cbnz w15, {A(2)}",
            "add x16, x9, #0x8",
            "ldar w12, [x16]",                 // arrivals counted from here
            "mov x13, #0x0",
            "mov x14, #0x0",
            "ldr x15, [x10, #16]",             // for each tid: tgkill(tgid, tid, signal)
            "cmp x14, x15",
            $"b.cs {A(23)}",
            "ldr x15, [x10, #24]",
            "ldr x1, [x15, x14, lsl #3]",
            "ldr x0, [x10]",
            "ldr x2, [x10, #8]",
            "mov x8, #0x83",
            "svc #0x0",
            $"cbnz x0, {A(21)}",
            "add x13, x13, #0x1",
            "add x14, x14, #0x1",
            $"b {A(10)}",
            "str x13, [x10, #104]",
            "ldr x14, [x10, #88]",
            "ldar w2, [x16]",                  // until every signalled thread arrived, or the wait limit
            "sub w15, w2, w12",
            "cmp w15, w13",
            $"b.cs {A(36)}",
            "mov x0, x16",
            "mov x1, #0x80",
            "add x3, x9, #0x18",
            "mov x8, #0x62",
            "svc #0x0",
            "sub x14, x14, #0x1",
            $"cbnz x14, {A(25)}",
            "ldar w15, [x16]",
            "sub w15, w15, w12",
            "str x15, [x10, #96]",
            "str xzr, [x10, #112]",
            "ldr x15, [x10, #64]",             // mprotect(start, length, RWX) when the page is not writable
            $"cbz x15, {A(49)}",
            "ldr x0, [x10, #56]",
            "mov x1, x15",
            "ldr x2, [x10, #72]",
            "mov x8, #0xe2",
            "svc #0x0",
            "str x0, [x10, #112]",
            $"cbnz x0, {A(69)}",               // refused (W^X): write nothing
            "ldr x16, [x10, #32]",
            "ldr w15, [x16]",                  // the word still holds what was read: store
            "str x15, [x10, #120]",
            "ldr x17, [x10, #40]",
            "cmp w15, w17",
            $"b.ne {A(62)}",
            "ldr x17, [x10, #48]",
            "str w17, [x16]",
            "dc cvau, x16",                    // B2.4.4, before any thread is let go
            "dsb ish",
            "ic ivau, x16",
            "dsb ish",
            "isb",
            "ldr x15, [x10, #64]",             // the protection back
            $"cbz x15, {A(69)}",
            "ldr x0, [x10, #56]",
            "mov x1, x15",
            "ldr x2, [x10, #80]",
            "mov x8, #0xe2",
            "svc #0x0",
            "add x16, x9, #0x10",              // released = generation; wake the parked threads
            "stlr w11, [x16]",
            "mov x0, x16",
            "mov x1, #0x81",
            "mov x2, #0xffff",
            "movk x2, #0x7fff, lsl #16",
            "mov x3, #0x0",
            "mov x8, #0x62",
            "svc #0x0",
            "ret",
            "brk #0x0",
        };
        Assert.That(Listing(code).Take(expected.Length), Is.EqualTo(expected));
        Assert.That(Arm64Instructions.ReadUInt64(code, 80 * 4), Is.EqualTo(State), "the literal: the shared page");
        Assert.That(code.Length, Is.EqualTo(82 * 4));
    }
}
