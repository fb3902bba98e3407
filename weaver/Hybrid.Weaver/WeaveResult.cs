using System;
using System.Collections.Generic;
using System.Linq;

namespace Hybrid.Weaving;

/// <summary>Outcome of <see cref="Weaver.Weave"/>.</summary>
public sealed class WeaveResult
{
    internal WeaveResult(IReadOnlyList<WovenMethod> woven, IReadOnlyList<SkippedMethod> skipped, IReadOnlyList<WeaverDiagnostic> diagnostics,
        bool alreadyWoven, bool outputWritten, string? outputPath, TimeSpan elapsed, IReadOnlyList<WovenCallSite>? callSites = null)
    {
        CallSites = callSites ?? Array.Empty<WovenCallSite>();
        WovenMethods = woven;
        SkippedMethods = skipped;
        Diagnostics = diagnostics;
        AlreadyWoven = alreadyWoven;
        OutputWritten = outputWritten;
        OutputPath = outputPath;
        Elapsed = elapsed;
    }

    /// <summary>Methods that were made redirectable, in metadata order.</summary>
    public IReadOnlyList<WovenMethod> WovenMethods { get; }

    /// <summary>
    /// External methods (framework, other assemblies) whose call sites in this assembly were redirected through a
    /// call-site guard, one entry per target and call kind (docs/weaver.md, "Call-site guards").
    /// </summary>
    public IReadOnlyList<WovenCallSite> CallSites { get; }

    /// <summary>Methods that matched a selector but were not woven, with reasons.</summary>
    public IReadOnlyList<SkippedMethod> SkippedMethods { get; }

    /// <summary>All diagnostics, in the order they were produced.</summary>
    public IReadOnlyList<WeaverDiagnostic> Diagnostics { get; }

    /// <summary>True when the input carried the HybridWoven marker, so nothing was done.</summary>
    public bool AlreadyWoven { get; }

    /// <summary>True when the output file was (re)written.</summary>
    public bool OutputWritten { get; }

    /// <summary>Path of the output assembly.</summary>
    public string? OutputPath { get; }

    /// <summary>Wall-clock time of the whole run (read, weave, write).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>True when no error was reported.</summary>
    public bool Success => !Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
}
