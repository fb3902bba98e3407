using System;
using System.Collections.Generic;
using static Hybrid.Arm64.Arm64Instructions;

namespace Hybrid.Arm64;

/// <summary>
/// arm64 machine code as words, with labels that branches may name before they are placed, and 64-bit literals loaded
/// with LDR (literal) from a pool after the code (8-byte aligned, a BRK pads to it). For the engine's small routines
/// (<see cref="LinuxArm64JitFilter"/>, <see cref="Os.LinuxArm64ThreadFence"/>); each is checked against GNU objdump.
/// </summary>
internal sealed class Arm64Emitter
{
    private readonly ulong _at;
    private readonly List<uint> _words = new();
    private readonly Dictionary<string, int> _labels = new();
    private readonly List<(int Index, string Label, Func<ulong, ulong, uint> Encode)> _branches = new();
    private readonly List<(int Index, int Register, ulong Value)> _literals = new();

    public Arm64Emitter(ulong at) => _at = at;

    public void Emit(uint word) => _words.Add(word);

    public void Label(string name) => _labels.Add(name, _words.Count);

    public void Branch(string label, Func<ulong, ulong, uint> encode)
    {
        _branches.Add((_words.Count, label, encode));
        _words.Add(Nop);
    }

    public void EmitLiteralLoad(int register, ulong value)
    {
        _literals.Add((_words.Count, register, value));
        _words.Add(Nop);
    }

    public byte[] Finish()
    {
        foreach (var (index, label, encode) in _branches)
            _words[index] = encode(Address(index), Address(_labels[label]));
        if (_words.Count % 2 != 0)
            _words.Add(Brk(0));
        foreach (var (index, register, value) in _literals)
        {
            int pool = _words.Count;
            _words.Add((uint)value);
            _words.Add((uint)(value >> 32));
            _words[index] = LdrLiteral64(register, Address(index), Address(pool));
        }
        var bytes = new byte[_words.Count * 4];
        for (int i = 0; i < _words.Count; i++)
            WriteWord(bytes, i * 4, _words[i]);
        return bytes;
    }

    private ulong Address(int index) => _at + (ulong)index * 4;
}
