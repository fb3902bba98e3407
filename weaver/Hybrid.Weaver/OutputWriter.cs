using System;
using System.Collections.Generic;
using System.IO;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// Writes a run's output: the woven module with deterministic ids (MVID and PDB id are content hashes), signed with the
/// run's key if one was given, or the input unchanged. Always atomically (docs/weaver.md, "Quality guarantees"): complete
/// temp files next to the destination, renamed over it, PDB first; a failure before the rename leaves the files as
/// they were.
/// </summary>
internal sealed class OutputWriter
{
    private readonly WeaverOptions _options;
    private readonly string _input;
    private readonly string _output;
    private readonly DiagnosticLog _log;

    public OutputWriter(WeaverOptions options, string input, string output, DiagnosticLog log)
    {
        _options = options;
        _input = input;
        _output = output;
        _log = log;
    }

    /// <summary>
    /// Writes <paramref name="module"/> (signed with the run's key, if any) and its symbols over the output. False,
    /// with the error reported and the existing files as they were, when they cannot be written.
    /// </summary>
    public bool Write(ModuleDefinition module, SymbolPlan? symbols, string inputPdbPath)
    {
        var assemblyStream = new MemoryStream();
        var pdbStream = symbols != null && !symbols.Embedded ? new MemoryStream() : null;
        var parameters = new WriterParameters
        {
            // Same input => same bytes (MVID and PDB id become content hashes).
            DeterministicMvid = true,
            StrongNameKeyBlob = _options.StrongNameKeyBlob,
        };
        if (symbols != null)
        {
            parameters.WriteSymbols = true;
            parameters.SymbolWriterProvider = new PdbPathSymbolWriterProvider(symbols.Embedded, symbols.CodeViewPath);
            parameters.SymbolStream = pdbStream;
        }
        module.Write(assemblyStream, parameters);

        var outputPdb = Path.ChangeExtension(_output, ".pdb");
        var tempFiles = new List<string>();
        try
        {
            // Atomic replacement: write complete temp files next to the destination, then rename over it.
            // A failure anywhere before the rename leaves the existing files untouched.
            if (File.Exists(_output) && (File.GetAttributes(_output) & FileAttributes.ReadOnly) != 0)
                throw new UnauthorizedAccessException("'" + _output + "' is read-only; make it writable (chmod u+w / attrib -r) or write elsewhere with --out");
            var dir = Path.GetDirectoryName(_output);
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
            var tempAssembly = TempName(_output);
            tempFiles.Add(tempAssembly);
            File.WriteAllBytes(tempAssembly, assemblyStream.ToArray());
            string? tempPdb = null;
            if (pdbStream != null)
            {
                tempPdb = TempName(outputPdb);
                tempFiles.Add(tempPdb);
                File.WriteAllBytes(tempPdb, pdbStream.ToArray());
            }
            if (tempPdb != null)
                Replace(tempPdb, outputPdb);
            Replace(tempAssembly, _output);
        }
        catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
        {
            foreach (var f in tempFiles)
                TryDelete(f);
            _log.Report(DiagnosticCodes.CannotWrite, DiagnosticSeverity.Error, "cannot write the output: " + e.Message, file: _output);
            return false;
        }
        return true;
    }

    /// <summary>Copies the input and its PDB to the output unchanged; false, with the error reported, when it cannot.</summary>
    public bool CopyUnchanged(byte[]? pdb)
    {
        try
        {
            var dir = Path.GetDirectoryName(_output);
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
            var temp = TempName(_output);
            File.Copy(_input, temp, overwrite: true);
            if (pdb != null)
            {
                var tempPdb = TempName(Path.ChangeExtension(_output, ".pdb"));
                File.WriteAllBytes(tempPdb, pdb);
                Replace(tempPdb, Path.ChangeExtension(_output, ".pdb"));
            }
            Replace(temp, _output);
        }
        catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
        {
            _log.Report(DiagnosticCodes.CannotWrite, DiagnosticSeverity.Error, "cannot write the output: " + e.Message, file: _output);
            return false;
        }
        return true;
    }

    private static string TempName(string path)
        => Path.Combine(Path.GetDirectoryName(path) ?? ".", "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".hybrid-tmp");

    private static void Replace(string temp, string destination)
    {
        if (File.Exists(destination))
            File.Replace(temp, destination, null);
        else
            File.Move(temp, destination);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
