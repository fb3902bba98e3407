using System;
using System.IO;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hybrid.Weaving;

/// <summary>
/// How the woven assembly's symbols are written: as they came (a portable PDB next to it, or embedded), under the
/// PDB path the compiler recorded (docs/weaver.md, "Quality guarantees": debug symbols). A Windows PDB comes back
/// portable, since Cecil can read one anywhere but write one only on Windows.
/// </summary>
internal sealed class SymbolPlan
{
    public bool Embedded;
    public string CodeViewPath = "";

    /// <summary>
    /// Reads the input's symbols into <paramref name="module"/>. Null when it has none, or when they cannot be read
    /// or do not match (reported): the output is then written without symbols.
    /// </summary>
    public static SymbolPlan? Read(ModuleDefinition module, byte[]? pdb, string output, DiagnosticLog log)
    {
        var codeView = PdbPathSymbolWriterProvider.ReadCodeViewPath(module);
        try
        {
            if (PdbPathSymbolWriterProvider.HasEmbeddedPdb(module))
            {
                module.ReadSymbols(new EmbeddedPortablePdbReaderProvider().GetSymbolReader(module, ""), throwIfSymbolsAreNotMaching: true);
                return new SymbolPlan { Embedded = true, CodeViewPath = codeView ?? Path.GetFileNameWithoutExtension(output) + ".pdb" };
            }
            if (pdb == null)
                return null;
            ISymbolReaderProvider provider;
            if (pdb.Length >= 4 && pdb[0] == (byte)'B' && pdb[1] == (byte)'S' && pdb[2] == (byte)'J' && pdb[3] == (byte)'B')
                provider = new PortablePdbReaderProvider();
            else
            {
                // Windows PDBs can be read anywhere but only written on Windows; emit a portable PDB instead.
                provider = new Mono.Cecil.Pdb.NativePdbReaderProvider();
                log.Report(DiagnosticCodes.SymbolsProblem, DiagnosticSeverity.Info, "the input has a Windows PDB; the woven output gets an equivalent portable PDB");
            }
            module.ReadSymbols(provider.GetSymbolReader(module, new MemoryStream(pdb, writable: false)), throwIfSymbolsAreNotMaching: true);
            return new SymbolPlan { Embedded = false, CodeViewPath = codeView ?? Path.GetFileNameWithoutExtension(output) + ".pdb" };
        }
        catch (Exception e)
        {
            log.Report(DiagnosticCodes.SymbolsProblem, DiagnosticSeverity.Warning,
                "the symbols (PDB) could not be read or do not match the assembly (" + e.Message + "); the output is written without symbols, so stack traces will lack line numbers - rebuild to get a matching PDB");
            return null;
        }
    }
}
