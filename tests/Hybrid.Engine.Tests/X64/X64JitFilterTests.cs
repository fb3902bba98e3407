using System.Collections.Generic;
using System.Linq;
using Hybrid.CoreClr;
using Hybrid.X64;
using NUnit.Framework;

namespace Hybrid.Tests.X64;

/// <summary>
/// The x64 tier-up filter in front of the JIT, as GNU objdump reads it, for each ABI and each OS's tiering-thread test
/// (the filter itself runs in every compile of the Linux x64 and Windows lanes; HoldTests prove what it is for).
/// Off Linux there is no objdump, and these are skipped.
/// </summary>
[TestFixture]
public class X64JitFilterTests
{
    private const ulong At = 0x0000_7f00_0000_0000;
    private static readonly nint Original = unchecked((nint)0x0000_7f00_1234_5678L);
    private static readonly nint GetThreadDescription = unchecked((nint)0x0000_7ffa_0000_1000L), LocalFree = unchecked((nint)0x0000_7ffa_0000_2000L);
    private static readonly JitFilterTables Tables = new(unchecked((nint)0x0000_7f00_aaaa_0000L), unchecked((nint)0x0000_7f00_bbbb_0000L), 256, TieringFreeze.NameWord(0), TieringFreeze.NameWord(8));

    private static List<string> Listing(X64Abi abi, IX64TieringWorkerTest? worker)
    {
        var lines = X64Objdump.Disassemble(X64JitFilter.Build(At, Original, Tables, abi, worker), At);
        if (lines is null)
            Assert.Ignore("objdump reads x64 code in the Linux lanes only");
        return lines!.Select(l => $"{l.Mnemonic} {l.Operands}".Trim()).ToList();
    }

    private static int Count(List<string> code, string instruction) => code.Count(l => l == instruction);

    [Test]
    public void SystemVWithLinuxWorkerTestCallsTheJitAndAsksTheThreadNameOnBothPaths()
    {
        var code = Listing(X64Abi.SystemV, LinuxX64TieringWorkerTest.Instance);
        Assert.That(code[0], Is.EqualTo("mov rax,QWORD PTR [rdx]"), "ftn from CORINFO_METHOD_INFO*, the third argument (rdx)");
        Assert.That(code, Does.Contain($"movabs rax,0x{Original:x}"));
        Assert.That(Count(code, "call rax"), Is.EqualTo(1), "the JIT is called, so a compile that finished while held can be declined");
        Assert.That(Count(code, "jmp rax"), Is.Zero);
        Assert.That(Count(code, "syscall"), Is.EqualTo(2), "prctl(PR_GET_NAME) after the compile and on the held path");
        Assert.That(Count(code, "mov eax,0x9d"), Is.EqualTo(2), "prctl is system call 157");
        Assert.That(code, Does.Contain("mov eax,0x80000004"), "CORJIT_SKIPPED for a held method");
    }

    [Test]
    public void MicrosoftX64JumpsOnToTheJitAndAsksGetThreadDescriptionOnTheHeldPath()
    {
        var code = Listing(X64Abi.Windows, new WindowsX64TieringWorkerTest(GetThreadDescription, LocalFree));
        Assert.That(code[0], Is.EqualTo("mov rax,QWORD PTR [r8]"), "ftn from the third argument (r8)");
        Assert.That(Count(code, "jmp rax"), Is.EqualTo(1), "two compileMethod arguments are on the stack: the way on stays a jump");
        Assert.That(code[code.IndexOf("jmp rax") - 1], Is.EqualTo($"movabs rax,0x{Original:x}"));
        Assert.That(code, Does.Contain($"movabs rax,0x{GetThreadDescription:x}"));
        Assert.That(code, Does.Contain($"movabs rax,0x{LocalFree:x}"));
        Assert.That(Count(code, "call rax"), Is.EqualTo(2), "GetThreadDescription and LocalFree; never the JIT");
        Assert.That(Count(code, "syscall"), Is.Zero);
        Assert.That(code, Does.Contain("mov eax,0x80000004"));
    }

    [Test]
    public void WithoutAWorkerTestEveryCompileOfAHeldMethodIsDeclined()
    {
        foreach (var abi in new[] { X64Abi.SystemV, X64Abi.Windows })
        {
            var code = Listing(abi, null);
            Assert.That(Count(code, "jmp rax"), Is.EqualTo(1), abi.Name);
            Assert.That(code.Any(l => l.StartsWith("call", System.StringComparison.Ordinal) || l == "syscall"), Is.False, abi.Name);
            int deny = code.IndexOf("mov eax,0x80000004");
            Assert.That(deny, Is.GreaterThan(code.IndexOf("jmp rax")), abi.Name);
            Assert.That(code[deny + 1], Is.EqualTo("ret"), abi.Name);
        }
    }
}
