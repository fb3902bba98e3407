using System.Collections.Generic;
using Hybrid.CoreClr;
using Iced.Intel;

namespace Hybrid.X64;

/// <summary>x64 reading of CoreCLR code: stubs by <see cref="X64StubMatcher"/>, calls decoded with Iced.</summary>
internal sealed unsafe class X64CodeReader : ICodeReader
{
    private readonly X64Abi _abi;

    public X64CodeReader(X64Abi abi) => _abi = abi;

    public StubKind Classify(nint address, out nint next, out nint methodDesc) => X64StubMatcher.Classify(address, _abi, out next, out methodDesc);

    public nint FindCalledEntry(nint code, ulong? key)
    {
        bool keyLoaded = false;
        nint found = 0;
        var constants = new Dictionary<Register, ulong>();
        // Decode one instruction at a time and stop at the first return: the bytes after the code may not be mapped.
        for (nint at = code; at < code + 4096;)
        {
            var ins = X64Decoding.DecodeOne(at);
            at += ins.Length;
            if (ins.IsInvalid)
                break;
            // A constant below 4 GiB is loaded with `mov r32, imm32` (zero-extended): Windows maps the runtime low.
            if (ins.Code is Code.Mov_r64_imm64 or Code.Mov_r32_imm32)
            {
                ulong value = ins.Code == Code.Mov_r64_imm64 ? ins.Immediate64 : ins.Immediate32;
                constants[ins.Op0Register.GetFullRegister()] = value;
                keyLoaded |= value == key;
            }
            else if ((ins.Mnemonic == Mnemonic.Call || IsTailCall(ins, code)) && (keyLoaded || key is null))
            {
                // The call through the method's indirection cell: `call [rip+cell]` (or `[abs32]`), `call [reg]` after
                // `mov reg, cell` (a vtable slot of a virtual method), or `call rel32` to its precode.
                nint entry = 0;
                if (ins.Op0Kind == OpKind.Memory && ins.IsIPRelativeMemoryOperand)
                    entry = *(nint*)X64Decoding.RipTarget(ins);
                else if (ins.Op0Kind == OpKind.Memory && ins.MemoryBase == Register.None && ins.MemoryIndex == Register.None)
                    entry = *(nint*)(nint)ins.MemoryDisplacement64; // `call [abs32]`: a cell below 2 GiB (Windows)
                else if (ins.Op0Kind == OpKind.Memory && ins.MemoryIndex == Register.None && constants.TryGetValue(ins.MemoryBase, out var cell))
                    entry = *(nint*)(nint)(cell + ins.MemoryDisplacement64);
                else if (ins.Op0Kind is OpKind.NearBranch64)
                    entry = (nint)ins.NearBranchTarget;
                if (key is not null)
                    return entry;
                if (entry != 0)
                    found = entry;
            }
            // The code ends at its return; a body that ends in a throw ends with int3 or ud2 instead.
            if (ins.FlowControl is FlowControl.Return or FlowControl.Interrupt or FlowControl.Exception or FlowControl.UnconditionalBranch)
                break;
        }
        return found;
    }

    /// <summary>The JIT may end the probe with a tail call (<c>jmp</c> in place of <c>call; ret</c>) to a void method.</summary>
    private static bool IsTailCall(in Instruction ins, nint code) =>
        ins.Mnemonic == Mnemonic.Jmp
        && (ins.Op0Kind == OpKind.Memory || (ins.Op0Kind == OpKind.NearBranch64 && (ins.NearBranchTarget < (ulong)code || ins.NearBranchTarget >= (ulong)code + 4096)));
}
