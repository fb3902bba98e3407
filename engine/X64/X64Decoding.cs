using System;
using System.Collections.Generic;
using Iced.Intel;

namespace Hybrid.X64;

/// <summary>Iced over live process memory: decoding is how the engine learns instruction boundaries (no length tables).</summary>
internal static unsafe class X64Decoding
{
    private sealed class MemoryReader : CodeReader
    {
        private readonly byte* _start;
        private readonly int _length;
        private int _position;

        public MemoryReader(nint start, int length)
        {
            _start = (byte*)start;
            _length = length;
        }

        public override int ReadByte() => _position < _length ? _start[_position++] : -1;
    }

    public static Instruction DecodeOne(nint address, int maxLength = 15)
    {
        var decoder = Decoder.Create(64, new MemoryReader(address, maxLength), (ulong)address);
        return decoder.Decode();
    }

    /// <summary>Decodes whole instructions from <paramref name="address"/> until at least <paramref name="minBytes"/> are covered.</summary>
    public static List<Instruction> DecodeCovering(nint address, int minBytes)
    {
        var decoder = Decoder.Create(64, new MemoryReader(address, minBytes + 15), (ulong)address);
        var list = new List<Instruction>();
        while (decoder.IP < (ulong)address + (ulong)minBytes)
            list.Add(decoder.Decode());
        return list;
    }

    public static List<Instruction> Decode(byte[] code, ulong ip)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), ip);
        var list = new List<Instruction>();
        while (decoder.IP < ip + (ulong)code.Length)
            list.Add(decoder.Decode());
        return list;
    }

    /// <summary>For <c>jmp [rip+disp]</c>, <c>mov reg,[rip+disp]</c> and friends: the absolute address of the memory operand.</summary>
    public static nint RipTarget(in Instruction instruction) => (nint)instruction.IPRelativeMemoryAddress;
}
