using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

#if NET
namespace Hybrid.X64;

/// <summary>
/// Windows x64: CoreCLR names the tiering worker through SetThreadDescription; it is read back with
/// GetThreadDescription and compared on its first 16 UTF-16 characters, ".NET Tiered Comp".
/// </summary>
internal sealed class WindowsX64TieringWorkerTest : IX64TieringWorkerTest
{
    private readonly nint _getThreadDescription, _localFree;

    /// <param name="getThreadDescription">kernel32's GetThreadDescription.</param>
    /// <param name="localFree">kernel32's LocalFree (the description is allocated by the callee).</param>
    internal WindowsX64TieringWorkerTest(nint getThreadDescription, nint localFree)
    {
        _getThreadDescription = getThreadDescription;
        _localFree = localFree;
    }

    /// <summary>The test, or null when kernel32 lacks GetThreadDescription (before Windows 10 1607).</summary>
    public static WindowsX64TieringWorkerTest? TryCreate() =>
        NativeLibrary.TryLoad("kernel32.dll", out var kernel32)
        && NativeLibrary.TryGetExport(kernel32, "GetThreadDescription", out var getThreadDescription)
        && NativeLibrary.TryGetExport(kernel32, "LocalFree", out var localFree)
            ? new WindowsX64TieringWorkerTest(getThreadDescription, localFree)
            : null;

    /// <summary>The four argument registers and the caller's stack arguments are kept, so that the way on to the real JIT stays a plain jump.</summary>
    public void EmitJumpUnlessWorker(Assembler asm, Label notWorker)
    {
        nint getThreadDescription = _getThreadDescription, localFree = _localFree;
        var free = asm.CreateLabel();
        var noName = asm.CreateLabel();
        asm.push(rcx);
        asm.push(rdx);
        asm.push(r8);
        asm.push(r9);
        asm.sub(rsp, 0x38); // 32 bytes of shadow space, the description pointer at +0x20, the answer at +0x28; 16-aligned
        asm.mov(__qword_ptr[rsp + 0x20], 0);
        asm.mov(__qword_ptr[rsp + 0x28], 0);
        asm.mov(rcx, unchecked((ulong)-2L)); // GetCurrentThread()
        asm.lea(rdx, __qword_ptr[rsp + 0x20]);
        asm.mov(rax, (ulong)getThreadDescription);
        asm.call(rax);
        asm.test(eax, eax);
        asm.js(noName); // a failed HRESULT: no name
        asm.mov(rcx, __qword_ptr[rsp + 0x20]);
        asm.test(rcx, rcx);
        asm.jz(noName);
        const string prefix = ".NET Tiered Comp";
        for (int word = 0; word < 4; word++)
        {
            ulong expected = 0;
            for (int c = 3; c >= 0; c--)
                expected = (expected << 16) | prefix[4 * word + c];
            asm.mov(rax, __qword_ptr[rcx + 8 * word]);
            asm.mov(r10, expected);
            asm.cmp(rax, r10);
            asm.jne(free);
        }
        asm.mov(__qword_ptr[rsp + 0x28], 1);
        asm.Label(ref free);
        asm.mov(rcx, __qword_ptr[rsp + 0x20]);
        asm.mov(rax, (ulong)localFree);
        asm.call(rax);
        asm.Label(ref noName);
        asm.mov(rax, __qword_ptr[rsp + 0x28]);
        asm.add(rsp, 0x38);
        asm.pop(r9);
        asm.pop(r8);
        asm.pop(rdx);
        asm.pop(rcx);
        asm.test(rax, rax);
        asm.jz(notWorker);
    }
}
#endif
