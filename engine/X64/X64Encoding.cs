using System;
using System.Collections.Generic;
using Iced.Intel;

namespace Hybrid.X64;

/// <summary>Encodes instruction lists with Iced's BlockEncoder, which also relocates rip-relative operands and branches.</summary>
internal static class X64Encoding
{
    private sealed class Sink : CodeWriter
    {
        public readonly List<byte> Bytes = new();

        public override void WriteByte(byte value) => Bytes.Add(value);
    }

    public static byte[] Encode(ulong ip, IList<Instruction> instructions) => Encode(ip, instructions, out _);

    /// <summary>Encodes at <paramref name="ip"/>; <paramref name="offsets"/> gets each instruction's offset in the result.</summary>
    public static byte[] Encode(ulong ip, IList<Instruction> instructions, out uint[] offsets)
    {
        var sink = new Sink();
        if (!BlockEncoder.TryEncode(64, new InstructionBlock(sink, instructions, ip), out var error, out var result, BlockEncoderOptions.ReturnNewInstructionOffsets))
            throw new InvalidOperationException("x64 encoding failed: " + error);
        offsets = result.NewInstructionOffsets;
        return sink.Bytes.ToArray();
    }

    /// <summary>The shortest jump from <paramref name="from"/> to <paramref name="to"/> that needs no register.</summary>
    public static byte[] Jump(ulong from, ulong to)
    {
        long rel8 = (long)to - (long)(from + 2);
        if (rel8 is >= sbyte.MinValue and <= sbyte.MaxValue)
            return Encode(from, new[] { Instruction.CreateBranch(Code.Jmp_rel8_64, to) });
        long rel32 = (long)to - (long)(from + 5);
        if (rel32 is >= int.MinValue and <= int.MaxValue)
            return Encode(from, new[] { Instruction.CreateBranch(Code.Jmp_rel32_64, to) });
        // Beyond ±2 GiB: jmp [rip+0] followed by the absolute target (14 bytes, no register clobbered).
        var bytes = new byte[14];
        bytes[0] = 0xFF;
        bytes[1] = 0x25;
        BitConverter.GetBytes(to).CopyTo(bytes, 6);
        return bytes;
    }

    public static Instruction JumpThrough(ulong cell) =>
        Instruction.Create(Code.Jmp_rm64, new MemoryOperand(Register.RIP, (long)cell));
}
