using System;
using System.Collections.Generic;

namespace Hybrid.Weaving;

/// <summary>Everything the weaver needs to know about one weaving run.</summary>
public sealed class WeaverOptions
{
    /// <summary>Path of the assembly to weave. Its PDB (next to it, or embedded) is picked up automatically.</summary>
    public string InputPath { get; set; } = "";

    /// <summary>Where to write the woven assembly; <c>null</c> rewrites <see cref="InputPath"/> in place (atomically).</summary>
    public string? OutputPath { get; set; }

    /// <summary>Method selectors (see docs/weaver.md). At least one is required.</summary>
    public IList<string> Selectors { get; set; } = new List<string>();

    /// <summary>
    /// Contents of an .snk file (RSA key pair). When the input is strong-named and no key is given, the output keeps
    /// its public key but its signature is removed (flag cleared) and a warning is reported.
    /// </summary>
    public byte[]? StrongNameKeyBlob { get; set; }

    /// <summary>Extra directories searched for the input's referenced assemblies (the input's own directory is always searched).</summary>
    public IList<string> ReferenceSearchDirectories { get; set; } = new List<string>();

    /// <summary>
    /// Downgrades "referenced assembly not found" from an error to a warning. Weaving itself never needs to load
    /// references, so this is safe when you know the references will be present at run time.
    /// </summary>
    public bool AllowMissingReferences { get; set; }

    /// <summary>Called for every diagnostic as soon as it is produced (also collected in <see cref="WeaveResult.Diagnostics"/>).</summary>
    public Action<WeaverDiagnostic>? Diagnostic { get; set; }
}
