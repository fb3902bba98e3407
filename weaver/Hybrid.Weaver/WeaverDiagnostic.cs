namespace Hybrid.Weaving;

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
