using System;
using Hybrid.Targets;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Hybrid.X64;

/// <summary>
/// The two x64 calling conventions, where they differ for the engine: the registers of the first arguments (the JIT
/// filter reads its third) and which returned structs travel through a hidden buffer argument — which, on x64, comes
/// after <c>this</c> for instance methods but first for static ones (the stub swaps them when it jumps from an instance
/// original to a static replacement).
/// </summary>
internal sealed class X64Abi
{
    /// <summary>System V AMD64 (Linux, macOS, FreeBSD): arguments in rdi, rsi, rdx, rcx, r8, r9; structs over 16 bytes returned through a buffer.</summary>
    public static readonly X64Abi SystemV = new("System V", new[] { rdi, rsi, rdx, rcx, r8, r9 }, size => size > 16);

    /// <summary>Microsoft x64 (Windows): arguments in rcx, rdx, r8, r9; structs whose size is not 1, 2, 4 or 8 bytes returned through a buffer.</summary>
    public static readonly X64Abi Windows = new("Microsoft x64", new[] { rcx, rdx, r8, r9 }, size => size is not (1 or 2 or 4 or 8));

    private readonly Func<int, bool> _returnsThroughBuffer;

    private X64Abi(string name, AssemblerRegister64[] argumentRegisters, Func<int, bool> returnsThroughBuffer)
    {
        Name = name;
        ArgumentRegisters = argumentRegisters;
        _returnsThroughBuffer = returnsThroughBuffer;
    }

    public string Name { get; }

    /// <summary>The integer argument registers, in order.</summary>
    public AssemblerRegister64[] ArgumentRegisters { get; }

    /// <summary>True when the third integer argument is in r8 (Microsoft x64), false when in rdx (System V).</summary>
    public bool ThirdArgumentIsR8 => ArgumentRegisters[2] == r8;

    /// <summary>True when a method returning <paramref name="type"/> returns it through a hidden pointer argument.</summary>
    public bool ReturnsThroughHiddenBuffer(Type type)
    {
        if (type == typeof(void) || type.IsByRef || type.IsPointer || !type.IsValueType || type.IsPrimitive || type.IsEnum)
            return false;
        return _returnsThroughBuffer(AbiFacts.SizeOf(type));
    }

    public override string ToString() => Name;
}
