using Hybrid.CoreClr;
using Iced.Intel;

namespace Hybrid.X64;

/// <summary>
/// Recognises the stubs CoreCLR (.NET 8, 9, 10) puts between a method's stable entry point and its code, by
/// decoding them. Displacements are followed rather than hard-coded, so the 0x1000/0x4000 data-page offsets of
/// different runtime versions need no special cases.
/// </summary>
internal static unsafe class X64StubMatcher
{
    /// <summary>
    /// What sits at <paramref name="address"/>; <paramref name="next"/> is where it leads, and for a precode
    /// <paramref name="methodDesc"/> is the MethodDesc it serves (the key the JIT compiles that code under), else 0.
    /// </summary>
    public static StubKind Classify(nint address, X64Abi abi, out nint next, out nint methodDesc)
    {
        next = 0;
        methodDesc = 0;
        var first = X64Decoding.DecodeOne(address);
        if (first.IsInvalid)
            return StubKind.Body;
        var second = X64Decoding.DecodeOne(address + first.Length);

        if (first.Code == Code.Jmp_rm64 && first.IsIPRelativeMemoryOperand)
        {
            next = *(nint*)X64Decoding.RipTarget(first);
            if (second.Code == Code.Mov_r64_rm64 && second.Op0Register == Register.R10 && second.IsIPRelativeMemoryOperand)
            {
                methodDesc = *(nint*)X64Decoding.RipTarget(second);
                return next == address + first.Length ? StubKind.UncompiledFixupPrecode : StubKind.FixupPrecode;
            }
            return StubKind.Jump;
        }
        if (first.Code == Code.Mov_r64_rm64 && first.Op0Register == Register.R10 && first.IsIPRelativeMemoryOperand
            && second.Code == Code.Jmp_rm64 && second.IsIPRelativeMemoryOperand)
        {
            methodDesc = *(nint*)X64Decoding.RipTarget(first);
            next = *(nint*)X64Decoding.RipTarget(second);
            return StubKind.StubPrecode;
        }
        // `this` is the first argument, or the second when a hidden return buffer comes first. Whatever follows the
        // adjustment (a plain jump, or an indirection shaped like a precode) is a stub of its own: the walk goes on there.
        if (first.Code is Code.Add_rm64_imm8 or Code.Add_rm64_imm32 && first.Op0Kind == OpKind.Register && first.Immediate32 == 8
            && (first.Op0Register == (Register)abi.ArgumentRegisters[0] || first.Op0Register == (Register)abi.ArgumentRegisters[1]))
        {
            if (Classify(address + first.Length, abi, out _, out _) is StubKind.Body or StubKind.UncompiledFixupPrecode)
                return StubKind.Body;
            next = address + first.Length;
            return StubKind.UnboxingStub;
        }
        if (first.Code == Code.Mov_r64_rm64 && first.Op0Register == Register.RAX && first.IsIPRelativeMemoryOperand
            && second.Mnemonic == Mnemonic.Dec && second.Op0Kind == OpKind.Memory && second.MemoryBase == Register.RAX)
        {
            var third = X64Decoding.DecodeOne(address + first.Length + second.Length);
            var fourth = X64Decoding.DecodeOne(address + first.Length + second.Length + third.Length);
            if (third.FlowControl == FlowControl.ConditionalBranch && fourth.Code == Code.Jmp_rm64 && fourth.IsIPRelativeMemoryOperand)
            {
                next = *(nint*)X64Decoding.RipTarget(fourth);
                return StubKind.CallCountingStub;
            }
        }
        if (first.Code is Code.Jmp_rel32_64 or Code.Jmp_rel8_64)
        {
            next = (nint)first.NearBranchTarget;
            return StubKind.Jump;
        }
        // The runtime's jump stub: `mov rax, imm64; jmp rax`, or `mov eax, imm32; jmp rax` when the target lies below
        // 4 GiB (seen on Windows, where the runtime's code can be mapped low).
        if ((first.Code == Code.Mov_r64_imm64 && first.Op0Register == Register.RAX || first.Code == Code.Mov_r32_imm32 && first.Op0Register == Register.EAX)
            && second.Code == Code.Jmp_rm64 && second.Op0Kind == OpKind.Register && second.Op0Register == Register.RAX)
        {
            next = first.Code == Code.Mov_r64_imm64 ? (nint)first.Immediate64 : (nint)first.Immediate32;
            return StubKind.Jump;
        }
        return StubKind.Body;
    }
}
