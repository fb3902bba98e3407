using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// The in-memory half of a weave, shared by <see cref="WeaveRun"/> (which reads, checks and writes the files around
/// it) and the Fody add-in (where Fody reads and writes them): selects the methods and call targets of one module,
/// weaves them, and marks the assembly. Bad input is reported to the log; nothing throws for it.
/// </summary>
internal sealed class ModuleWeaving
{
    private readonly ModuleDefinition _module;
    private readonly string _input;
    private readonly DiagnosticLog _log;
    private readonly ContractWriter _writer;

    /// <param name="module">The module to weave, in memory.</param>
    /// <param name="input">The assembly's path, for diagnostics.</param>
    /// <param name="log">Where every diagnostic goes.</param>
    public ModuleWeaving(ModuleDefinition module, string input, DiagnosticLog log)
    {
        _module = module;
        _input = input;
        _log = log;
        _writer = new ContractWriter(module);
    }

    /// <summary>True when the module's assembly is already woven (it carries the mark <see cref="Mark"/> writes).</summary>
    public static bool IsWoven(ModuleDefinition module) =>
        module.Assembly.CustomAttributes.Any(a => a.AttributeType.Namespace == ContractWriter.GuardAttributeNamespace
                                                  && a.AttributeType.Name == ContractWriter.WovenAttributeName);

    public List<WovenMethod> Woven { get; } = new List<WovenMethod>();

    public List<SkippedMethod> Skipped { get; } = new List<SkippedMethod>();

    public IReadOnlyList<WovenCallSite>? CallSites { get; private set; }

    /// <summary>True when a method or a call site was woven (otherwise the module is as it was).</summary>
    public bool WovenAnything => Woven.Count > 0 || (CallSites != null && CallSites.Count > 0);

    /// <summary>
    /// Selects and weaves. False when an error was reported: the module must not be written then. <paramref
    /// name="beforeWeaving"/> runs once the selection stands, before the first change.
    /// </summary>
    public bool Run(IList<Selector> selectors, Action? beforeWeaving = null)
    {
        var selection = new MethodSelection(_module);
        var explicitly = new HashSet<MethodDefinition>();
        var unmatched = new List<Selector>();
        var selected = selection.Select(selectors, explicitly, unmatched);
        var callTargets = new List<CallTarget>();
        var explicitTargets = new Dictionary<string, string>(StringComparer.Ordinal); // target key -> selector that named it
        if (unmatched.Count > 0)
            new CallTargetSelection(_input, _log).Select(_module, selection, unmatched, callTargets, explicitTargets);
        if (_log.HasErrors)
            return false;

        beforeWeaving?.Invoke();
        // Metadata order keeps guard numbering, and therefore the output bytes, deterministic.
        var ordered = _module.GetTypes().ToList().SelectMany(t => t.Methods.ToList()).Where(selected.Contains).ToList();
        foreach (var m in ordered)
        {
            var why = _writer.WhyNot(m, out var code, out var split);
            if (why != null)
            {
                Skipped.Add(new SkippedMethod(m.FullName, code, why));
                if (explicitly.Contains(m))
                    _log.Report(code, DiagnosticSeverity.Warning, "skipped " + m.FullName + ": " + why, member: m.FullName);
                continue;
            }
            try
            {
                Woven.Add(_writer.Weave(m, split));
            }
            catch (Exception e) when (!(e is AssemblyResolutionException))
            {
                _log.Report(DiagnosticCodes.InternalError, DiagnosticSeverity.Error,
                    "internal error while weaving " + m.FullName + ": " + e + " - please report this; exclude the method from the selection to work around it", member: m.FullName);
                return false;
            }
        }
        if (callTargets.Count > 0)
        {
            // After method weaving, so the Original copies' call sites are redirected too.
            var callSiteWeaver = new CallSiteWeaver(_module, _writer, callTargets);
            try
            {
                callSiteWeaver.Run();
            }
            catch (Exception e) when (!(e is AssemblyResolutionException))
            {
                _log.Report(DiagnosticCodes.InternalError, DiagnosticSeverity.Error,
                    "internal error while redirecting call sites: " + e + " - please report this; exclude the framework method from the selection to work around it");
                return false;
            }
            CallSites = callSiteWeaver.Woven;
            foreach (var (target, reason, caller, count) in callSiteWeaver.LeftAlone)
            {
                var more = count > 1 ? " and " + (count - 1).ToString(CultureInfo.InvariantCulture) + " more call site(s)" : "";
                Skipped.Add(new SkippedMethod(target.Display + " called from " + caller + more, DiagnosticCodes.SkipCallSite, reason));
                if (explicitTargets.TryGetValue(target.Key, out var selectorText))
                    _log.Report(DiagnosticCodes.SkipCallSite, DiagnosticSeverity.Warning,
                        "left " + count.ToString(CultureInfo.InvariantCulture) + " call site(s) of " + target.Display + " alone (first in " + caller + "): " + reason,
                        member: selectorText);
            }
        }
        return true;
    }

    /// <summary>Marks the assembly woven (docs/weaver.md); call once, after a <see cref="Run"/> that wove something.</summary>
    public void Mark() => _writer.MarkAssembly(Weaver.Version);
}
