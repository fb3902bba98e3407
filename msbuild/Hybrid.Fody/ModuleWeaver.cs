using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using Fody;
using Hybrid.Weaving;
using Mono.Cecil;

/// <summary>
/// Fody entry point (Fody looks for a type named ModuleWeaver). Configuration, in FodyWeavers.xml:
/// <code>
/// &lt;Hybrid TreatUnmatchedSelectorsAsErrors="false"&gt;
///   &lt;Patchable&gt;MyApp.Clock.Now&lt;/Patchable&gt;
///   &lt;Patchable&gt;MyApp.Billing.*&lt;/Patchable&gt;
/// &lt;/Hybrid&gt;
/// </code>
/// Same selectors, same guard contract and same policy as the MSBuild &lt;Patchable&gt; items; Fody reads and writes
/// the assembly (and its symbols and signature), this add-in only rewrites the module in memory.
/// </summary>
public sealed class ModuleWeaver : BaseModuleWeaver
{
    /// <inheritdoc />
    public override void Execute()
    {
        var clock = Stopwatch.StartNew();
        var label = Path.GetFileName(AssemblyFilePath);
        var texts = Config.Elements("Patchable").Select(e => e.Value.Trim())
            .Concat((Config.Attribute("Patchable")?.Value ?? "").Split('|').Select(s => s.Trim()))
            .Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (texts.Count == 0)
        {
            WriteError($"{DiagnosticCodes.NoSelectors}: <Hybrid> in FodyWeavers.xml selects nothing; add e.g. <Patchable>MyApp.Clock.Now</Patchable> (or remove <Hybrid />)");
            return;
        }
        bool strict = string.Equals(Config.Attribute("TreatUnmatchedSelectorsAsErrors")?.Value, "true", StringComparison.OrdinalIgnoreCase);
        var log = new DiagnosticLog(new WeaverOptions { Diagnostic = d => Write(d, strict) }, AssemblyFilePath,
            strict ? null : new[] { DiagnosticCodes.SelectorMatchedNothing });

        var selectors = new List<Selector>();
        foreach (var text in texts)
        {
            var selector = Selector.Parse(text, out var error);
            if (error != null)
                log.Report(DiagnosticCodes.InvalidSelector, DiagnosticSeverity.Error, $"invalid selector '{text}' in FodyWeavers.xml: {error}", member: text);
            else
                selectors.Add(selector);
        }
        if (log.HasErrors)
            return;
        if (ModuleWeaving.IsWoven(ModuleDefinition))
        {
            WriteInfo($"Hybrid: {label} is already woven; nothing to do");
            return;
        }

        // The weaver's own in-memory step (methods, then call sites of other assemblies' methods); Fody writes.
        var weaving = new ModuleWeaving(ModuleDefinition, AssemblyFilePath, log);
        if (!weaving.Run(selectors))
            return;
        if (!weaving.WovenAnything)
        {
            WriteInfo($"Hybrid: nothing was woven in {label}; it is not marked woven");
            return;
        }
        weaving.Mark();
        int callSites = weaving.CallSites?.Count ?? 0;
        WriteMessage($"Hybrid: wove {weaving.Woven.Count} method(s){(callSites > 0 ? $" and {callSites} call site(s)" : "")}"
            + $"{(weaving.Skipped.Count > 0 ? $", {weaving.Skipped.Count} skipped" : "")} in {label} in {clock.ElapsedMilliseconds} ms",
            MessageImportance.High);
    }

    /// <summary>A weaver diagnostic as Fody's error, warning or info, prefixed with its code.</summary>
    private void Write(WeaverDiagnostic d, bool strict)
    {
        var text = $"{d.Code}: {d.Message}";
        switch (d.Severity)
        {
            case DiagnosticSeverity.Error:
                WriteError(text);
                break;
            case DiagnosticSeverity.Warning:
                WriteWarning(d.Code == DiagnosticCodes.SelectorMatchedNothing && !strict
                    ? text + ". Fix the selector or remove it (TreatUnmatchedSelectorsAsErrors=\"true\" makes this an error)"
                    : text);
                break;
            default:
                WriteInfo(text);
                break;
        }
    }

    /// <inheritdoc />
    public override IEnumerable<string> GetAssembliesForScanning() => Enumerable.Empty<string>();

    /// <summary>The woven assembly references no Hybrid assembly, so there is no reference to clean up.</summary>
    public override bool ShouldCleanReference => false;
}
