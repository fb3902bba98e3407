namespace Hybrid;

/// <summary>How a <see cref="Redirection"/> reaches its replacement.</summary>
public enum RedirectStrategy
{
    /// <summary>A machine-code jump written at the entry of the method's compiled body.</summary>
    NativeJump,

    /// <summary>The dispatch guard that the Hybrid weaver inserted into the method's IL.</summary>
    ILDispatch,
}
