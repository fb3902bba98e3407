namespace Hybrid.Weaving;

/// <summary>Stable diagnostic codes. Keep in sync with the table in docs/weaver.md.</summary>
public static class DiagnosticCodes
{
    /// <summary>Error: the input file does not exist.</summary>
    public const string InputNotFound = "HYB0001";
    /// <summary>Error: the input is not a readable .NET assembly (not PE, truncated, corrupt).</summary>
    public const string InvalidAssembly = "HYB0002";
    /// <summary>Error: the output cannot be written (read-only, permissions, I/O).</summary>
    public const string CannotWrite = "HYB0003";
    /// <summary>Error (warning with AllowMissingReferences): a referenced assembly was not found.</summary>
    public const string MissingReference = "HYB0004";
    /// <summary>Error: the strong-name key blob is not a usable RSA key pair.</summary>
    public const string InvalidKey = "HYB0005";
    /// <summary>Error: the key does not match the public key the assembly already has.</summary>
    public const string KeyMismatch = "HYB0006";
    /// <summary>Warning: strong-named input woven without a key; the signature was removed.</summary>
    public const string SignatureRemoved = "HYB0007";
    /// <summary>Info: the input is already woven; nothing was done.</summary>
    public const string AlreadyWoven = "HYB0008";
    /// <summary>Error: a selector could not be parsed.</summary>
    public const string InvalidSelector = "HYB0009";
    /// <summary>Error: a selector matched no method.</summary>
    public const string SelectorMatchedNothing = "HYB0010";
    /// <summary>Error: no selectors were given.</summary>
    public const string NoSelectors = "HYB0011";
    /// <summary>Warning: the symbols (PDB) could not be read or do not match; output written without symbols.</summary>
    public const string SymbolsProblem = "HYB0012";
    /// <summary>Info: a previously unsigned assembly is now strong-named with the given key.</summary>
    public const string NowStrongNamed = "HYB0013";
    /// <summary>Warning: a selector names a method that is neither defined in nor called from the assembly (nothing to redirect).</summary>
    public const string NoCallSites = "HYB0015";
    /// <summary>Info: the selection wove nothing; the assembly was left as it was and not marked woven.</summary>
    public const string NothingWoven = "HYB0016";
    /// <summary>Error: the input cannot be woven at all (e.g. it is the core library, or a module without an assembly).</summary>
    public const string UnsupportedAssembly = "HYB0014";

    /// <summary>Skip: static constructors are never woven.</summary>
    public const string SkipStaticConstructor = "HYB0101";
    /// <summary>Skip: abstract, extern, runtime-implemented or otherwise body-less method.</summary>
    public const string SkipNoBody = "HYB0102";
    /// <summary>Skip: varargs (or other unsupported) calling convention.</summary>
    public const string SkipCallingConvention = "HYB0103";
    /// <summary>Skip: constructor whose base/this call could not be located or is entangled with branches/handlers.</summary>
    public const string SkipConstructorShape = "HYB0104";
    /// <summary>Skip: compiler-generated member (lambdas, state machines, local functions); select the user method instead.</summary>
    public const string SkipCompilerGenerated = "HYB0105";
    /// <summary>Skip: methods declared on interfaces are not supported.</summary>
    public const string SkipInterface = "HYB0106";
    /// <summary>Skip: a call site of a selected external method was left alone (constrained., base constructor call, instance delegate, varargs).</summary>
    public const string SkipCallSite = "HYB0107";
    /// <summary>Error: an unexpected failure while weaving one method (please report it).</summary>
    public const string InternalError = "HYB0199";
}
