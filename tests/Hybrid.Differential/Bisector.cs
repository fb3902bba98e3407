using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Hybrid.Differential;

/// <summary>
/// Narrows a failing run (a crash, a hang, a digest mismatch) down to the methods whose redirect causes it. Each probe
/// is a child process of this program redirecting a subset of the candidates (<c>--set</c>), because a crash takes the
/// whole process down and a redirect, once installed, changes the process for good.
/// </summary>
internal sealed class Bisector
{
    private readonly Options _options;
    private readonly Dictionary<string, Candidate> _byKey = new(StringComparer.Ordinal);
    private readonly string _work;
    private int _probes;

    private Bisector(Options options)
    {
        _options = options;
        _work = Directory.CreateTempSubdirectory("hybrid-bisect.").FullName;
    }

    public static int Run(Options options)
    {
        var catalog = MethodCatalog.Build(options);
        var bisector = new Bisector(options);
        foreach (var c in catalog.Candidates)
            bisector._byKey[c.Key] = c;
        var all = catalog.Candidates.Select(c => c.Key).ToList();
        Console.WriteLine($"bisect: {all.Count} candidate methods; child logs in {bisector._work}");
        var watch = Stopwatch.StartNew();
        if (!bisector.Fails(all, "all candidates"))
        {
            Console.WriteLine("bisect: a child redirecting every candidate passes; nothing to narrow down (flaky, or the failure needs the parent's exact state).");
            return 0;
        }
        var culprits = bisector.Narrow(all, new List<string>());
        Console.WriteLine($"bisect: {culprits.Count} method(s) after {bisector._probes} probes in {watch.Elapsed.TotalSeconds:F0} s:");
        foreach (var key in culprits)
            Console.WriteLine($"  {key}  {bisector._byKey[key].Name}");
        bool alone = bisector.Fails(culprits, "confirmation: the narrowed set alone");
        Console.WriteLine(alone
            ? "bisect: confirmed — redirecting just these reproduces the failure."
            : "bisect: NOT confirmed alone (the failure depends on more than these methods; the list is where it stopped).");
        string pattern = "^(" + string.Join("|", culprits.Select(k => Regex.Escape(bisector._byKey[k].Name))) + ")$";
        Console.WriteLine($"bisect: reproduce with: --only '{pattern}'");
        return 1;
    }

    /// <summary>
    /// The smallest subset of <paramref name="candidates"/> that still fails together with <paramref name="fixedSet"/>.
    /// When neither half fails alone the failure needs methods from both: each half is narrowed with the other held.
    /// </summary>
    private List<string> Narrow(List<string> candidates, List<string> fixedSet)
    {
        if (candidates.Count <= 1)
            return candidates;
        var first = candidates.Take(candidates.Count / 2).ToList();
        var second = candidates.Skip(candidates.Count / 2).ToList();
        if (Fails(fixedSet.Concat(first).ToList(), $"first half: {first.Count} of {candidates.Count} (+{fixedSet.Count} held)"))
            return Narrow(first, fixedSet);
        if (Fails(fixedSet.Concat(second).ToList(), $"second half: {second.Count} of {candidates.Count} (+{fixedSet.Count} held)"))
            return Narrow(second, fixedSet);
        Console.WriteLine($"bisect: neither half fails alone; narrowing each with the other held");
        var fromFirst = Narrow(first, fixedSet.Concat(second).ToList());
        var fromSecond = Narrow(second, fixedSet.Concat(fromFirst).ToList());
        return fromFirst.Concat(fromSecond).ToList();
    }

    private bool Fails(List<string> keys, string what)
    {
        // A flaky failure that a single passing run would hide sends the search down the wrong half.
        for (int run = 1; run <= _options.Repeat; run++)
            if (FailsOnce(keys, _options.Repeat == 1 ? what : $"{what}, run {run}/{_options.Repeat}"))
                return true;
        return false;
    }

    private bool FailsOnce(List<string> keys, string what)
    {
        int probe = ++_probes;
        string set = Path.Combine(_work, $"probe{probe}.set");
        string log = Path.Combine(_work, $"probe{probe}.log");
        File.WriteAllLines(set, keys);
        var info = new ProcessStartInfo { FileName = Environment.ProcessPath!, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Under `dotnet <dll>` the host is dotnet and the program is an argument; under the apphost it is the process.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in _options.SelectionArguments)
            info.ArgumentList.Add(a);
        foreach (var a in new[] { "--set", set, "--child", "--progress", "1000000" })
            info.ArgumentList.Add(a);
        var watch = Stopwatch.StartNew();
        using var writer = new StreamWriter(log) { AutoFlush = true };
        var sync = new object();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (sync) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (sync) writer.WriteLine("stderr: " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool exited = process.WaitForExit(_options.ChildTimeout);
        if (!exited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        process.WaitForExit(); // drains the asynchronous readers
        string outcome = !exited ? $"hung (killed after {_options.ChildTimeout.TotalSeconds:F0} s)"
            : process.ExitCode == 0 ? "passes"
            : $"FAILS (exit {process.ExitCode}{Signal(process.ExitCode)}): {Why(log)}";
        Console.WriteLine($"bisect: probe {probe,3}: {keys.Count,6} methods — {what}: {outcome} [{watch.Elapsed.TotalSeconds:F0} s]");
        return !exited || process.ExitCode != 0;
    }

    private static string Signal(int exitCode) => exitCode switch
    {
        134 => ", SIGABRT",
        136 => ", SIGFPE",
        137 => ", SIGKILL",
        139 => ", SIGSEGV",
        _ => "",
    };

    /// <summary>The first failing check, or the runtime's own last words, from a child's log.</summary>
    private static string Why(string log)
    {
        var lines = File.ReadAllLines(log);
        var failed = lines.FirstOrDefault(l => l.TrimStart().StartsWith("FAIL ", StringComparison.Ordinal));
        int fatal = Array.FindIndex(lines, l => l.Contains("Unhandled exception", StringComparison.Ordinal) || l.Contains("Fatal error", StringComparison.Ordinal)
            || l.Contains("Segmentation fault", StringComparison.Ordinal) || l.Contains("Process terminated", StringComparison.Ordinal));
        // The runtime prints "Fatal error." alone; the exception and the innermost frame follow it.
        string? crash = fatal < 0 ? null : string.Join(" ", lines.Skip(fatal).Take(3).Select(l => l.Replace("stderr: ", "").Trim()));
        string why = (crash ?? failed ?? lines.LastOrDefault() ?? "no output").Trim();
        return why.Length > 240 ? why[..240] + "…" : why;
    }
}
