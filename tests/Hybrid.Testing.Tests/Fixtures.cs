using System;
using System.Runtime.CompilerServices;

namespace Hybrid.Testing.Tests;

// Targets are NoInlining so a caller compiled before a fake cannot have a private inlined copy: the tests are about
// scoping, not about the engine's inlining limits (see Engine.Explain).

/// <summary>Stand-in for a woven static: a NoInlining static of a fixture class. The engine redirects it natively
/// today; once the IL-guard strategy is wired into the engine, a woven copy goes through the guard with no change here.</summary>
public static class Pricing
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Discount(int customer) => customer % 7;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Log(string message) => LastLog = message;

    public static string? LastLog;
}

public class Invoice
{
    public Invoice(decimal amount) => Amount = amount;

    public decimal Amount { get; }

    public DateTime DueUtc { get; init; }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public decimal Total() => Amount * 1.2m;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public virtual string Describe() => $"invoice {Amount}";

    /// <summary>Code under test: reads the clock.</summary>
    public bool IsOverdue() => DateTime.UtcNow > DueUtc;

    public override string ToString() => $"Invoice({Amount})";
}

public class CreditNote : Invoice
{
    public CreditNote(decimal amount) : base(amount) { }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public override string Describe() => $"credit note {Amount}";
}

public interface IGreeter
{
    string Greet(string name);
}

public sealed class Greeter : IGreeter
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public string Greet(string name) => "hello " + name;
}

public struct Counter
{
    public int Value;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public int Next() => ++Value;
}

public static class Shapes
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool TryParse(string text, out int value) => int.TryParse(text, out value);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Bump(ref int value, int by) => value += by;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Sum(ReadOnlySpan<int> values)
    {
        int sum = 0;
        foreach (var v in values)
            sum += v;
        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Fill(Span<byte> buffer, byte value)
    {
        buffer.Fill(value);
        return buffer.Length;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Span<byte> Slice(byte[] data) => data.AsSpan(1);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int? Maybe(int x) => x > 0 ? x : null;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static T Echo<T>(T value) => value;

    public static int Field = 3;
}
