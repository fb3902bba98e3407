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

        var selectors = new List<Selector>();
        foreach (var text in texts)
        {
            var selector = Selector.Parse(text, out var error);
            if (error != null)
                WriteError($"{DiagnosticCodes.InvalidSelector}: invalid selector '{text}' in FodyWeavers.xml: {error}");
            else
                selectors.Add(selector);
        }
        if (ModuleDefinition.Assembly.CustomAttributes.Any(a => a.AttributeType.Namespace == Hybrid.Weaving.ModuleWeaver.GuardAttributeNamespace
                                                                && a.AttributeType.Name == Hybrid.Weaving.ModuleWeaver.WovenAttributeName))
        {
            WriteInfo($"Hybrid: {label} is already woven; nothing to do");
            return;
        }

        var explicitly = new HashSet<MethodDefinition>();
        var selected = new MethodSelection(ModuleDefinition).Select(selectors, explicitly, (selector, hint) =>
        {
            var message = $"{DiagnosticCodes.SelectorMatchedNothing}: selector '{selector.Text}' matched no method in {label}; {hint}";
            if (strict)
                WriteError(message);
            else
                WriteWarning(message + ". Fix the selector or remove it (TreatUnmatchedSelectorsAsErrors=\"true\" makes this an error)");
        });

        var weaver = new Hybrid.Weaving.ModuleWeaver(ModuleDefinition);
        int woven = 0, skipped = 0;
        // Metadata order keeps guard numbering, and therefore the output, deterministic (as in the MSBuild task).
        foreach (var method in ModuleDefinition.GetTypes().ToList().SelectMany(t => t.Methods.ToList()).Where(selected.Contains).ToList())
        {
            var why = weaver.WhyNot(method, out var code, out var split);
            if (why != null)
            {
                skipped++;
                if (explicitly.Contains(method))
                    WriteWarning($"{code}: skipped {method.FullName}: {why}");
                continue;
            }
            weaver.Weave(method, split);
            woven++;
        }
        weaver.MarkAssembly(Weaver.Version);
        WriteMessage($"Hybrid: wove {woven} method(s){(skipped > 0 ? $", {skipped} skipped" : "")} in {label} in {clock.ElapsedMilliseconds} ms",
            MessageImportance.High);
    }

    /// <inheritdoc />
    public override IEnumerable<string> GetAssembliesForScanning() => Enumerable.Empty<string>();

    /// <summary>The woven assembly references no Hybrid assembly, so there is no reference to clean up.</summary>
    public override bool ShouldCleanReference => false;
}
