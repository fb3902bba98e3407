using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Threading;

namespace Hybrid.Testing.Internal;

/// <summary>
/// Delegate types with an exact signature, emitted at run time. <c>Func&lt;&gt;</c>/<c>Action&lt;&gt;</c> cannot carry
/// <c>ref</c>/<c>out</c> parameters, and on .NET 8 cannot carry ref structs such as <c>Span&lt;T&gt;</c>; the engine
/// needs a delegate whose <c>Invoke</c> has exactly the replacement shape, so one is emitted per distinct signature.
/// </summary>
internal static class DelegateTypes
{
    private static readonly ConcurrentDictionary<string, Type> s_cache = new();
    private static readonly Lazy<ModuleBuilder> s_module = new(() =>
        AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("Hybrid.Testing.Signatures"), AssemblyBuilderAccess.Run)
            .DefineDynamicModule("Hybrid.Testing.Signatures"));
    private static int s_count;

    public static Type For(Type returnType, Type[] parameters)
    {
        // AssemblyQualifiedName keeps same-named types from different assemblies (or load contexts) apart.
        string key = returnType.AssemblyQualifiedName + "(" + string.Join(",", parameters.Select(p => p.AssemblyQualifiedName)) + ")";
        return s_cache.GetOrAdd(key, _ => Emit(returnType, parameters));
    }

    private static Type Emit(Type returnType, Type[] parameters)
    {
        lock (s_module)
        {
            var type = s_module.Value.DefineType($"Hybrid.Testing.Signatures.Signature{Interlocked.Increment(ref s_count)}",
                TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.AutoClass, typeof(MulticastDelegate));
            var ctor = type.DefineConstructor(MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.SpecialName | MethodAttributes.RTSpecialName,
                CallingConventions.Standard, new[] { typeof(object), typeof(IntPtr) });
            ctor.SetImplementationFlags(MethodImplAttributes.Runtime | MethodImplAttributes.Managed);
            var invoke = type.DefineMethod("Invoke", MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.NewSlot | MethodAttributes.Virtual,
                returnType, parameters);
            invoke.SetImplementationFlags(MethodImplAttributes.Runtime | MethodImplAttributes.Managed);
            return type.CreateType()!;
        }
    }
}
