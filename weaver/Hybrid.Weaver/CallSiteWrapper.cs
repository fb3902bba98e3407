using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>The wrapper of one call target and call kind, and how many call sites were redirected to it.</summary>
internal sealed class CallSiteWrapper
{
    public CallTarget Target = null!;
    public string Kind = "";
    public TypeDefinition Guard = null!;
    public MethodDefinition Method = null!;
    public int Sites;
}
