using System;
using System.Runtime.CompilerServices;

namespace AotSmoke.Targets;

/// <summary>Static target.</summary>
public static class Pricing
{
    public static decimal Price(string item) => item.Length * 2.25m;
}

/// <summary>Instance target.</summary>
public sealed class Cart
{
    public Cart(int items) => Items = items;

    public int Items { get; }

    public decimal Total() => Items * Pricing.Price("tea");
}

/// <summary>Generic target: each instantiation has its own redirect slot.</summary>
public static class Store
{
    public static T Pick<T>(T first, T second) where T : IComparable<T> =>
        first.CompareTo(second) >= 0 ? first : second;
}

/// <summary>Calls a framework method; redirecting DateTime.UtcNow here needs call-site weaving.</summary>
public static class Clock
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Year() => DateTime.UtcNow.Year;
}
