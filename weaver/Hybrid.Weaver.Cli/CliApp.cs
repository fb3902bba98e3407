using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Hybrid.Weaving.Cli;

/// <summary>Command-line front end; separate from Main so tests can run it in-process.</summary>
public static class CliApp
{
    /// <summary>Exit code for success (warnings allowed).</summary>
    public const int Ok = 0;
    /// <summary>Exit code when weaving reported an error.</summary>
    public const int WeaveFailed = 1;
    /// <summary>Exit code for bad command-line usage.</summary>
    public const int UsageError = 2;

    private const string Usage =
@"usage: hybrid-weave <assembly> --patchable <selector>... [options]

Makes the selected methods redirectable at run time by the Hybrid engine.

options:
  -p, --patchable <selector>...   methods to weave (one or more; repeatable). Forms:
                                    Ns.Type.Method            all overloads
                                    Ns.Type.Method(System.Int32,System.String&)   one overload
                                    Ns.Type.Prop              property accessors
                                    Ns.Type..ctor             constructors
                                    Ns.Outer+Inner.M  Ns.Cache`1.Get
                                    Ns.Type.*  Ns.*  *        globs over Ns.Type.Method
                                  a selector matching no method defined in <assembly> but methods it
                                  calls (e.g. System.DateTime.UtcNow) redirects those call sites
  -o, --out <path>                write here instead of rewriting <assembly> in place
  -k, --key <file.snk>            re-sign a strong-named assembly (otherwise its signature is removed)
  -r, --reference <dir>           extra directory to look for referenced assemblies (repeatable)
      --allow-missing-references  report missing references as warnings instead of errors
  -v, --verbose                   list woven methods, redirected call sites and skipped methods
  -h, --help                      show this help
      --version                   print the weaver version

exit codes: 0 success (warnings allowed), 1 weaving error, 2 usage error";

    /// <summary>Runs the tool; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? input = null, output = null, keyFile = null;
        var selectors = new List<string>();
        var refs = new List<string>();
        bool verbose = false, allowMissing = false;

        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string? Value()
            {
                if (i + 1 < args.Length && !IsOption(args[i + 1]))
                    return args[++i];
                stderr.WriteLine("hybrid-weave: error: option " + a + " needs a value");
                return null;
            }
            switch (a)
            {
                case "-h":
                case "--help":
                case "-?":
                    stdout.WriteLine(Usage);
                    return Ok;
                case "--version":
                    stdout.WriteLine(Weaver.Version);
                    return Ok;
                case "-p":
                case "--patchable":
                    var before = selectors.Count;
                    while (i + 1 < args.Length && !IsOption(args[i + 1]) && (input != null || selectors.Count == before || !LooksLikeAssembly(args[i + 1])))
                        selectors.Add(args[++i]);
                    if (selectors.Count == before)
                    {
                        stderr.WriteLine("hybrid-weave: error: --patchable needs at least one selector, e.g. --patchable MyApp.Clock.Now");
                        return UsageError;
                    }
                    break;
                case "-o":
                case "--out":
                    if ((output = Value()) == null) return UsageError;
                    break;
                case "-k":
                case "--key":
                    if ((keyFile = Value()) == null) return UsageError;
                    break;
                case "-r":
                case "--reference":
                    var dir = Value();
                    if (dir == null) return UsageError;
                    refs.Add(dir);
                    break;
                case "--allow-missing-references":
                    allowMissing = true;
                    break;
                case "-v":
                case "--verbose":
                    verbose = true;
                    break;
                default:
                    if (IsOption(a))
                    {
                        stderr.WriteLine("hybrid-weave: error: unknown option '" + a + "'; see hybrid-weave --help");
                        return UsageError;
                    }
                    if (input != null)
                    {
                        stderr.WriteLine("hybrid-weave: error: more than one input assembly ('" + input + "' and '" + a + "'); weave one assembly per run");
                        return UsageError;
                    }
                    input = a;
                    break;
            }
        }

        if (input == null)
        {
            stderr.WriteLine("hybrid-weave: error: no input assembly given");
            stderr.WriteLine(Usage);
            return UsageError;
        }
        if (selectors.Count == 0)
        {
            stderr.WriteLine("hybrid-weave: error: no --patchable selector given; name the methods to make redirectable, e.g. --patchable \"MyApp.Clock.*\"");
            return UsageError;
        }

        byte[]? key = null;
        if (keyFile != null)
        {
            try
            {
                key = File.ReadAllBytes(keyFile);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                stderr.WriteLine(keyFile + ": error " + DiagnosticCodes.InvalidKey + ": cannot read the key file: " + e.Message);
                return WeaveFailed;
            }
        }

        var result = Weaver.Weave(new WeaverOptions
        {
            InputPath = input,
            OutputPath = output,
            Selectors = selectors,
            StrongNameKeyBlob = key,
            ReferenceSearchDirectories = refs,
            AllowMissingReferences = allowMissing,
            Diagnostic = d => (d.Severity == DiagnosticSeverity.Info ? stdout : stderr).WriteLine(d.ToString()),
        });

        if (verbose)
        {
            foreach (var m in result.WovenMethods)
                stdout.WriteLine("  woven   " + m.Method);
            foreach (var c in result.CallSites)
                stdout.WriteLine("  calls   " + c.Target + " [" + c.CallKind + "] " + c.CallSites + " call site(s) -> " + c.GuardType);
            foreach (var s in result.SkippedMethods)
                stdout.WriteLine("  skipped " + s.Method + " [" + s.Code + "] " + s.Reason);
        }
        if (!result.Success)
        {
            stderr.WriteLine("hybrid-weave: failed; " + input + " was not modified");
            return WeaveFailed;
        }
        if (!result.AlreadyWoven)
        {
            var skippedNote = result.SkippedMethods.Count == 0 ? "" : ", " + result.SkippedMethods.Count + " skipped (use -v to list)";
            var callNote = result.CallSites.Count == 0 ? "" : " and the call sites of " + result.CallSites.Select(c => c.Target).Distinct().Count() + " external method(s)";
            stdout.WriteLine("hybrid-weave: wove " + result.WovenMethods.Count + " method(s)" + callNote + skippedNote + " in "
                + (int)result.Elapsed.TotalMilliseconds + " ms -> " + result.OutputPath);
        }
        return Ok;
    }

    private static bool IsOption(string s) => s.Length > 1 && s[0] == '-' && s != "-";

    private static bool LooksLikeAssembly(string s)
        => s.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".exe", StringComparison.OrdinalIgnoreCase);
}
