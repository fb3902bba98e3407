using Hybrid.CoreClr;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

#if NET
namespace Hybrid.X64;

/// <summary>
/// Linux x64: the tiering worker is the thread named ".NET Tiered Compilation Worker", which the kernel keeps as
/// ".NET Tiered Com" (16 bytes with the NUL).
/// </summary>
internal sealed class LinuxX64TieringWorkerTest : IX64TieringWorkerTest
{
    public static readonly LinuxX64TieringWorkerTest Instance = new();

    /// <summary>The name is read with the prctl(PR_GET_NAME) system call; rdi, rsi and rcx (which it clobbers) are kept.</summary>
    public void EmitJumpUnlessWorker(Assembler asm, Label notWorker)
    {
        var differs = asm.CreateLabel();
        var worker = asm.CreateLabel();
        asm.push(rdi);
        asm.push(rsi);
        asm.push(rcx); // syscall clobbers rcx and r11
        asm.sub(rsp, 16);
        asm.mov(edi, 16); // PR_GET_NAME: 16 bytes, NUL-terminated
        asm.mov(rsi, rsp);
        asm.mov(eax, 157); // prctl
        asm.syscall();
        asm.mov(rax, __qword_ptr[rsp]);
        asm.mov(r10, TieringFreeze.NameWord(0));
        asm.cmp(rax, r10);
        asm.jne(differs);
        asm.mov(rax, __qword_ptr[rsp + 8]);
        asm.mov(r10, TieringFreeze.NameWord(8));
        asm.cmp(rax, r10);
        asm.je(worker);
        asm.Label(ref differs);
        Restore();
        asm.jmp(notWorker);
        asm.Label(ref worker);
        Restore();

        void Restore()
        {
            asm.add(rsp, 16);
            asm.pop(rcx);
            asm.pop(rsi);
            asm.pop(rdi);
        }
    }
}
#endif
