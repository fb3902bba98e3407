using System;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Reflection.Emit;
using Hybrid.Targets;

namespace Hybrid.CoreClr;

/// <summary>
/// Finds the entry that real callers of a shared generic method use, by compiling a caller and reading its call.
/// <para>
/// A caller of <c>Name&lt;string&gt;()</c> loads the exact instantiation (MethodDesc or MethodTable) into the
/// hidden-argument register and calls the shared <c>__Canon</c> code through an indirection cell. The JIT emits the
/// same sequence for our probe method (compiled, never run), so the call that follows the load of our instantiation
/// key leads to the code every caller reaches — whatever the runtime version's precode layout.
/// </para>
/// </summary>
internal static class CallSiteProbe
{
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Os.AotJustifications.NativeOnly)]
    public static nint EntryCalledFor(MethodTarget target)
    {
        var method = target.Method;
        // The instance and the arguments are the probe's own parameters: from locals the JIT would know `this` is
        // null, throw NullReferenceException in place of the call, and leave nothing to find.
        var parameters = target.ReplacementParameterTypes;
        var probe = new DynamicMethod("Hybrid.CallSiteProbe", typeof(void), parameters, typeof(CallSiteProbe).Module, skipVisibility: true);
        var il = probe.GetILGenerator();
        for (int i = 0; i < parameters.Length; i++)
            il.Emit(OpCodes.Ldarg, (short)i);
        if (method is ConstructorInfo ctor)
            il.Emit(OpCodes.Call, ctor);
        else
            il.Emit(OpCodes.Call, (MethodInfo)method);
        if (target.ReturnType != typeof(void))
            il.Emit(OpCodes.Pop);
        il.Emit(OpCodes.Ret);

        nint code = CodeLocator.Follow(target, Replacement.EntryPointOf(probe));
        nint found = Platform.CodeReader.FindCalledEntry(code, target.Context == GenericContext.HiddenArgument ? (ulong)target.ContextKey : null);
        GC.KeepAlive(probe);
        if (found != 0)
            return found;
        throw new NotSupportedException(
            $"{MethodTarget.Describe(method)}{(target.Context == GenericContext.HiddenArgument ? " runs shared generic code, and" : ":")} Hybrid could not find the call a caller makes to it " +
            "(the JIT may have inlined it into the probe). Fix: mark it [MethodImpl(MethodImplOptions.NoInlining)] or weave it.");
    }
}
