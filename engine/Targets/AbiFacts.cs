using System;
using System.Diagnostics.CodeAnalysis;
using System.Reflection.Emit;

namespace Hybrid.Targets;

/// <summary>Facts about types that the calling conventions (<see cref="X64.X64Abi"/>) depend on.</summary>
internal static class AbiFacts
{
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
