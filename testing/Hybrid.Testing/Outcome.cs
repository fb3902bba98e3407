using System;

namespace Hybrid.Testing;

/// <summary>
/// One step of <see cref="Fake{TResult}.ReturnsSequence"/>: a value or an exception, repeated <see cref="Times"/>
/// times — gomonkey's <c>OutputCell{Values, Times}</c>. A plain <typeparamref name="TResult"/> converts implicitly to a
/// step that returns it once.
/// </summary>
public readonly struct Outcome<TResult>
{
    internal Outcome(TResult value, Exception? exception, int times)
    {
        if (times <= 0)
            throw new ArgumentOutOfRangeException(nameof(times), times, "An outcome must be used at least once (times ≥ 1), or Outcome.Forever times.");
        Value = value;
        Exception = exception;
        Times = times;
    }

    /// <summary>The value returned (ignored when <see cref="Exception"/> is set).</summary>
    public TResult Value { get; }

    /// <summary>The exception thrown instead of returning, or null.</summary>
    public Exception? Exception { get; }

    /// <summary>How many consecutive calls this step serves (<see cref="Outcome.Forever"/> for all remaining calls).</summary>
    public int Times { get; }

    /// <summary>A step that returns <paramref name="value"/> once.</summary>
    public static implicit operator Outcome<TResult>(TResult value) => new(value, null, 1);

    /// <inheritdoc />
    public override string ToString() =>
        (Exception is null ? "return " + Value : "throw " + Exception.GetType().Name) + (Times == Outcome.Forever ? " forever" : Times == 1 ? "" : " ×" + Times);
}

/// <summary>Factories for <see cref="Outcome{TResult}"/> steps.</summary>
public static class Outcome
{
    /// <summary>Times value for a last step that serves every remaining call.</summary>
    public const int Forever = int.MaxValue;

    /// <summary>Return <paramref name="value"/> for <paramref name="times"/> consecutive calls.</summary>
    public static Outcome<TResult> Return<TResult>(TResult value, int times = 1) => new(value, null, times);

    /// <summary>Throw <paramref name="exception"/> for <paramref name="times"/> consecutive calls.</summary>
    public static Outcome<TResult> Throw<TResult>(Exception exception, int times = 1) =>
        new(default!, exception ?? throw new ArgumentNullException(nameof(exception)), times);
}
