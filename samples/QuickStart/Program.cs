using System;
using System.IO;
using System.Runtime.CompilerServices;
using Hybrid;

// Hybrid in one screen: redirect a framework property, a static method and an instance method at run time,
// call the originals through GetOriginal, and put everything back.

var utcNow = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
var readAllText = typeof(File).GetMethod(nameof(File.ReadAllText), new[] { typeof(string) })!;
var price = typeof(Catalog).GetMethod(nameof(Catalog.Price))!;
var total = typeof(Cart).GetMethod(nameof(Cart.Total))!;

Console.WriteLine($"before:  UtcNow={DateTime.UtcNow:O}  Price(\"tea\")={Catalog.Price("tea")}  Total={new Cart(3).Total()}");

using (var clock = Engine.Redirect(utcNow, new Func<DateTime>(() => new DateTime(2030, 1, 1, 12, 0, 0, DateTimeKind.Utc))))
using (var files = Engine.Redirect(readAllText, new Func<string, string>(path => $"<fake contents of {path}>")))
using (var catalog = Engine.Redirect(price, typeof(Fakes).GetMethod(nameof(Fakes.Price))!))
using (var cart = Engine.Redirect(total, new Func<Cart, decimal>(c => c.Items * 1.5m)))
{
    foreach (var r in new[] { clock, files, catalog, cart })
        Console.WriteLine($"redirected {r.Method.DeclaringType!.Name}.{r.Method.Name} via {r.Strategy}");
    Console.WriteLine($"during:  UtcNow={DateTime.UtcNow:O}  Price(\"tea\")={Catalog.Price("tea")}  Total={new Cart(3).Total()}");
    Console.WriteLine($"         File.ReadAllText(\"/etc/hostname\") = {File.ReadAllText("/etc/hostname")}");
    Console.WriteLine($"         original UtcNow through GetOriginal: {clock.GetOriginal<Func<DateTime>>()():O}");
}

Console.WriteLine($"after:   UtcNow={DateTime.UtcNow:O}  Price(\"tea\")={Catalog.Price("tea")}  Total={new Cart(3).Total()}");
Console.WriteLine();
Console.WriteLine(Engine.Explain(typeof(Catalog).GetMethod(nameof(Catalog.Discount))!));

public static class Catalog
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static decimal Price(string item) => item.Length * 2.25m;

    public static decimal Discount(decimal amount) => amount * 0.9m;
}

public sealed class Cart(int items)
{
    public int Items { get; } = items;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public decimal Total() => Items * Catalog.Price("tea");
}

public static class Fakes
{
    public static decimal Price(string item) => 1m;
}
