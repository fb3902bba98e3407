using Hybrid.CoreClr;
using System;
using System.Runtime.InteropServices;
using Hybrid.X64;
using NUnit.Framework;

namespace Hybrid.Tests.X64;

/// <summary>
/// <see cref="X64StubMatcher.Classify"/> over stub shapes copied from CoreCLR x64 (.NET 8–10), placed in a buffer:
/// offset 0 holds the code, offset 0x1000 its data (a FixupPrecode's Target and MethodDesc slots). Each calling
/// convention's rows (unboxing stubs adjust rdi/rsi under System V, rcx/rdx on Windows) run on every lane.
/// </summary>
internal unsafe class X64StubMatcherTests
{
    private const long Target = 0x1122334455667788, MethodDesc = 0x0000_7F00_1234_5670;

    /// <summary>Rows whose bytes do not depend on the calling convention, and rows for each (both run on every lane).</summary>
    public static TestCaseData[] Rows() => new[]
    {
        // jmp [rip+0xffa] (→ data+0); mov r10,[rip+0xffb] (→ data+8); jmp [rip+0xffd] (→ data+16)
        Row("ff25fa0f0000 4c8b15fb0f0000 ff25fd0f0000", X64Abi.SystemV, StubKind.FixupPrecode, Target, MethodDesc, "FixupPrecode: target and MethodDesc from its data"),
        // mov r10,[rip+0x1001] (→ data+8); jmp [rip+0xff3] (→ data+0)
        Row("4c8b1501100000 ff25f30f0000", X64Abi.SystemV, StubKind.StubPrecode, Target, MethodDesc, "StubPrecode: target and MethodDesc from its data"),
        // add rdi,8; mov rax,imm64; jmp rax: `this` += 8 (System V), then a jump (next: the jump, 4 bytes in)
        Row("4883c708 48b88877665544332211 ffe0", X64Abi.SystemV, StubKind.UnboxingStub, 4L, 0L, "unboxing stub: this += 8, then a jump"),
        Row("4883c108 48b88877665544332211 ffe0", X64Abi.Windows, StubKind.UnboxingStub, 4L, 0L, "unboxing stub: this += 8, then a jump"),
        // the same adjustment of the other convention's register is not `this`
        Row("4883c108 48b88877665544332211 ffe0", X64Abi.SystemV, StubKind.Body, 0L, 0L, "add rcx,8 then a jump: a body (rcx is the 4th argument)"),
        Row("4883c708 48b88877665544332211 ffe0", X64Abi.Windows, StubKind.Body, 0L, 0L, "add rdi,8 then a jump: a body (rdi is not an argument)"),
        // `this` in the second argument register, after a hidden return buffer
        Row("4883c608 48b88877665544332211 ffe0", X64Abi.SystemV, StubKind.UnboxingStub, 4L, 0L, "unboxing stub: this in the second argument register"),
        Row("4883c208 48b88877665544332211 ffe0", X64Abi.Windows, StubKind.UnboxingStub, 4L, 0L, "unboxing stub: this in the second argument register"),
        // mov eax,imm32; jmp rax: the runtime's jump stub to a target below 4 GiB (Windows, under Wine)
        Row("b888776655 ffe0", X64Abi.Windows, StubKind.Jump, 0x55667788L, 0L, "jump stub with a 32-bit target"),
        // add rcx,8; mov eax,imm32; jmp rax: the unboxing stub seen on win-x64
        Row("4883c108 b888776655 ffe0", X64Abi.Windows, StubKind.UnboxingStub, 4L, 0L, "unboxing stub with a 32-bit jump target"),
        Row("4883c708 b888776655 ffe0", X64Abi.SystemV, StubKind.UnboxingStub, 4L, 0L, "unboxing stub with a 32-bit jump target"),
        // add r11,8; mov rax,imm64; jmp rax: not an argument register, so a body
        Row("4983c308 48b88877665544332211 ffe0", X64Abi.SystemV, StubKind.Body, 0L, 0L, "add r11,8 then a jump: a body"),
        // add rdi,8; ret: no jump after it, a body
        Row("4883c708 c3", X64Abi.SystemV, StubKind.Body, 0L, 0L, "add rdi,8; ret: a body"),
    };

    private static TestCaseData Row(string hex, X64Abi abi, StubKind kind, long next, long methodDesc, string name) =>
        new TestCaseData(hex, abi, kind, next, methodDesc).SetName($"{name} ({abi})");

    [TestCaseSource(nameof(Rows))]
    public void Classify(string hex, X64Abi abi, StubKind expected, long next, long methodDesc)
    {
        var code = Convert.FromHexString(hex.Replace(" ", ""));
        nint memory = (nint)NativeMemory.Alloc(0x2000);
        try
        {
            new Span<byte>((void*)memory, 0x2000).Fill(0xCC);
            code.CopyTo(new Span<byte>((void*)memory, code.Length));
            *(long*)(memory + 0x1000) = Target;
            *(long*)(memory + 0x1008) = MethodDesc;
            *(long*)(memory + 0x1010) = 0x0BAD;
            var kind = X64StubMatcher.Classify(memory, abi, out var found, out var foundMethodDesc);
            Assert.That(kind, Is.EqualTo(expected));
            // An unboxing stub leads to the jump right after its adjustment, an offset into the buffer.
            Assert.That(kind == StubKind.UnboxingStub ? (long)(found - memory) : (long)found, Is.EqualTo(next));
            Assert.That((long)foundMethodDesc, Is.EqualTo(methodDesc));
        }
        finally
        {
            NativeMemory.Free((void*)memory);
        }
    }
}
