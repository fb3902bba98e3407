using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;

namespace Hybrid.Differential;

/// <summary>A redirect the engine refused, or a pass-through that could not be completed, at one stage.</summary>
internal sealed record Refusal(Candidate Candidate, string Stage, Exception Error)
{
    /// <summary>What refusals are grouped by: the stage, the exception type and the start of the message with the
    /// method's own name folded away (every engine message starts with it, which would make every group unique).</summary>
    public string Reason
    {
        get
        {
            string message = Error.Message.Replace('\n', ' ').Replace('\r', ' ')
                .Replace(Candidate.Name, "<method>", StringComparison.Ordinal)
                .Replace(Hybrid.Targets.MethodTarget.TypeName(Candidate.Method.DeclaringType!), "<type>", StringComparison.Ordinal);
            message = s_hex.Replace(message, "0x…");
            message = s_number.Replace(message, "#");
            if (message.Length > 80)
                message = message[..80] + "…";
            return $"{Stage}: {Error.GetType().Name}: {message}";
        }
    }

    private static readonly Regex s_hex = new("0x[0-9A-Fa-f]+", RegexOptions.CultureInvariant);
    private static readonly Regex s_number = new(@"(?<![\w.])\d{2,}(?![\w])", RegexOptions.CultureInvariant);
}

/// <summary>One live redirect with its pass-through state.</summary>
internal sealed record Live(Candidate Candidate, Redirection Redirection, PassThrough State);

/// <summary>The four phases in one process: baseline, redirect everything, run redirected, dispose and run again.</summary>
internal sealed class Lane
{
    private readonly Options _options;
    private readonly TextWriter _out = Console.Out;
    private readonly List<(string Name, bool Ok, string Detail)> _checks = new();
    private readonly List<(string Phase, TimeSpan Elapsed)> _phases = new();
    private readonly List<Refusal> _refusals = new();
    private readonly List<Live> _live = new();
    private readonly List<string> _disposeFailures = new();
    private readonly List<PassThrough> _states = new();
    private readonly Dictionary<Live, long> _callsAtWorkloadStart = new();
    private MethodCatalog _catalog = null!;
    private List<WorkloadCase> _cases = null!;
    private List<(string Digest, TimeSpan Elapsed)> _baseline = null!;
    private readonly List<string> _explainDisagreements = new();
    private PassThroughFactory _factory = null!;
    private long _callsWhileRedirecting;
    private long _callsWhileRedirected;
    private int _calledMethods;
    private long _earlyCalls;

    public Lane(Options options) => _options = options;

    public int Run()
    {
        var total = Stopwatch.StartNew();
        string? crash = null;
        try
        {
            Phase("catalog", () => _catalog = MethodCatalog.Build(_options));
            if (_options.List)
            {
                foreach (var c in _catalog.Candidates)
                    _out.WriteLine($"{c.Key}  {c.Name}");
                return 0;
            }
            _out.WriteLine($"differential: {_catalog.Candidates.Count} methods to redirect in {string.Join(", ", _catalog.Assemblies.Select(a => a.GetName().Name))}" +
                $" ({_catalog.Skipped.Count} skipped, {_catalog.FilteredOut} filtered out by --only/--skip/--set)");
            _cases = WorkloadSet.Create(_catalog.Assemblies, _out);
            Phase("1 baseline (unredirected)", () =>
            {
                // Run twice: the first run pays for JIT compilation, and two equal runs prove the workloads are
                // deterministic, so a later mismatch cannot be noise. In a child process by default, so that this
                // process compiles no caller of the libraries before the redirects exist.
                var runs = _options.BaselineHere || _options.BaselineOnly ? RunBaselines() : BaselineInChild();
                _baseline = runs[^1];
                if (runs.Count > 1)
                {
                    bool deterministic = runs.All(r => r.Select(x => x.Digest).SequenceEqual(_baseline.Select(x => x.Digest)));
                    _checks.Add(($"baseline: {runs.Count} unredirected runs agree", deterministic, deterministic ? "" : "the workloads are not deterministic; later comparisons mean nothing"));
                }
            });
            if (_options.BaselineOnly)
            {
                for (int i = 0; i < _baseline.Count; i++)
                    _out.WriteLine($"{BaselineLine}\t{i}\t{_baseline[i].Elapsed.Ticks}\t{_baseline[i].Digest}");
                return _checks.All(c => c.Ok) ? 0 : 1;
            }
            Phase("2 redirect every method", RedirectAll);
            Phase("3 workloads redirected", () =>
            {
                var redirected = WorkloadSet.Run(_cases, _out, "redirected");
                Compare("redirected", redirected);
                _callsWhileRedirected = _live.Sum(l => Interlocked.Read(ref l.State.Calls)) - _callsWhileRedirecting;
                _calledMethods = _live.Count(l => Interlocked.Read(ref l.State.Calls) > 0);
            });
            if (!_options.Child)
                _checks.Add(("pass-through calls by the workloads > 0", _callsWhileRedirected > 0, $"{_callsWhileRedirected} calls into {_calledMethods} distinct methods"));
            if (!_options.Child)
                _checks.Add(("Explain agrees with Redirect for every method", _explainDisagreements.Count == 0,
                    _explainDisagreements.Count == 0 ? $"{_catalog.Candidates.Count} methods" : $"{_explainDisagreements.Count} disagreements, e.g. {string.Join(" | ", _explainDisagreements.Take(3))}"));
            if (!_options.Child && !_options.BaselineHere)
                CheckRedirectHolds(); // with the baseline in this process, callers compiled before the redirects may have inlined the formatters (a documented limit)
            if (_options.MaxRefused is int max && !_options.Child)
                _checks.Add(($"at most {max} methods refused", _refusals.Count <= max, $"{_refusals.Count} refused, {_live.Count} redirected"));
            Phase("4 dispose every redirect", DisposeAll);
            Phase("5 workloads after dispose", () => Compare("after dispose", WorkloadSet.Run(_cases, _out, "after dispose")));
        }
        catch (Exception e)
        {
            crash = e.ToString();
            _out.WriteLine($"differential: the lane itself failed: {e}");
        }
        bool disposed = _disposeFailures.Count == 0;
        _checks.Add(("nothing crashed (every phase completed, every Dispose returned)", crash is null && disposed,
            crash is not null ? "lane exception: " + crash.Split('\n')[0] : disposed ? "" : $"{_disposeFailures.Count} Dispose calls threw, e.g. {_disposeFailures[0]}"));
        WriteReport();
        Summary(total.Elapsed);
        int failed = _checks.Count(c => !c.Ok);
        return failed == 0 ? 0 : 1;
    }

    private const string BaselineLine = "baseline-digest";

    private List<List<(string Digest, TimeSpan Elapsed)>> RunBaselines()
    {
        var runs = new List<List<(string Digest, TimeSpan Elapsed)>>();
        for (int i = 1; i <= _options.BaselineRuns; i++)
            runs.Add(WorkloadSet.Run(_cases, _out, i == _options.BaselineRuns ? "baseline" : $"warm-up {i}"));
        return runs;
    }

    /// <summary>The baseline from a child process running this program with --baseline-only (its digests, and whether its runs agreed).</summary>
    private List<List<(string Digest, TimeSpan Elapsed)>> BaselineInChild()
    {
        var info = new ProcessStartInfo { FileName = Environment.ProcessPath!, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            info.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        foreach (var a in _options.SelectionArguments)
            info.ArgumentList.Add(a);
        info.ArgumentList.Add("--baseline-only");
        using var process = Process.Start(info)!;
        var digests = new List<(string Digest, TimeSpan Elapsed)>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            var parts = line.Split('\t', 4);
            if (parts.Length == 4 && parts[0] == BaselineLine)
                digests.Add((parts[3], TimeSpan.FromTicks(long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture))));
            else if (line.StartsWith("  [", StringComparison.Ordinal))
                _out.WriteLine(line + " (child)");
        }
        process.WaitForExit();
        if (digests.Count != _cases.Count)
            throw new InvalidOperationException($"the baseline child process gave {digests.Count} digests for {_cases.Count} workloads (exit {process.ExitCode})");
        if (_options.BaselineRuns > 1)
            _checks.Add(($"baseline: {_options.BaselineRuns} unredirected runs agree (child process)", process.ExitCode == 0,
                process.ExitCode == 0 ? "" : "the workloads are not deterministic; later comparisons mean nothing"));
        return new List<List<(string Digest, TimeSpan Elapsed)>> { digests };
    }

    private void Phase(string name, Action action)
    {
        _out.WriteLine($"== phase {name}");
        var watch = Stopwatch.StartNew();
        try
        {
            action();
        }
        finally
        {
            _phases.Add((name, watch.Elapsed));
            _out.WriteLine($"== phase {name}: {watch.Elapsed.TotalSeconds:F1} s");
        }
    }

    private void RedirectAll()
    {
        _factory = new PassThroughFactory();
        var watch = Stopwatch.StartNew();
        int done = 0;
        foreach (var candidate in _catalog.Candidates)
        {
            if (_options.Trace)
                _out.WriteLine($"  redirect {done + 1}: {candidate.Key} {candidate.Name}");
            Redirect(candidate);
            if (++done % _options.Progress == 0 || done == _catalog.Candidates.Count)
            {
                _out.WriteLine($"  redirecting: {done}/{_catalog.Candidates.Count}, {_live.Count} live, {_refusals.Count} refused, {watch.Elapsed.TotalSeconds:F1} s (last: {candidate.Name})");
                _out.Flush();
            }
        }
        // All states, not just the live ones: an early call that made Redirect or GetOriginal throw left no live redirect.
        _earlyCalls = _states.Sum(s => Interlocked.Read(ref s.EarlyCalls));
        // Calls before the workloads run come from the engine itself (it decodes and assembles with Iced) and from
        // the lane's own use of the libraries: a redirect of a dependency of the engine is part of what is tested.
        _callsWhileRedirecting = _live.Sum(l => Interlocked.Read(ref l.State.Calls));
        foreach (var l in _live)
            _callsAtWorkloadStart[l] = Interlocked.Read(ref l.State.Calls);
    }

    private void Redirect(Candidate candidate)
    {
        Type delegateType;
        Delegate passThrough;
        var state = new PassThrough(candidate.Name);
        _states.Add(state);
        try
        {
            var (returnType, parameters) = PassThroughFactory.ShapeOf(candidate.Method);
            delegateType = _factory.DelegateTypeFor(returnType, parameters);
            passThrough = PassThroughFactory.Create(delegateType, state);
        }
        catch (Exception e)
        {
            // The lane's own limitation (a signature Reflection.Emit cannot express), kept apart from the engine's refusals.
            _refusals.Add(new Refusal(candidate, "lane: build pass-through", e));
            return;
        }
        // What Explain promises and what Redirect then does must come from the same decision.
        RedirectPlan? plan = null;
        try
        {
            plan = Engine.Explain(candidate.Method);
        }
        catch (Exception e)
        {
            _explainDisagreements.Add($"{candidate.Name}: Explain threw {e.GetType().Name}: {e.Message}");
        }
        Redirection redirection;
        try
        {
            redirection = Engine.Redirect(candidate.Method, passThrough);
        }
        catch (Exception e)
        {
            _refusals.Add(new Refusal(candidate, "Redirect", e));
            if (plan is { CanRedirect: true })
                _explainDisagreements.Add($"{candidate.Name}: Explain said it can be redirected ({plan.Strategy}), Redirect refused: {e.Message}");
            return;
        }
        if (plan is not null && (!plan.CanRedirect || plan.Strategy != redirection.Strategy))
            _explainDisagreements.Add($"{candidate.Name}: Explain said {(plan.CanRedirect ? plan.Strategy.ToString() : "no: " + plan.Summary)}, Redirect used {redirection.Strategy}");
        try
        {
            state.Original = PassThroughFactory.GetOriginal(redirection, delegateType);
        }
        catch (Exception e)
        {
            _refusals.Add(new Refusal(candidate, "GetOriginal", e));
            // Left live, every call of the method would fail: there is no other way to reach its body.
            try
            {
                redirection.Dispose();
            }
            catch (Exception d)
            {
                _disposeFailures.Add($"{candidate.Name}: {d.GetType().Name}: {d.Message}");
            }
            return;
        }
        _live.Add(new Live(candidate, redirection, state));
    }

    /// <summary>
    /// Digests cannot see a redirect that is bypassed (a pass-through behaves like the original), so count calls where
    /// the exact number is known: the Iced workload formats every decoded instruction once with each formatter. The
    /// workload's callers are compiled after the redirects (the baseline ran in a child process), so every call, OSR
    /// continuations of the workload loop included, must reach the pass-through.
    /// </summary>
    private void CheckRedirectHolds()
    {
        long instructions = 0;
        for (int i = 0; i < _cases.Count; i++)
            if (_cases[i].Name.StartsWith("iced:", StringComparison.Ordinal) && long.TryParse(_baseline[i].Digest.Split(':')[0], out long n))
                instructions += n;
        foreach (var formatter in new[] { "Iced.Intel.IntelFormatter", "Iced.Intel.GasFormatter" })
        {
            string name = formatter + ".Format(ref Iced.Intel.Instruction, Iced.Intel.FormatterOutput)";
            var live = _live.FirstOrDefault(l => l.Candidate.Name == name);
            if (live is null || instructions == 0)
                continue;
            long calls = Interlocked.Read(ref live.State.Calls) - _callsAtWorkloadStart[live];
            _checks.Add(($"redirect holds: {name} reached once per decoded instruction", calls == instructions,
                $"{calls} of {instructions} calls went through the pass-through"));
        }
    }

    private void DisposeAll()
    {
        // Newest first, the order a `using` nest would give.
        for (int i = _live.Count - 1; i >= 0; i--)
        {
            try
            {
                _live[i].Redirection.Dispose();
            }
            catch (Exception e)
            {
                _disposeFailures.Add($"{_live[i].Candidate.Name}: {e.GetType().Name}: {e.Message}");
            }
        }
        _out.WriteLine($"  disposed {_live.Count} redirects, {_disposeFailures.Count} threw");
    }

    private void Compare(string phase, List<(string Digest, TimeSpan Elapsed)> results)
    {
        for (int i = 0; i < _cases.Count; i++)
        {
            bool same = results[i].Digest == _baseline[i].Digest;
            string detail = same
                ? $"{results[i].Elapsed.TotalSeconds:F2} s (baseline {_baseline[i].Elapsed.TotalSeconds:F2} s)"
                : $"MISMATCH: expected {WorkloadSet.Shorten(_baseline[i].Digest)}, got {results[i].Digest}";
            _checks.Add(($"{phase}: {_cases[i].Name}", same, detail));
        }
    }

    private void WriteReport()
    {
        if (_options.ReportPath is null)
            return;
        using var writer = new StreamWriter(_options.ReportPath);
        writer.WriteLine("# stage\tmethod\treason group\tfull message");
        foreach (var r in _refusals)
            writer.WriteLine($"{r.Stage}\t{r.Candidate.Name}\t{r.Reason}\t{r.Error.GetType().FullName}: {r.Error.Message.Replace('\n', ' ').Replace('\r', ' ')}");
        foreach (var s in _catalog?.Skipped ?? new List<Skipped>())
            writer.WriteLine($"skip\t{s.Name}\t{s.Reason}\t");
        _out.WriteLine($"differential: report written to {_options.ReportPath}");
    }

    private void Summary(TimeSpan total)
    {
        var o = _out;
        o.WriteLine();
        o.WriteLine("==================== differential summary ====================");
        if (_catalog is not null)
        {
            int considered = _catalog.Candidates.Count + _catalog.Skipped.Count + _catalog.FilteredOut;
            o.WriteLine($"methods considered:   {considered} in {string.Join(", ", _catalog.Assemblies.Select(a => a.GetName().Name))}");
            o.WriteLine($"  skipped:            {_catalog.Skipped.Count}");
            foreach (var g in _catalog.Skipped.GroupBy(s => s.Reason).OrderByDescending(g => g.Count()))
                o.WriteLine($"    {g.Count(),6}  {g.Key}");
            if (_catalog.FilteredOut > 0)
                o.WriteLine($"  filtered out:       {_catalog.FilteredOut} (--only/--skip/--set)");
            o.WriteLine($"  attempted:          {_catalog.Candidates.Count}");
            o.WriteLine($"  redirected:         {_live.Count}" + (_factory is null ? "" : $" ({_factory.DelegateTypeCount} distinct delegate shapes emitted)"));
            o.WriteLine($"  refused:            {_refusals.Count}");
            foreach (var g in _refusals.GroupBy(r => r.Reason).OrderByDescending(g => g.Count()))
            {
                o.WriteLine($"    {g.Count(),6}  {g.Key}");
                string first = g.First().Error.Message.Replace('\n', ' ').Replace('\r', ' ');
                o.WriteLine($"              first: {(first.Length > 400 ? first[..400] + "…" : first)}");
                foreach (var r in g.Take(3))
                    o.WriteLine($"              e.g. {r.Candidate.Name}");
            }
        }
        o.WriteLine($"pass-through calls:   {_callsWhileRedirected} by the workloads, {_callsWhileRedirecting} while redirecting (the engine's own use of redirected methods);" +
            $" {_calledMethods} distinct methods called; {_earlyCalls} re-entrant calls before GetOriginal returned");
        foreach (var l in _live.OrderByDescending(l => l.State.Calls).Take(5).Where(l => l.State.Calls > 0))
            o.WriteLine($"    {l.State.Calls,10}  {l.Candidate.Name}");
        o.WriteLine("wall time:");
        foreach (var (phase, elapsed) in _phases)
            o.WriteLine($"  {elapsed.TotalSeconds,8:F1} s  {phase}");
        o.WriteLine($"  {total.TotalSeconds,8:F1} s  total");
        o.WriteLine("checks:");
        foreach (var (name, ok, detail) in _checks)
            o.WriteLine($"  {(ok ? "PASS" : "FAIL")}  {name}{(detail.Length > 0 ? ": " + detail : "")}");
        o.WriteLine($"differential: {_checks.Count(c => c.Ok)} passed, {_checks.Count(c => !c.Ok)} failed");
        o.Flush();
    }
}
