using System;

namespace Hybrid.Patching;

/// <summary>
/// Where a method's redirects take effect: the native hook of its compiled body, or the woven IL guard's slot.
/// Both keep the same stack semantics — the newest live redirect wins — so <see cref="Redirection"/> does not care which.
/// </summary>
internal abstract class RedirectSite
{
    /// <summary>Caller holds the engine lock.</summary>
    public abstract void Add(Redirection redirection);

    /// <summary>Caller holds the engine lock.</summary>
    public abstract void Remove(Redirection redirection);

    /// <summary>A delegate of the replacement shape that runs the original body, bypassing every redirect.</summary>
    public abstract TDelegate CreateOriginal<TDelegate>(Targets.MethodTarget target) where TDelegate : Delegate;
}
