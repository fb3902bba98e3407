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
        if (ModuleWeaving.IsWoven(module))
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

        var weaving = new ModuleWeaving(module, _input, _log);
        bool ok = weaving.Run(selectors, beforeWeaving: () => _checks.RemoveSignatureIfNoKey(module));
        _woven.AddRange(weaving.Woven);
        _skipped.AddRange(weaving.Skipped);
        _callSites = weaving.CallSites;
        if (!ok)
            return Finish();
        if (!weaving.WovenAnything)
        {
            // Writing would change nothing but the woven mark, and the mark makes every later run answer
            // "already woven" - also one whose selectors would weave something.
            _log.Report(DiagnosticCodes.NothingWoven, DiagnosticSeverity.Info,
                "nothing was woven: the assembly is left as it was and not marked woven, so a later run with other selectors can weave it");
            return !PathsEqual(_input, _output) ? CopyUnchanged(pdb) : Finish();
        }
        weaving.Mark();
        return Write(module, symbols, pdbPath);
    }

    private WeaveResult Write(ModuleDefinition module, SymbolPlan? symbols, string inputPdbPath)
        => _writer.Write(module, symbols, inputPdbPath) ? Finish(written: true) : Finish();

    private WeaveResult CopyUnchanged(byte[]? pdb)
        => _writer.CopyUnchanged(pdb) ? Finish(alreadyWoven: true, written: true) : Finish();

    private static bool PathsEqual(string a, string b) => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
