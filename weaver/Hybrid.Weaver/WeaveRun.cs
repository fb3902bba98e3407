using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// One call of <see cref="Weaver.Weave"/>: reads the input, checks it, selects the methods and call sites, weaves them
/// and writes the output, collecting diagnostics on the way. Bad input ends the run with an error diagnostic, never
/// with an exception, and leaves the files as they were.
/// </summary>
internal sealed class WeaveRun
{
    private readonly WeaverOptions _options;
    private readonly List<WovenMethod> _woven = new List<WovenMethod>();
    private readonly List<SkippedMethod> _skipped = new List<SkippedMethod>();
    private IReadOnlyList<WovenCallSite>? _callSites;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _input;
    private readonly string _output;
    private readonly DiagnosticLog _log;
    private readonly InputChecks _checks;
    private readonly OutputWriter _writer;

    public WeaveRun(WeaverOptions options)
    {
        _options = options;
        _input = string.IsNullOrEmpty(options.InputPath) ? "" : Path.GetFullPath(options.InputPath);
        _output = string.IsNullOrEmpty(options.OutputPath) ? _input : Path.GetFullPath(options.OutputPath);
        _log = new DiagnosticLog(options, _input);
        _checks = new InputChecks(options, _input, _log);
        _writer = new OutputWriter(options, _input, _output, _log);
    }

    private WeaveResult Finish(bool alreadyWoven = false, bool written = false)
        => new WeaveResult(_woven.ToArray(), _skipped.ToArray(), _log.ToArray(), alreadyWoven, written, _output, _clock.Elapsed, _callSites);

    public WeaveResult Execute()
    {
        if (_input.Length == 0 || !File.Exists(_input))
        {
            _log.Report(DiagnosticCodes.InputNotFound, DiagnosticSeverity.Error,
                "input assembly not found" + (_input.Length == 0 ? "" : ": " + _input) + "; pass the path of a built .dll or .exe");
            return Finish();
        }
        if (_options.Selectors == null || _options.Selectors.Count == 0)
        {
            _log.Report(DiagnosticCodes.NoSelectors, DiagnosticSeverity.Error,
                "no selectors given; name what to make redirectable, e.g. --patchable MyApp.Clock.Now or --patchable \"MyApp.*\"");
            return Finish();
        }
        var selectors = new List<Selector>();
        foreach (var text in _options.Selectors)
        {
            var sel = Selector.Parse(text, out var error);
            if (error != null)
                _log.Report(DiagnosticCodes.InvalidSelector, DiagnosticSeverity.Error, "invalid selector '" + text + "': " + error, member: text);
            selectors.Add(sel);
        }
        byte[]? keyModulus = null;
        uint keyExponent = 0;
        if (_options.StrongNameKeyBlob != null)
        {
            var keyError = StrongNameKey.ReadKeyPair(_options.StrongNameKeyBlob, out var mod, out keyExponent);
            if (keyError != null)
                _log.Report(DiagnosticCodes.InvalidKey, DiagnosticSeverity.Error, "invalid strong-name key: " + keyError);
            keyModulus = mod;
        }
        if (_log.HasErrors)
            return Finish();

        byte[] image;
        byte[]? pdb = null;
        var pdbPath = Path.ChangeExtension(_input, ".pdb");
        try
        {
            // Read everything into memory: the input file is never held open, so an in-place write can replace it.
            image = File.ReadAllBytes(_input);
            if (File.Exists(pdbPath))
                pdb = File.ReadAllBytes(pdbPath);
        }
        catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
        {
            _log.Report(DiagnosticCodes.InvalidAssembly, DiagnosticSeverity.Error, "cannot read the input: " + e.Message);
            return Finish();
        }

        using (var resolver = new DefaultAssemblyResolver())
        {
            resolver.AddSearchDirectory(Path.GetDirectoryName(_input));
            foreach (var dir in _options.ReferenceSearchDirectories ?? Array.Empty<string>())
                resolver.AddSearchDirectory(dir);

            ModuleDefinition module;
            try
            {
                module = ModuleDefinition.ReadModule(new MemoryStream(image, writable: false), new ReaderParameters(ReadingMode.Deferred)
                {
                    AssemblyResolver = resolver,
                });
            }
            catch (Exception e)
            {
                _log.Report(DiagnosticCodes.InvalidAssembly, DiagnosticSeverity.Error,
                    "not a valid .NET assembly (" + e.GetType().Name + ": " + e.Message + "); the file may be native, truncated or corrupt - rebuild it and pass the managed .dll");
                return Finish();
            }
            using (module)
            {
                try
                {
                    return WeaveModule(module, selectors, pdb, pdbPath, keyModulus, keyExponent);
                }
                catch (AssemblyResolutionException e)
                {
                    _log.Report(DiagnosticCodes.MissingReference, DiagnosticSeverity.Error,
                        "cannot resolve referenced assembly '" + e.AssemblyReference.FullName + "'; pass its directory with -r <dir>");
                    return Finish();
                }
                catch (Exception e) when (e is BadImageFormatException || e is EndOfStreamException || e is ArgumentOutOfRangeException || e is IndexOutOfRangeException)
                {
                    _log.Report(DiagnosticCodes.InvalidAssembly, DiagnosticSeverity.Error,
                        "the assembly's metadata is corrupt (" + e.GetType().Name + ": " + e.Message + "); rebuild it");
                    return Finish();
                }
                catch (Exception e)
                {
                    // Weave promises not to throw for bad input; anything else is our bug, reported with detail.
                    _log.Report(DiagnosticCodes.InternalError, DiagnosticSeverity.Error,
                        "internal error: " + e + " - please report this; nothing was written");
                    return Finish();
                }
            }
        }
    }

    private WeaveResult WeaveModule(ModuleDefinition module, List<Selector> selectors, byte[]? pdb, string pdbPath, byte[]? keyModulus, uint keyExponent)
    {
        if (module.Assembly == null)
        {
            _log.Report(DiagnosticCodes.UnsupportedAssembly, DiagnosticSeverity.Error, "the input is a netmodule, not an assembly; weave the assembly that contains it");
            return Finish();
        }
        if (!module.AssemblyReferences.Any())
        {
            _log.Report(DiagnosticCodes.UnsupportedAssembly, DiagnosticSeverity.Error, "the input references no assemblies (it is a core library); core libraries cannot be woven");
            return Finish();
        }
        if (module.Assembly.CustomAttributes.Any(a => a.AttributeType.Namespace == ModuleWeaver.GuardAttributeNamespace && a.AttributeType.Name == ModuleWeaver.WovenAttributeName))
        {
            _log.Report(DiagnosticCodes.AlreadyWoven, DiagnosticSeverity.Info,
                "already woven: nothing to do (to change the selection, weave the original, un-woven assembly)");
            if (!PathsEqual(_input, _output))
                return CopyUnchanged(pdb);
            return Finish(alreadyWoven: true);
        }

        _checks.CheckReferences(module);
        _checks.CheckStrongName(module, keyModulus, keyExponent);
        var symbols = SymbolPlan.Read(module, pdb, _output, _log);
        if (_log.HasErrors)
            return Finish();

        var selection = new MethodSelection(module);
        var explicitly = new HashSet<MethodDefinition>();
        var unmatched = new List<Selector>();
        var selected = selection.Select(selectors, explicitly, unmatched);
        var callTargets = new List<CallTarget>();
        var explicitTargets = new Dictionary<string, string>(StringComparer.Ordinal); // target key -> selector that named it
        if (unmatched.Count > 0)
            new CallTargetSelection(_input, _log).Select(module, selection, unmatched, callTargets, explicitTargets);
        if (_log.HasErrors)
            return Finish();

        _checks.RemoveSignatureIfNoKey(module);
        var weaver = new ModuleWeaver(module);
        // Metadata order keeps guard numbering, and therefore the output bytes, deterministic.
        var ordered = module.GetTypes().ToList().SelectMany(t => t.Methods.ToList()).Where(selected.Contains).ToList();
        foreach (var m in ordered)
        {
            var why = weaver.WhyNot(m, out var code, out var split);
            if (why != null)
            {
                _skipped.Add(new SkippedMethod(m.FullName, code, why));
                if (explicitly.Contains(m))
                    _log.Report(code, DiagnosticSeverity.Warning, "skipped " + m.FullName + ": " + why, member: m.FullName);
                continue;
            }
            try
            {
                _woven.Add(weaver.Weave(m, split));
            }
            catch (Exception e) when (!(e is AssemblyResolutionException))
            {
                _log.Report(DiagnosticCodes.InternalError, DiagnosticSeverity.Error,
                    "internal error while weaving " + m.FullName + ": " + e + " - please report this; exclude the method from the selection to work around it", member: m.FullName);
                return Finish();
            }
        }
        if (callTargets.Count > 0)
        {
            // After method weaving, so the Original copies' call sites are redirected too.
            var callSiteWeaver = new CallSiteWeaver(module, weaver, callTargets);
            try
            {
                callSiteWeaver.Run();
            }
            catch (Exception e) when (!(e is AssemblyResolutionException))
            {
                _log.Report(DiagnosticCodes.InternalError, DiagnosticSeverity.Error,
                    "internal error while redirecting call sites: " + e + " - please report this; exclude the framework method from the selection to work around it");
                return Finish();
            }
            _callSites = callSiteWeaver.Woven;
            foreach (var (target, reason, caller, count) in callSiteWeaver.LeftAlone)
            {
                var more = count > 1 ? " and " + (count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + " more call site(s)" : "";
                _skipped.Add(new SkippedMethod(target.Display + " called from " + caller + more, DiagnosticCodes.SkipCallSite, reason));
                if (explicitTargets.TryGetValue(target.Key, out var selectorText))
                    _log.Report(DiagnosticCodes.SkipCallSite, DiagnosticSeverity.Warning,
                        "left " + count.ToString(System.Globalization.CultureInfo.InvariantCulture) + " call site(s) of " + target.Display + " alone (first in " + caller + "): " + reason,
                        member: selectorText);
            }
        }
        if (_woven.Count == 0 && (_callSites == null || _callSites.Count == 0))
        {
            // Writing would change nothing but the woven mark, and the mark makes every later run answer
            // "already woven" - also one whose selectors would weave something.
            _log.Report(DiagnosticCodes.NothingWoven, DiagnosticSeverity.Info,
                "nothing was woven: the assembly is left as it was and not marked woven, so a later run with other selectors can weave it");
            return !PathsEqual(_input, _output) ? CopyUnchanged(pdb) : Finish();
        }
        weaver.MarkAssembly(Weaver.Version);
        return Write(module, symbols, pdbPath);
    }

    private WeaveResult Write(ModuleDefinition module, SymbolPlan? symbols, string inputPdbPath)
        => _writer.Write(module, symbols, inputPdbPath) ? Finish(written: true) : Finish();

    private WeaveResult CopyUnchanged(byte[]? pdb)
        => _writer.CopyUnchanged(pdb) ? Finish(alreadyWoven: true, written: true) : Finish();

    private static bool PathsEqual(string a, string b) => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
