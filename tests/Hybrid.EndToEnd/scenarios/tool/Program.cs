using System;
using System.IO;
using Hybrid;

// Runs against Shop.dll as hybrid-weave left it: both redirects must go through its IL guards (HYBRID_STRATEGY=il).
var midnight = new DateTime(2026, 1, 1, 0, 0, 0);
using (var open = Engine.Redirect(typeof(Shop.Store).GetMethod(nameof(Shop.Store.IsOpen))!, new Func<DateTime, bool>(_ => true)))
using (var lines = Engine.Redirect(typeof(File).GetMethod(nameof(File.ReadAllLines), new[] { typeof(string) })!, new Func<string, string[]>(_ => new[] { "faked" })))
{
    Console.WriteLine($"IsOpen(midnight)={Shop.Store.IsOpen(midnight)} via {open.Strategy}");
    Console.WriteLine($"Lines={string.Join(",", Shop.Store.Lines("/nonexistent"))} via {lines.Strategy}");
}
Console.WriteLine($"after dispose IsOpen(midnight)={Shop.Store.IsOpen(midnight)}");
