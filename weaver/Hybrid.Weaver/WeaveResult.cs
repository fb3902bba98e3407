using System;
using System.Collections.Generic;
using System.Linq;

namespace Hybrid.Weaving;

/// <summary>Severity of a <see cref="WeaverDiagnostic"/>. Any <see cref="Error"/> means nothing was written.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Informational; no action needed.</summary>
    Info,
    /// <summary>The output was written but something deserves attention.</summary>
    Warning,
    /// <summary>Weaving failed; the input and output files are untouched.</summary>
    Error,
}

/// <summary>One message from the weaver, with a stable code (HYBnnnn) documented in docs/weaver.md.</summary>
public sealed class WeaverDiagnostic
{
    /// <summary>Creates a diagnostic.</summary>
    public WeaverDiagnostic(string code, DiagnosticSeverity severity, string message, string? file = null, string? member = null)
    {
        Code = code;
        Severity = severity;
        Message = message;
        File = file;
        Member = member;
    }

    /// <summary>Stable identifier, e.g. HYB0010.</summary>
    public string Code { get; }

    /// <summary>Severity.</summary>
    public DiagnosticSeverity Severity { get; }

    /// <summary>Human-readable message: what happened, why, and how to fix it.</summary>
    public string Message { get; }

    /// <summary>File the diagnostic is about, if any.</summary>
    public string? File { get; }

    /// <summary>Method or selector the diagnostic is about, if any.</summary>
    public string? Member { get; }

    /// <summary>MSBuild-style canonical format so IDEs and CI logs pick it up.</summary>
    public override string ToString()
    {
        var sev = Severity == DiagnosticSeverity.Error ? "error" : Severity == DiagnosticSeverity.Warning ? "warning" : "info";
        var prefix = File != null ? File + ": " : "";
        return prefix + sev + " " + Code + ": " + Message;
    }
}

/// <summary>A method that was made redirectable.</summary>
public sealed class WovenMethod
{
    internal WovenMethod(string method, string guardType, string originalMethod)
    {
        Method = method;
        GuardType = guardType;
        OriginalMethod = originalMethod;
    }

    /// <summary>Cecil full name of the woven method.</summary>
    public string Method { get; }

    /// <summary>Full name of the injected guard holder type.</summary>
    public string GuardType { get; }

    /// <summary>Name of the injected method that keeps the original body.</summary>
    public string OriginalMethod { get; }

    /// <inheritdoc />
    public override string ToString() => Method;
}

/// <summary>A method that matched a selector but could not be woven.</summary>
public sealed class SkippedMethod
{
    internal SkippedMethod(string method, string code, string reason)
    {
        Method = method;
        Code = code;
        Reason = reason;
    }

    /// <summary>Cecil full name of the method.</summary>
    public string Method { get; }

    /// <summary>Diagnostic code describing the reason.</summary>
    public string Code { get; }

    /// <summary>Why it was skipped.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public override string ToString() => Method + ": " + Reason;
}

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
