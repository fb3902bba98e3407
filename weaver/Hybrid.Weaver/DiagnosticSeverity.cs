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
