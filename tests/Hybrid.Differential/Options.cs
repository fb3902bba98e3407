using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Hybrid.Differential;

/// <summary>Command line of the lane; see <see cref="Usage"/>.</summary>
internal sealed class Options
{
    public const string Usage = """
        Hybrid.Differential — redirects every method of real libraries at once and compares workload digests.

          --assembly <name|path>   a library whose methods are redirected (repeatable; default: Mono.Cecil, Iced,
                                   Newtonsoft.Json). Every library's file is also an input of the Cecil
                                   workload; the JSON workloads run when Newtonsoft.Json is among them.
          --only <regex>           redirect only methods whose name (Ns.Type.Method(Params)) matches
          --skip <regex>           do not redirect methods whose name matches (applied after --only)
          --max-refused <n>        add a check that at most n attempted methods were refused (default: refusals
                                   are reported, not checked)
          --report <path>          write every refusal and skip, one per line, to this file
          --list                   print the candidate methods (token and name) and exit
          --progress <n>           progress line every n methods (default 500)
          --baseline-runs <n>      unredirected runs before redirecting (default 2: the first pays for JIT compilation
                                   and both must agree; 1 redirects while the libraries' code is still at tier 0,
                                   with OSR patchpoints, a different state for the engine to patch)
          --baseline-here          run the unredirected baseline in this process (default: in a child process, so that
                                   no caller of the libraries is compiled before the redirects — an optimized caller,
                                   e.g. the OSR continuation of a workload loop, may inline a method, and no redirect
                                   reaches an inlined copy; the redirect-holds check needs callers compiled after)
          --baseline-only          run the baseline only and print its digests (what the parent runs as its child)
          --trace                  print each method before redirecting it (the last line before a crash names it)
          --bisect                 narrow a crash or a digest mismatch down to the responsible method(s) by
                                   redirecting halves of the candidate list in child processes
          --child-timeout <s>      bisect: a child running longer than this counts as failing (default 900)
          --repeat <n>             bisect: run each probe up to n times, failing if any run fails (for flaky
                                   crashes; default 1)
          --set <path>             redirect only the methods listed in this file ("<assembly> 0x<token>" lines);
                                   what --bisect passes to its children
          --child                  run as a bisect child: only the digest comparisons decide the exit code
        """;

    public List<string> Assemblies { get; } = new();
    public Regex? Only { get; private set; }
    public Regex? Skip { get; private set; }
    public string? ReportPath { get; private set; }
    public string? SetPath { get; private set; }
    public bool List { get; private set; }
    public bool Bisect { get; private set; }
    public bool Child { get; private set; }
    public bool Trace { get; private set; }
    public bool BaselineHere { get; private set; }
    public bool BaselineOnly { get; private set; }
    public int Progress { get; private set; } = 500;
    public int Repeat { get; private set; } = 1;
    public int BaselineRuns { get; private set; } = 2;
    public int? MaxRefused { get; private set; }
    public TimeSpan ChildTimeout { get; private set; } = TimeSpan.FromSeconds(900);

    /// <summary>The arguments a bisect child needs to see the same candidate list as its parent.</summary>
    public List<string> SelectionArguments { get; } = new();

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Length)
                    throw new ArgumentException($"{args[i]} needs a value");
                return args[++i];
            }
            switch (args[i])
            {
                case "--assembly":
                    options.Assemblies.Add(Value());
                    options.SelectionArguments.AddRange(new[] { "--assembly", options.Assemblies[^1] });
                    break;
                case "--only":
                    options.Only = new Regex(Value(), RegexOptions.CultureInvariant);
                    options.SelectionArguments.AddRange(new[] { "--only", options.Only.ToString() });
                    break;
                case "--skip":
                    options.Skip = new Regex(Value(), RegexOptions.CultureInvariant);
                    options.SelectionArguments.AddRange(new[] { "--skip", options.Skip.ToString() });
                    break;
                case "--report": options.ReportPath = Value(); break;
                case "--set": options.SetPath = Value(); break;
                case "--list": options.List = true; break;
                case "--bisect": options.Bisect = true; break;
                case "--child": options.Child = true; break;
                case "--trace": options.Trace = true; break;
                case "--baseline-here": options.BaselineHere = true; break;
                case "--baseline-only": options.BaselineOnly = true; break;
                case "--progress": options.Progress = Math.Max(1, int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--baseline-runs":
                    options.BaselineRuns = Math.Max(1, int.Parse(Value(), CultureInfo.InvariantCulture));
                    options.SelectionArguments.AddRange(new[] { "--baseline-runs", options.BaselineRuns.ToString(CultureInfo.InvariantCulture) });
                    break;
                case "--max-refused": options.MaxRefused = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--repeat": options.Repeat = Math.Max(1, int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--child-timeout": options.ChildTimeout = TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "-h" or "--help": throw new HelpRequestedException();
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }
        if (options.Assemblies.Count == 0)
            options.Assemblies.AddRange(new[] { "Mono.Cecil", "Iced", "Newtonsoft.Json" });
        return options;
    }
}

internal sealed class HelpRequestedException : Exception
{
}
