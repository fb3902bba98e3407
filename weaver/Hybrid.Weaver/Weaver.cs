using System;

namespace Hybrid.Weaving;

/// <summary>
/// Entry point: makes the methods picked by selectors redirectable at run time by injecting a guard slot into
/// each (see docs/weaver.md for the exact contract the Hybrid engine relies on).
/// </summary>
public static class Weaver
{
    /// <summary>Version written into [assembly: HybridWoven(...)].</summary>
    public const string Version = "1.0.0";

    /// <summary>Weaves <see cref="WeaverOptions.InputPath"/>. Never throws for bad input; check <see cref="WeaveResult.Success"/>.</summary>
    public static WeaveResult Weave(WeaverOptions options)
    {
        if (options == null) throw new ArgumentNullException(nameof(options));
        return new WeaveRun(options).Execute();
    }
}
