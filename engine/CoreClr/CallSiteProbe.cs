using System;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Reflection.Emit;
using Hybrid.Targets;
using Hybrid.X64;
using Iced.Intel;

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
internal static unsafe class CallSiteProbe
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
        bool keyed = target.Context == GenericContext.HiddenArgument;
        ulong key = (ulong)target.ContextKey;
        bool keyLoaded = false;
        nint found = 0;
        var constants = new System.Collections.Generic.Dictionary<Register, ulong>();
        // Decode one instruction at a time and stop at the first return: the bytes after the probe's code may not be mapped.
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
            else if ((ins.Mnemonic == Mnemonic.Call || IsTailCall(ins, code)) && (keyLoaded || !keyed))
            {
                // The call through the method's indirection cell: `call [rip+cell]` (or `[abs32]`), `call [reg]` after
                // `mov reg, cell` (a vtable slot of a virtual method), or `call rel32` to its precode. Keyed probes
                // take the call after the key load; the others the last call, the probe's only real one.
                nint entry = 0;
                if (ins.Op0Kind == OpKind.Memory && ins.IsIPRelativeMemoryOperand)
                    entry = *(nint*)X64Decoding.RipTarget(ins);
                else if (ins.Op0Kind == OpKind.Memory && ins.MemoryBase == Register.None && ins.MemoryIndex == Register.None)
                    entry = *(nint*)(nint)ins.MemoryDisplacement64; // `call [abs32]`: a cell below 2 GiB (Windows)
                else if (ins.Op0Kind == OpKind.Memory && ins.MemoryIndex == Register.None && constants.TryGetValue(ins.MemoryBase, out var cell))
                    entry = *(nint*)(nint)(cell + ins.MemoryDisplacement64);
                else if (ins.Op0Kind is OpKind.NearBranch64)
                    entry = (nint)ins.NearBranchTarget;
                if (keyed)
                {
                    found = entry;
                    break;
                }
                if (entry != 0)
                    found = entry;
            }
            // The probe ends at its return; a body that ends in a throw ends with int3 or ud2 instead.
            if (ins.FlowControl is Iced.Intel.FlowControl.Return or Iced.Intel.FlowControl.Interrupt or Iced.Intel.FlowControl.Exception or Iced.Intel.FlowControl.UnconditionalBranch)
                break;
        }
        GC.KeepAlive(probe);
        if (found != 0)
            return found;
        throw new NotSupportedException(
            $"{MethodTarget.Describe(method)}{(target.Context == GenericContext.HiddenArgument ? " runs shared generic code, and" : ":")} Hybrid could not find the call a caller makes to it " +
            "(the JIT may have inlined it into the probe). Fix: mark it [MethodImpl(MethodImplOptions.NoInlining)] or weave it.");
    }

    /// <summary>The JIT may end the probe with a tail call (<c>jmp</c> in place of <c>call; ret</c>) to a void method.</summary>
    private static bool IsTailCall(in Instruction ins, nint probe) =>
        ins.Mnemonic == Mnemonic.Jmp
        && (ins.Op0Kind == OpKind.Memory || (ins.Op0Kind == OpKind.NearBranch64 && (ins.NearBranchTarget < (ulong)probe || ins.NearBranchTarget >= (ulong)probe + 4096)));
}
