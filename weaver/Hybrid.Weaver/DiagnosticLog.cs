using System.Collections.Generic;
using System.Linq;

namespace Hybrid.Weaving;

/// <summary>
/// The diagnostics of one run, in the order they were reported. Each also goes to
/// <see cref="WeaverOptions.Diagnostic"/> as soon as it is reported, so a build shows progress before the run ends.
/// </summary>
internal sealed class DiagnosticLog
{
    private readonly WeaverOptions _options;
    private readonly string _input;
    private readonly List<WeaverDiagnostic> _diagnostics = new List<WeaverDiagnostic>();
    private readonly ICollection<string> _warningsOnly;

    /// <param name="options">Whose <see cref="WeaverOptions.Diagnostic"/> hears each diagnostic.</param>
    /// <param name="input">The file a diagnostic is about unless it names another.</param>
    /// <param name="warningsOnly">Codes reported as warnings even where the weaver would make them errors (the Fody add-in's TreatUnmatchedSelectorsAsErrors="false").</param>
    public DiagnosticLog(WeaverOptions options, string input, ICollection<string>? warningsOnly = null)
    {
        _options = options;
        _input = input;
        _warningsOnly = warningsOnly ?? new string[0];
    }

    /// <summary>True once an error was reported: nothing may be written then.</summary>
    public bool HasErrors => _diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);

    public void Report(string code, DiagnosticSeverity severity, string message, string? file = null, string? member = null)
    {
        if (severity == DiagnosticSeverity.Error && _warningsOnly.Contains(code))
            severity = DiagnosticSeverity.Warning;
        var d = new WeaverDiagnostic(code, severity, message, file ?? _input, member);
        _diagnostics.Add(d);
        _options.Diagnostic?.Invoke(d);
    }

    public WeaverDiagnostic[] ToArray() => _diagnostics.ToArray();
}
