using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using AotSmoke.Targets;
using Hybrid;

// NativeAOT smoke test: every redirect must go through the IL dispatch guards hybrid-weave put into
// AotSmoke.Targets (no machine code can be patched in an AOT image). Prints one line per check; exit code 0 only
// when every check held.

var results = new List<(string Name, bool Ok, string Detail)>();

void Check(string name, Func<string?> body)
{
    string? failure;
    try
    {
        failure = body();
    }
    catch (Exception e)
    {
        failure = $"{e.GetType().Name}: {e.Message}";
    }
    results.Add((name, failure is null, failure ?? ""));
    Console.WriteLine(failure is null ? $"PASS  {name}" : $"FAIL  {name}: {failure}");
}

string? Expect<T>(string what, T actual, T expected) =>
    EqualityComparer<T>.Default.Equals(actual, expected) ? null : $"{what}: expected {expected}, got {actual}";

string? All(params string?[] failures)
{
    foreach (var f in failures)
        if (f is not null)
            return f;
    return null;
}

Console.WriteLine($"runtime: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, " +
                  $"dynamic code supported: {RuntimeFeature.IsDynamicCodeSupported}");
if (RuntimeFeature.IsDynamicCodeSupported)
    Console.WriteLine("note: not running as NativeAOT (publish with -r <rid>); the checks still run");

Check("static method Pricing.Price redirected via ILDispatch", () =>
{
    var before = Pricing.Price("tea");
    decimal during, viaOriginal;
    RedirectStrategy strategy;
    using (var r = Engine.Redirect(typeof(Pricing).GetMethod(nameof(Pricing.Price))!, new Func<string, decimal>(_ => 1m)))
    {
        strategy = r.Strategy;
        during = Pricing.Price("tea");
        viaOriginal = r.GetOriginal<Func<string, decimal>>()("tea");
    }
    return All(Expect("before", before, 6.75m), Expect("strategy", strategy, RedirectStrategy.ILDispatch),
               Expect("during", during, 1m), Expect("GetOriginal", viaOriginal, 6.75m),
               Expect("after Dispose", Pricing.Price("tea"), 6.75m));
});

Check("instance method Cart.Total redirected via ILDispatch", () =>
{
    var cart = new Cart(3);
    var before = cart.Total();
    decimal during, viaOriginal;
    RedirectStrategy strategy;
    using (var r = Engine.Redirect(typeof(Cart).GetMethod(nameof(Cart.Total))!, new Func<Cart, decimal>(c => c.Items * 1.5m)))
    {
        strategy = r.Strategy;
        during = cart.Total();
        viaOriginal = r.GetOriginal<Func<Cart, decimal>>()(cart);
    }
    return All(Expect("before", before, 20.25m), Expect("strategy", strategy, RedirectStrategy.ILDispatch),
               Expect("during", during, 4.5m), Expect("GetOriginal", viaOriginal, 20.25m),
               Expect("after Dispose", cart.Total(), 20.25m));
});

Check("generic instantiation Store.Pick<int> redirected via ILDispatch, Pick<string> untouched", () =>
{
    // The closed method comes from a delegate, not MakeGenericMethod (which needs dynamic code under AOT).
    var pickInt = new Func<int, int, int>(Store.Pick<int>).Method;
    var before = Store.Pick(3, 7);
    int during, viaOriginal;
    string otherInstantiation;
    RedirectStrategy strategy;
    using (var r = Engine.Redirect(pickInt, new Func<int, int, int>((a, b) => Math.Min(a, b))))
    {
        strategy = r.Strategy;
        during = Store.Pick(3, 7);
        otherInstantiation = Store.Pick("a", "b");
        viaOriginal = r.GetOriginal<Func<int, int, int>>()(3, 7);
    }
    return All(Expect("before", before, 7), Expect("strategy", strategy, RedirectStrategy.ILDispatch),
               Expect("during", during, 3), Expect("Pick<string> during", otherInstantiation, "b"),
               Expect("GetOriginal", viaOriginal, 7), Expect("after Dispose", Store.Pick(3, 7), 7));
});

Check("framework call site DateTime.UtcNow in Clock.Year redirected via ILDispatch", () =>
{
    var before = Clock.Year();
    int during, viaOriginal;
    RedirectStrategy strategy;
    var utcNow = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
    using (var r = Engine.Redirect(utcNow, new Func<DateTime>(() => new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc))))
    {
        strategy = r.Strategy;
        during = Clock.Year();
        viaOriginal = r.GetOriginal<Func<DateTime>>()().Year;
    }
    return All(Expect("strategy", strategy, RedirectStrategy.ILDispatch), Expect("during", during, 2030),
               Expect("GetOriginal", viaOriginal, before), Expect("after Dispose", Clock.Year(), before));
});

int failed = results.FindAll(r => !r.Ok).Count;
Console.WriteLine(failed == 0 ? $"AotSmoke: all {results.Count} checks passed" : $"AotSmoke: {failed} of {results.Count} checks FAILED");
return failed == 0 ? 0 : 1;
