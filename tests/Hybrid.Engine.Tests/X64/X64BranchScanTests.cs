using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Hybrid.X64;
using Iced.Intel;
using NUnit.Framework;

namespace Hybrid.Tests.X64;

/// <summary>
/// <see cref="X64BranchScan"/> over hand-assembled bodies, each shaped like code the JIT emits (the listings below
/// were checked with Iced's disassembler, which the test also asserts). Covered = the bytes a 5-byte jump replaces.
/// </summary>
public unsafe class X64BranchScanTests
{
    public static IEnumerable<TestCaseData> Bodies()
    {
        // push rbp; mov rbp,rsp; L: imul rdi,rsi; dec edx; test edx,edx; jg L; mov rax,rdi; pop rbp; ret
        yield return new TestCaseData("55 488bec 480faffe ffca 85d2 7ff6 488bc7 5d c3", 8, "goes to +0x4")
            .SetName("loop head after a 4-byte prologue: refused");
        // push rbp; mov rbp,rsp; mov eax,1; L: imul rax,rdi; dec esi; test esi,esi; jg L; pop rbp; ret
        yield return new TestCaseData("55 488bec b801000000 480fafc7 ffce 85f6 7ff6 5d c3", 9, null)
            .SetName("loop head right behind the covered bytes: accepted");
        // L: test esi,esi; je done; mov eax,edi; cdq; idiv esi; mov edi,esi; mov esi,edx; jmp L; int3; done: mov eax,edi; ret
        yield return new TestCaseData("85f6 740c 8bc7 99 f7fe 8bfe 8bf2 ebf1 cc 8bc7 c3", 6, "goes to +0x0")
            .SetName("tail recursion turned into a loop to offset 0: refused");
        yield return new TestCaseData(Switch(firstEntry: 0x1d), 7, null)
            .SetName("switch jump table whose cases follow the dispatch: accepted");
        yield return new TestCaseData(Switch(firstEntry: 0x01), 7, "goes to +0x5")
            .SetName("switch jump table with a case inside the covered bytes: refused");
        // lea rax,[rip-5] (= entry+2); jmp rax
        yield return new TestCaseData("488d05fbffffff ffe0", 7, "computes an address inside")
            .SetName("computed jump to an address inside the covered bytes: refused");
        // mov rax,[rdi+8]; jmp rax (a tail call through a pointer)
        yield return new TestCaseData("488b4708 ffe0", 6, null)
            .SetName("tail call through a register: accepted");
    }

    /// <summary>
    /// push rbp; mov rbp,rsp; cmp edi,2; ja default; mov eax,edi; lea rcx,[table]; mov ecx,[rcx+rax*4];
    /// lea rdx,[entry+4]; add rcx,rdx; jmp rcx; three cases; table of offsets from entry+4 (as the JIT emits it).
    /// </summary>
    private static string Switch(int firstEntry) =>
        "55 488bec 83ff02 7726 8bc7 488d0d26000000 8b0c81 488d15e8ffffff 4803ca ffe1" +
        " b80a000000 5dc3 b80b000000 5dc3 b8ffffffff 5dc3 cccc" +
        $" {firstEntry:x2}000000 24000000 2b000000 00000000";

    [TestCaseSource(nameof(Bodies))]
    public void Scan(string hex, int covered, string? expected)
    {
        var code = Convert.FromHexString(hex.Replace(" ", ""));
        nint memory = (nint)NativeMemory.Alloc(4096);
        try
        {
            var page = new Span<byte>((void*)memory, 4096);
            page.Fill(0xCC);
            code.CopyTo(page);
            Assert.That(X64Decoding.DecodeCovering(memory, 5)[^1].NextIP - (ulong)memory, Is.EqualTo((ulong)covered), "covered bytes as the hook builder decodes them");
            Assert.That(Decodes(code), Is.True, "the listing is valid x64");
            string? refusal = X64BranchScan.FindBranchInto(memory, memory + covered);
            if (expected is null)
                Assert.That(refusal, Is.Null);
            else
                Assert.That(refusal, Does.Contain(expected));
        }
        finally
        {
            NativeMemory.Free((void*)memory);
        }
    }

    private static bool Decodes(byte[] code)
    {
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code));
        // Only the instruction part: the switch listing ends with its table (data).
        int instructions = 0;
        while (decoder.IP < (ulong)code.Length && instructions++ < 12)
            if (decoder.Decode().IsInvalid)
                return false;
        return true;
    }
}
