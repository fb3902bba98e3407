using System;
using System.Linq;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hybrid.Weaving;

/// <summary>
/// Which methods can be woven, and where a constructor's guard goes (docs/weaver.md, "woven-assembly contract", 3).
/// A method that cannot be woven is skipped with a reason and a skip code, never half-woven.
/// </summary>
internal static class MethodEligibility
{
    /// <summary>Lambdas, local functions, state machines and everything nested in them: names the compiler made start with '&lt;'.</summary>
    public static bool IsCompilerGenerated(MethodDefinition m)
    {
        for (var t = m.DeclaringType; t != null; t = t.DeclaringType)
            if (t.Name.StartsWith("<", StringComparison.Ordinal))
                return true;
        return m.Name.StartsWith("<", StringComparison.Ordinal);
    }

    /// <summary>Returns null when <paramref name="m"/> can be woven, otherwise the reason (and its code).</summary>
    public static string? WhyNot(MethodDefinition m, out string code, out int splitIndex)
    {
        splitIndex = 0;
        code = "";
        if (IsCompilerGenerated(m))
        {
            code = DiagnosticCodes.SkipCompilerGenerated;
            return "compiler-generated member (lambda, local function, async/iterator state machine, ...); select the method you call instead - for async and iterator methods the weaver guards that stub, not MoveNext";
        }
        if (m.DeclaringType.IsInterface)
        {
            code = DiagnosticCodes.SkipInterface;
            return "methods declared on interfaces (default or static interface members) are not supported; select the implementing class's method";
        }
        if (m.IsConstructor && m.IsStatic)
        {
            code = DiagnosticCodes.SkipStaticConstructor;
            return "static constructors run once, under a runtime lock, before anyone could redirect them; move the logic into a regular static method and select that";
        }
        if (!m.HasBody)
        {
            code = DiagnosticCodes.SkipNoBody;
            return m.IsAbstract ? "abstract method has no body; select the overriding methods instead"
                : "method has no IL body (extern, P/Invoke, internal call or runtime-implemented)";
        }
        if (m.CallingConvention == MethodCallingConvention.VarArg || m.ExplicitThis)
        {
            code = DiagnosticCodes.SkipCallingConvention;
            return "varargs (__arglist) and explicit-this methods cannot be forwarded through a delegate";
        }
        if (m.IsConstructor)
        {
            var problem = FindConstructorSplit(m, out splitIndex);
            if (problem != null)
            {
                code = DiagnosticCodes.SkipConstructorShape;
                return problem;
            }
        }
        return null;
    }

    /// <summary>
    /// Finds the first instruction after the base/this constructor call. The guard must go after it: before that
    /// point 'this' is uninitialised and may not be passed to a delegate.
    /// </summary>
    private static string? FindConstructorSplit(MethodDefinition ctor, out int split)
    {
        split = -1;
        var type = ctor.DeclaringType;
        var instructions = ctor.Body.Instructions;
        var self = type.FullName;
        var baseName = type.BaseType?.GetElementType().FullName;
        for (int i = 0; i < instructions.Count; i++)
        {
            var ins = instructions[i];
            if (ins.OpCode.Code == Code.Call && ins.Operand is MethodReference mr && mr.Name == ".ctor" && mr.HasThis)
            {
                var declaring = mr.DeclaringType.GetElementType().FullName;
                if (declaring == self || declaring == baseName)
                {
                    split = i + 1;
                    break;
                }
            }
        }
        if (split < 0)
        {
            if (type.IsValueType)
            {
                split = 0;
                return null;
            }
            return "no call to the base or this constructor was found, so there is no point where 'this' is initialised";
        }
        if (split >= instructions.Count)
            return "the constructor ends right after the base constructor call";

        var splitOffset = instructions[split].Offset;
        bool Before(Instruction? i) => i != null && i.Offset < splitOffset;
        foreach (var ins in instructions)
        {
            if (ins.Operand is Instruction target && Before(ins) != Before(target))
                return "a branch crosses the base constructor call";
            if (ins.Operand is Instruction[] targets && targets.Any(t => Before(ins) != Before(t)))
                return "a switch crosses the base constructor call";
        }
        foreach (var h in ctor.Body.ExceptionHandlers)
        {
            var side = Before(h.TryStart);
            if (Before(h.TryEnd) != side || Before(h.HandlerStart) != side || Before(h.HandlerEnd) != side || (h.FilterStart != null && Before(h.FilterStart) != side))
                return "an exception handler spans the base constructor call";
        }
        return null;
    }
}
