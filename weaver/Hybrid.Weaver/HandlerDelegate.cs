using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// The members of a guard's <c>Handler</c> delegate type, for method guards (<see cref="MethodGuardBuilder"/>) and
/// call-site wrappers (<see cref="CallSiteWrappers"/>) alike: the runtime-implemented constructor and <c>Invoke</c>.
/// BeginInvoke/EndInvoke are deliberately omitted: .NET (Core) throws PlatformNotSupportedException for them, and
/// they cannot be declared at all for ref-struct (Span&lt;T&gt;) parameters.
/// </summary>
internal static class HandlerDelegate
{
    /// <summary>Adds the constructor and an <c>Invoke</c> returning <paramref name="returnType"/>; the caller adds Invoke's parameters.</summary>
    public static MethodDefinition AddMembers(TypeDefinition handler, ModuleDefinition module, TypeReference returnType)
    {
        var ctor = new MethodDefinition(".ctor",
            MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.SpecialName | MethodAttributes.RTSpecialName,
            module.TypeSystem.Void)
        { ImplAttributes = MethodImplAttributes.Runtime | MethodImplAttributes.Managed };
        ctor.Parameters.Add(new ParameterDefinition("object", ParameterAttributes.None, module.TypeSystem.Object));
        ctor.Parameters.Add(new ParameterDefinition("method", ParameterAttributes.None, module.TypeSystem.IntPtr));
        handler.Methods.Add(ctor);
        var invoke = new MethodDefinition("Invoke",
            MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.NewSlot | MethodAttributes.Virtual,
            returnType)
        { ImplAttributes = MethodImplAttributes.Runtime | MethodImplAttributes.Managed, HasThis = true };
        handler.Methods.Add(invoke);
        return invoke;
    }
}
