using Hybrid.Compat;
using System;
using System.Diagnostics.CodeAnalysis;
using System.Reflection.Emit;

namespace Hybrid.Targets;

/// <summary>Facts about the machine-level calling convention the engine must respect when it forwards a call.</summary>
internal static class AbiFacts
{
    /// <summary>
    /// True when the method returns its value through a hidden pointer argument. On x64 that pointer comes after
    /// <c>this</c> for instance methods but first for static ones, which is why the stub swaps them when it jumps
    /// from an instance original to a static replacement. Rules: System V — structs larger than 16 bytes;
    /// Windows x64 — structs whose size is not 1, 2, 4 or 8 bytes.
    /// </summary>
    public static bool ReturnsThroughHiddenBuffer(Type type)
    {
        if (type == typeof(void) || type.IsByRef || type.IsPointer || !type.IsValueType || type.IsPrimitive || type.IsEnum)
            return false;
        int size = SizeOf(type);
        return Host.IsWindows ? size is not (1 or 2 or 4 or 8) : size > 16;
    }

    /// <summary>The managed size (IL <c>sizeof</c>), which works for every value type including ref structs.</summary>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Os.AotJustifications.NativeOnly)]
    public static int SizeOf(Type type)
    {
        var method = new DynamicMethod("Hybrid.SizeOf", typeof(int), Type.EmptyTypes, typeof(AbiFacts).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        il.Emit(OpCodes.Sizeof, type);
        il.Emit(OpCodes.Ret);
        return ((Func<int>)method.CreateDelegate(typeof(Func<int>)))();
    }
}
