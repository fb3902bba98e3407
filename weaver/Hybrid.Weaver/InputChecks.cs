using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Mono.Cecil;

namespace Hybrid.Weaving;

/// <summary>
/// What a run checks about the input before weaving it, and says: references that cannot be found, a key that does
/// not fit the assembly's strong name, and a signature that goes because no key was given.
/// </summary>
internal sealed class InputChecks
{
    private readonly WeaverOptions _options;
    private readonly string _input;
    private readonly DiagnosticLog _log;

    public InputChecks(WeaverOptions options, string input, DiagnosticLog log)
    {
        _options = options;
        _input = input;
        _log = log;
    }

    public void CheckReferences(ModuleDefinition module)
    {
        // Weaving never loads references, but a missing one almost always means a wrong path or an incomplete
        // build output, which would only surface later as a FileNotFoundException at run time.
        var dirs = new List<string> { Path.GetDirectoryName(_input) };
        dirs.AddRange(_options.ReferenceSearchDirectories ?? Array.Empty<string>());
        var runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location);
        if (!string.IsNullOrEmpty(runtimeDir))
            dirs.Add(runtimeDir!);
        foreach (var reference in module.AssemblyReferences)
        {
            var found = dirs.Any(d => File.Exists(Path.Combine(d, reference.Name + ".dll")) || File.Exists(Path.Combine(d, reference.Name + ".exe")));
            if (found)
                continue;
            _log.Report(DiagnosticCodes.MissingReference,
                _options.AllowMissingReferences ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error,
                "referenced assembly '" + reference.FullName + "' was not found next to the input or in any -r directory; pass its directory with -r <dir>"
                + (_options.AllowMissingReferences ? "" : " (or --allow-missing-references if it will be present at run time)"));
        }
    }

    public void CheckStrongName(ModuleDefinition module, byte[]? keyModulus, uint keyExponent)
    {
        var name = module.Assembly.Name;
        if (keyModulus != null)
        {
            if (name.HasPublicKey && !StrongNameKey.SameKey(name.PublicKey, keyModulus, keyExponent))
                _log.Report(DiagnosticCodes.KeyMismatch, DiagnosticSeverity.Error,
                    "the key does not match the assembly's public key (token " + Hex(name.PublicKeyToken) + "); signing with it would change the assembly's identity and break every reference to it - use the key the assembly was built with");
            else if (!name.HasPublicKey)
                _log.Report(DiagnosticCodes.NowStrongNamed, DiagnosticSeverity.Info,
                    "the input was not strong-named; the output is signed with the given key, which changes its identity");
        }
    }

    /// <summary>Reported only once weaving is certain to go ahead, so failed runs don't talk about an output.</summary>
    public void RemoveSignatureIfNoKey(ModuleDefinition module)
    {
        var name = module.Assembly.Name;
        if (_options.StrongNameKeyBlob == null && name.HasPublicKey && (module.Attributes & ModuleAttributes.StrongNameSigned) != 0)
        {
            _log.Report(DiagnosticCodes.SignatureRemoved, DiagnosticSeverity.Warning,
                "the input is strong-named but no key was given: the output keeps its public key (so references still bind) but its signature is removed. .NET (Core) ignores strong-name signatures; .NET Framework will refuse to load it - pass --key <file.snk> to re-sign");
            module.Attributes &= ~ModuleAttributes.StrongNameSigned;
        }
    }

    private static string Hex(byte[] bytes) => string.Concat(bytes.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}
