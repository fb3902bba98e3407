using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// The second chance of a selector that matched no method defined in the module: the methods the module calls
/// (docs/weaver.md, "Selecting call targets"), and when it matches none of those either, the diagnostic that tells a
/// typo from a method that is merely not called.
/// </summary>
internal sealed class CallTargetSelection
{
    private readonly string _input;
    private readonly DiagnosticLog _log;

    public CallTargetSelection(string input, DiagnosticLog log)
    {
        _input = input;
        _log = log;
    }

    /// <summary>
    /// Selectors that match no method defined in the module are resolved against the methods the module calls
    /// (framework and other assemblies): those get call-site guards. A selector that names neither is an error
    /// when it names this assembly's own types or namespaces (a typo), otherwise a warning (nothing calls it).
    /// </summary>
    public void Select(ModuleDefinition module, MethodSelection selection, List<Selector> unmatched,
        List<CallTarget> callTargets, Dictionary<string, string> explicitTargets)
    {
        var called = CallTarget.Scan(module);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var file = Path.GetFileName(_input);
        foreach (var sel in unmatched)
        {
            var matches = CallTarget.Select(called, sel);
            if (matches.Count > 0)
            {
                foreach (var t in matches)
                {
                    if (taken.Add(t.Key))
                        callTargets.Add(t);
                    if (sel.Glob == null)
                        explicitTargets[t.Key] = sel.Text;
                }
                continue;
            }
            // Referenced types are looked up before namespaces are compared: assemblies often define polyfills
            // in framework namespaces (System.*), which must not turn "System.Guid.NewGuid is not called" into a typo.
            var external = sel.Glob == null && !selection.IsOwnType(sel.TypeName) ? FindReferencedType(module, sel.TypeName) : null;
            if (external != null && !HasMember(external, sel.MemberName))
            {
                var names = external.Methods.Select(m => m.Name).Concat(external.Properties.Select(p => p.Name)).Concat(external.Events.Select(e => e.Name))
                    .Where(n => !n.StartsWith("<", StringComparison.Ordinal)).Distinct()
                    .OrderBy(n => MethodSelection.Levenshtein(sel.MemberName, n)).ThenBy(n => n, StringComparer.Ordinal).Take(3)
                    .Select(n => sel.TypeName + "." + n).ToList();
                _log.Report(DiagnosticCodes.SelectorMatchedNothing, DiagnosticSeverity.Error,
                    "selector '" + sel.Text + "' matched no method in " + file + ", and the referenced type " + sel.TypeName + " has no member '" + sel.MemberName + "'"
                    + (names.Count > 0 ? "; closest existing names: " + string.Join(", ", names) : ""), member: sel.Text);
            }
            else if (sel.Glob == null && (external != null || !selection.IsOwnName(sel.TypeName)))
                _log.Report(DiagnosticCodes.NoCallSites, DiagnosticSeverity.Warning,
                    "selector '" + sel.Text + "' names " + sel.TypeName + "." + sel.MemberName + (sel.Parameters != null ? "(" + string.Join(",", sel.Parameters) + ")" : "")
                    + ", which is neither defined in " + file + " nor called from it; nothing was woven for it. Methods of other assemblies (such as the framework) are redirected at their call sites in "
                    + file + ", and it has none - check the spelling (and the overload), or weave the assembly that makes the calls",
                    member: sel.Text);
            else
                _log.Report(DiagnosticCodes.SelectorMatchedNothing, DiagnosticSeverity.Error,
                    "selector '" + sel.Text + "' matched no method in " + file + "; " + selection.Suggest(sel), member: sel.Text);
        }
    }

    /// <summary>
    /// Looks a selector's type up in the module's referenced assemblies (following type forwarders), to tell a
    /// misspelt member of a framework type (an error) from a method that is merely not called (a warning).
    /// Best effort: null when the type or its assembly cannot be found.
    /// </summary>
    private static TypeDefinition? FindReferencedType(ModuleDefinition module, string typeName)
    {
        var parts = typeName.Split('+');
        var dot = parts[0].LastIndexOf('.');
        var ns = dot > 0 ? parts[0].Substring(0, dot) : "";
        var name = dot > 0 ? parts[0].Substring(dot + 1) : parts[0];
        foreach (var reference in module.AssemblyReferences)
        {
            try
            {
                var type = new TypeReference(ns, name, module, reference).Resolve();
                for (int i = 1; type != null && i < parts.Length; i++)
                    type = type.NestedTypes.FirstOrDefault(t => t.Name == parts[i]);
                if (type != null)
                    return type;
            }
            catch (Exception e) when (e is AssemblyResolutionException || e is IOException || e is BadImageFormatException || e is InvalidOperationException)
            {
            }
        }
        return null;
    }

    private static bool HasMember(TypeDefinition type, string member)
        => type.Methods.Any(m => m.Name == member) || type.Properties.Any(p => p.Name == member) || type.Events.Any(e => e.Name == member);
}
