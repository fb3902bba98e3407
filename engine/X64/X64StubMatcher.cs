using Iced.Intel;

namespace Hybrid.X64;

/// <summary>What sits at an address the runtime hands out as a method's entry.</summary>
internal enum X64StubKind
{
    /// <summary>Not a stub we know: treat as the method's compiled body.</summary>
    Body,
    /// <summary>CoreCLR FixupPrecode: <c>jmp [rip+Target]; mov r10,[rip+MethodDesc]; jmp [rip+PrecodeFixupThunk]</c>.</summary>
    FixupPrecode,
    /// <summary>FixupPrecode whose target is still its own fixup half: the method has not been compiled.</summary>
    UncompiledFixupPrecode,
    /// <summary>CoreCLR StubPrecode: <c>mov r10,[rip+MethodDesc]; jmp [rip+Target]</c>.</summary>
    StubPrecode,
    /// <summary>CoreCLR call-counting stub: <c>mov rax,[rip+Counter]; dec word [rax]; je ..; jmp [rip+Target]</c>.</summary>
    CallCountingStub,
    /// <summary>A plain jump: <c>jmp rel32</c>, <c>jmp [rip+X]</c> or the runtime's jump stub <c>mov rax,imm64; jmp rax</c> (<c>mov eax,imm32</c> below 4 GiB).</summary>
    Jump,
    /// <summary>
    /// CoreCLR unboxing stub of a struct's virtual or interface method: <c>add this,8</c> then a jump to the method's
    /// own entry (next: the jump after the adjustment). Reflection hands out the unboxing-stub MethodDesc for such methods, so its precode leads here;
    /// patching this stub would redirect only boxed calls, and with <c>this</c> pointing at the box header.
    /// </summary>
    UnboxingStub,
}

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
    public static X64StubKind Classify(nint address, out nint next, out nint methodDesc)
    {
        next = 0;
        methodDesc = 0;
        var first = X64Decoding.DecodeOne(address);
        if (first.IsInvalid)
            return X64StubKind.Body;
        var second = X64Decoding.DecodeOne(address + first.Length);

        if (first.Code == Code.Jmp_rm64 && first.IsIPRelativeMemoryOperand)
        {
            next = *(nint*)X64Decoding.RipTarget(first);
            if (second.Code == Code.Mov_r64_rm64 && second.Op0Register == Register.R10 && second.IsIPRelativeMemoryOperand)
            {
                methodDesc = *(nint*)X64Decoding.RipTarget(second);
                return next == address + first.Length ? X64StubKind.UncompiledFixupPrecode : X64StubKind.FixupPrecode;
            }
            return X64StubKind.Jump;
        }
        if (first.Code == Code.Mov_r64_rm64 && first.Op0Register == Register.R10 && first.IsIPRelativeMemoryOperand
            && second.Code == Code.Jmp_rm64 && second.IsIPRelativeMemoryOperand)
        {
            methodDesc = *(nint*)X64Decoding.RipTarget(first);
            next = *(nint*)X64Decoding.RipTarget(second);
            return X64StubKind.StubPrecode;
        }
        // `this` is the first argument, or the second when a hidden return buffer comes first. Whatever follows the
        // adjustment (a plain jump, or an indirection shaped like a precode) is a stub of its own: the walk goes on there.
        if (first.Code is Code.Add_rm64_imm8 or Code.Add_rm64_imm32 && first.Op0Kind == OpKind.Register && first.Immediate32 == 8
            && (first.Op0Register == (Register)X64HookBuilder.ArgumentRegisters[0] || first.Op0Register == (Register)X64HookBuilder.ArgumentRegisters[1]))
        {
            if (Classify(address + first.Length, out _, out _) is X64StubKind.Body or X64StubKind.UncompiledFixupPrecode)
                return X64StubKind.Body;
            next = address + first.Length;
            return X64StubKind.UnboxingStub;
        }
        if (first.Code == Code.Mov_r64_rm64 && first.Op0Register == Register.RAX && first.IsIPRelativeMemoryOperand
            && second.Mnemonic == Mnemonic.Dec && second.Op0Kind == OpKind.Memory && second.MemoryBase == Register.RAX)
        {
            var third = X64Decoding.DecodeOne(address + first.Length + second.Length);
            var fourth = X64Decoding.DecodeOne(address + first.Length + second.Length + third.Length);
            if (third.FlowControl == FlowControl.ConditionalBranch && fourth.Code == Code.Jmp_rm64 && fourth.IsIPRelativeMemoryOperand)
            {
                next = *(nint*)X64Decoding.RipTarget(fourth);
                return X64StubKind.CallCountingStub;
            }
        }
        if (first.Code is Code.Jmp_rel32_64 or Code.Jmp_rel8_64)
        {
            next = (nint)first.NearBranchTarget;
            return X64StubKind.Jump;
        }
        // The runtime's jump stub: `mov rax, imm64; jmp rax`, or `mov eax, imm32; jmp rax` when the target lies below
        // 4 GiB (seen on Windows, where the runtime's code can be mapped low).
        if ((first.Code == Code.Mov_r64_imm64 && first.Op0Register == Register.RAX || first.Code == Code.Mov_r32_imm32 && first.Op0Register == Register.EAX)
            && second.Code == Code.Jmp_rm64 && second.Op0Kind == OpKind.Register && second.Op0Register == Register.RAX)
        {
            next = first.Code == Code.Mov_r64_imm64 ? (nint)first.Immediate64 : (nint)first.Immediate32;
            return X64StubKind.Jump;
        }
        return X64StubKind.Body;
    }
}
