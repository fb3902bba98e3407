using System;
using System.IO;
using System.Text;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hybrid.Weaving;

/// <summary>
/// Wraps Cecil's portable-PDB writer to put a chosen path in the CodeView debug directory entry.
/// Cecil writes the path of the stream it writes to (nothing for a MemoryStream, a temp path for our atomic
/// temp file), which would break PDB lookup and determinism; we keep the path the compiler originally recorded.
/// </summary>
internal sealed class PdbPathSymbolWriterProvider : ISymbolWriterProvider
{
    private readonly ISymbolWriterProvider _inner;
    private readonly string _pdbPath;
    private readonly bool _embedded;

    public PdbPathSymbolWriterProvider(bool embedded, string pdbPath)
    {
        _embedded = embedded;
        _inner = embedded ? new EmbeddedPortablePdbWriterProvider() : (ISymbolWriterProvider)new PortablePdbWriterProvider();
        _pdbPath = pdbPath;
    }

    public ISymbolWriter GetSymbolWriter(ModuleDefinition module, string fileName)
        // The embedded writer ignores the name but rejects an empty one (we write to a MemoryStream).
        => new Writer(_inner.GetSymbolWriter(module, string.IsNullOrEmpty(fileName) ? "module.dll" : fileName), _pdbPath);

    public ISymbolWriter GetSymbolWriter(ModuleDefinition module, Stream symbolStream)
        => _embedded ? GetSymbolWriter(module, "module.dll") : new Writer(_inner.GetSymbolWriter(module, symbolStream), _pdbPath);

    private sealed class Writer : ISymbolWriter
    {
        private readonly ISymbolWriter _inner;
        private readonly string _pdbPath;

        public Writer(ISymbolWriter inner, string pdbPath)
        {
            _inner = inner;
            _pdbPath = pdbPath;
        }

        public ISymbolReaderProvider GetReaderProvider() => _inner.GetReaderProvider();

        public ImageDebugHeader GetDebugHeader()
        {
            var header = _inner.GetDebugHeader();
            if (!header.HasEntries)
                return header;
            for (int i = 0; i < header.Entries.Length; i++)
            {
                var entry = header.Entries[i];
                if (entry.Directory.Type != ImageDebugType.CodeView || entry.Data.Length < 24 || BitConverter.ToUInt32(entry.Data, 0) != 0x53445352)
                    continue;
                var path = Encoding.UTF8.GetBytes(_pdbPath);
                var data = new byte[24 + path.Length + 1];
                Buffer.BlockCopy(entry.Data, 0, data, 0, 24); // 'RSDS', PDB id, age
                Buffer.BlockCopy(path, 0, data, 24, path.Length);
                var directory = entry.Directory;
                directory.SizeOfData = data.Length;
                header.Entries[i] = new ImageDebugHeaderEntry(directory, data);
            }
            return header;
        }

        public void Write(MethodDebugInformation info) => _inner.Write(info);

        public void Write(ICustomDebugInformationProvider provider) => _inner.Write(provider);

        public void Write() => _inner.Write();

        public void Dispose() => _inner.Dispose();
    }

    /// <summary>The PDB path recorded in the input's CodeView entry, if any.</summary>
    public static string? ReadCodeViewPath(ModuleDefinition module)
    {
        if (!module.HasDebugHeader)
            return null;
        foreach (var entry in module.GetDebugHeader().Entries)
        {
            if (entry.Directory.Type != ImageDebugType.CodeView || entry.Data.Length <= 24 || BitConverter.ToUInt32(entry.Data, 0) != 0x53445352)
                continue;
            var end = Array.IndexOf(entry.Data, (byte)0, 24);
            if (end < 0) end = entry.Data.Length;
            return Encoding.UTF8.GetString(entry.Data, 24, end - 24);
        }
        return null;
    }

    public static bool HasEmbeddedPdb(ModuleDefinition module)
    {
        if (!module.HasDebugHeader)
            return false;
        foreach (var entry in module.GetDebugHeader().Entries)
            if (entry.Directory.Type == ImageDebugType.EmbeddedPortablePdb)
                return true;
        return false;
    }
}
