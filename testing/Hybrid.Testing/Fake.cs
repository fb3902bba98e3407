using System;
using System.Collections.Generic;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;
using System.Threading;
using Hybrid.Testing.Internal;

namespace Hybrid.Testing;

/// <summary>
/// A fake of one method, visible to one <see cref="FakeScope"/> — by default the calling test's async flow — until
/// disposed. A new fake calls the original and counts (a spy); <c>Returns</c>, <c>ReturnsSequence</c>,
/// <c>Throws</c> and <c>Does</c> replace the behaviour. Within a scope the newest matching fake wins, a fake filtered
/// to one instance (<see cref="For"/>) beats an unfiltered one, and an inner scope beats its parents and the global scope.
/// </summary>
public class Fake : IDisposable
{
    /// <summary>How many calls <see cref="Calls"/> keeps (the count and the last call are always exact).</summary>
    public const int RecordedCallLimit = 1000;

    private static readonly Func<FakeCall, object?> s_callOriginal = static _ => MethodHub.CallOriginal;

    private readonly object _gate = new();
    private readonly List<FakeCall> _calls = new();
    private volatile Func<FakeCall, object?> _behavior = s_callOriginal;
    private volatile FakeCall? _last;
    private volatile object? _instance;
    private volatile bool _disposed;
    private int _count;

    internal Fake(MethodHub hub, FakeScope scope)
    {
        Hub = hub;
        Scope = scope;
    }

    internal MethodHub Hub { get; }

    /// <summary>The faked method.</summary>
    public MethodBase Method => Hub.Method;

    /// <summary>The scope whose flows see this fake.</summary>
    public FakeScope Scope { get; }

    /// <summary>The only instance this fake applies to (see <see cref="For"/>), or null for every instance.</summary>
    public object? Instance => _instance;

    /// <summary>True until <see cref="Dispose"/> (or the scope's disposal).</summary>
    public bool IsActive => !_disposed;

    /// <summary>How many calls reached this fake.</summary>
    public int CallCount => Volatile.Read(ref _count);

    /// <summary>The calls that reached this fake, oldest first (the first <see cref="RecordedCallLimit"/>).</summary>
    public IReadOnlyList<FakeCall> Calls
    {
        get { lock (_gate) return _calls.ToArray(); }
    }

    /// <summary>The most recent call, or null if there was none.</summary>
    public FakeCall? LastCall => _last;

    /// <summary>The arguments of the most recent call (see <see cref="FakeCall.Arguments"/>), or null if there was none.</summary>
    public IReadOnlyList<object?>? LastArguments => _last?.Arguments;

    // ---- creation: Fake.Of(...) is the current flow's scope; FakeScope.Of(...) is a chosen scope ----

    /// <summary>Fakes a static method or property, or — when the selector names an instance, as in <c>() =&gt; invoiceA.Total()</c> — that one instance's method, in the current async flow's scope.</summary>
    /// <example><code>Fake.Of(() =&gt; DateTime.UtcNow).Returns(new DateTime(2030, 1, 1));</code></example>
    public static Fake<TResult> Of<TResult>(Expression<Func<TResult>> call) => FakeScope.CurrentOrBegin().Of(call);

    /// <summary>Fakes an instance method for every instance of <typeparamref name="T"/>: <c>(Invoice i) =&gt; i.Total()</c>.</summary>
    public static Fake<TResult> Of<T, TResult>(Expression<Func<T, TResult>> call) => FakeScope.CurrentOrBegin().Of(call);

    /// <summary>Fakes a void static method, or one instance's void method: <c>() =&gt; Console.WriteLine(Arg.Any&lt;string&gt;())</c>.</summary>
    public static Fake Of(Expression<Action> call) => FakeScope.CurrentOrBegin().Of(call);

    /// <summary>Fakes a void instance method for every instance of <typeparamref name="T"/>: <c>(Invoice i) =&gt; i.Send()</c>.</summary>
    public static Fake Of<T>(Expression<Action<T>> call) => FakeScope.CurrentOrBegin().Of(call);

    /// <summary>Fakes a method chosen by reflection (setters, private methods, constructors, generic instantiations).</summary>
    public static Fake Of(MethodBase method) => FakeScope.CurrentOrBegin().Of(method);

    /// <summary>Fakes a method chosen by reflection whose return type is <typeparamref name="TResult"/>.</summary>
    public static Fake<TResult> Of<TResult>(MethodBase method) => FakeScope.CurrentOrBegin().Of<TResult>(method);

    // ---- behaviour ----

    /// <summary>Applies this fake only to calls on <paramref name="instance"/> (by reference); other instances see the next fake or the original.</summary>
    /// <exception cref="InvalidOperationException">The method is static or belongs to a value type.</exception>
    public Fake For(object instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (!Hub.IsInstance)
            throw new InvalidOperationException($"{Hub.Name} is static, so there is no instance to filter on. Fix: remove For(...).");
        if (Hub.InstanceIsValueType)
            throw new InvalidOperationException($"{Hub.Name} belongs to the value type {Names.Type(Method.DeclaringType!)}; struct instances are copies and cannot be told apart by reference. Fix: fake every instance and decide in Does(call => ... call.Instance ...).");
        if (!Method.DeclaringType!.IsInstanceOfType(instance))
            throw new ArgumentException($"For({Names.Type(instance.GetType())}) cannot filter {Hub.Name}: the instance is not a {Names.Type(Method.DeclaringType!)}.", nameof(instance));
        _instance = instance;
        return this;
    }

    /// <summary>Every call throws <paramref name="exception"/> (the same object each time).</summary>
    public Fake Throws(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return SetBehavior(_ => throw exception);
    }

    /// <summary>Every call throws a new <typeparamref name="TException"/>.</summary>
    public Fake Throws<TException>() where TException : Exception, new() => SetBehavior(_ => throw new TException());

    /// <summary>Every call runs <paramref name="body"/> instead of the original (a non-void method returns its default).</summary>
    public Fake Does(Action<FakeCall> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return SetBehavior(call => { body(call); return null; });
    }

    /// <summary>Every call runs <paramref name="body"/> and returns its result, which must be of the method's return type.</summary>
    public Fake Does(Func<FakeCall, object?> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return SetBehavior(body);
    }

    /// <summary>Calls run the original again (the fake keeps counting): the behaviour of a new fake.</summary>
    public Fake CallsOriginal() => SetBehavior(s_callOriginal);

    // ---- verification ----

    /// <summary>Throws unless the fake was called at least once.</summary>
    /// <exception cref="FakeVerificationException">The fake was never called; the message lists the usual causes.</exception>
    public void VerifyCalled()
    {
        if (CallCount == 0)
            throw new FakeVerificationException(NeverCalledMessage());
    }

    /// <summary>Throws unless the fake was called exactly <paramref name="times"/> times.</summary>
    public void VerifyCalled(int times)
    {
        int count = CallCount;
        if (count == times)
            return;
        if (count == 0)
            throw new FakeVerificationException(NeverCalledMessage() + $" Expected {times} call(s).");
        throw new FakeVerificationException($"{this} was called {count} time(s), expected {times}. Calls:\n  " + string.Join("\n  ", Calls.Take(20)));
    }

    /// <summary>Throws if the fake was called.</summary>
    public void VerifyNotCalled()
    {
        if (CallCount != 0)
            throw new FakeVerificationException($"{this} was called {CallCount} time(s), expected none. First call: {Calls.FirstOrDefault()}");
    }

    internal string NeverCalledMessage() =>
        $"{this} was never called. Possible causes: the code under test did not call {Hub.Name}" +
        (Instance is null ? "" : " on this instance") +
        "; it was called on a thread that does not carry this test's async context (a thread or loop started before the test, " +
        "ThreadPool.UnsafeQueueUserWorkItem) — fake it with FakeScope.Global.Of(...) instead; or its caller was compiled with the " +
        "method inlined — see Engine.Explain(method), mark it [MethodImpl(MethodImplOptions.NoInlining)] or weave it.";

    /// <summary>Stops the fake: the scope's flows see the next fake or the original. Idempotent, thread-safe.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        Scope.Remove(this);
        Hub.Release();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"Fake of {Hub.Name}{(Instance is null ? "" : " for " + Instance)} in {Scope.Name}{(_disposed ? " (disposed)" : "")}";

    // ---- used by the dispatcher ----

    internal Fake SetBehavior(Func<FakeCall, object?> behavior)
    {
        if (_disposed)
            throw new ObjectDisposedException(ToString(), "The fake was disposed (by its test or scope); create a new one.");
        _behavior = behavior;
        return this;
    }

    internal bool Matches(object? instance)
    {
        var filter = _instance;
        return filter is null || ReferenceEquals(filter, instance);
    }

    internal FakeCall Record(object? instance, object?[] args)
    {
        var call = new FakeCall(this, Interlocked.Increment(ref _count), instance, args);
        lock (_gate)
        {
            if (_calls.Count < RecordedCallLimit)
                _calls.Add(call);
        }
        _last = call;
        return call;
    }

    internal object? Run(FakeCall call) => _behavior(call);
}

/// <summary>A fake of a method that returns <typeparamref name="TResult"/>: adds strongly typed results to <see cref="Fake"/>.</summary>
public sealed class Fake<TResult> : Fake
{
    internal Fake(MethodHub hub, FakeScope scope) : base(hub, scope) { }

    /// <inheritdoc cref="Fake.For"/>
    public new Fake<TResult> For(object instance) => (Fake<TResult>)base.For(instance);

    /// <summary>Every call returns <paramref name="value"/>.</summary>
    public Fake<TResult> Returns(TResult value) => Typed(SetBehavior(_ => value));

    /// <summary>Every call returns what <paramref name="value"/> computes (evaluated per call).</summary>
    public Fake<TResult> Returns(Func<TResult> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Typed(SetBehavior(_ => value()));
    }

    /// <summary>
    /// Calls get the outcomes in order — <c>ReturnsSequence(1, Outcome.Return(2, times: 3), Outcome.Throw&lt;int&gt;(new IOException()))</c> —
    /// like gomonkey's <c>ApplyFuncSeq</c>. A call after the last outcome throws <see cref="InvalidOperationException"/>
    /// unless the last step repeats <see cref="Outcome.Forever"/>.
    /// </summary>
    public Fake<TResult> ReturnsSequence(params Outcome<TResult>[] outcomes)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        if (outcomes.Length == 0)
            throw new ArgumentException($"ReturnsSequence for {Hub.Name} needs at least one outcome.", nameof(outcomes));
        for (int i = 0; i < outcomes.Length - 1; i++)
            if (outcomes[i].Times == Outcome.Forever)
                throw new ArgumentException($"Outcome {i} ({outcomes[i]}) repeats forever, so outcomes after it could never be reached. Fix: make the Forever outcome the last one.", nameof(outcomes));
        if (outcomes.Any(o => o.Times <= 0))
            throw new ArgumentException("Every outcome needs times ≥ 1 (default(Outcome<T>) has 0).", nameof(outcomes));
        var steps = outcomes.ToArray();
        long total = steps.Sum(o => (long)o.Times);
        var gate = new object();
        int step = 0, used = 0;
        return Typed(SetBehavior(call =>
        {
            Outcome<TResult> outcome;
            lock (gate)
            {
                if (step == steps.Length)
                    throw new InvalidOperationException($"{this}: the sequence of {total} result(s) ({string.Join(", ", steps)}) is used up; this is call #{call.Number}. Fix: add outcomes, or end with Outcome.Return(value, times: Outcome.Forever).");
                outcome = steps[step];
                if (outcome.Times != Outcome.Forever && ++used == outcome.Times)
                {
                    step++;
                    used = 0;
                }
            }
            if (outcome.Exception is not null)
                throw outcome.Exception;
            return outcome.Value;
        }));
    }

    /// <summary>Every call runs <paramref name="body"/>, which sees the call (instance, arguments, number) and returns the result.</summary>
    public Fake<TResult> Does(Func<FakeCall, TResult> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Typed(SetBehavior(call => body(call)));
    }

    /// <summary>Every call returns <paramref name="body"/>(first argument).</summary>
    public Fake<TResult> Does<T1>(Func<T1, TResult> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckArguments(nameof(body), typeof(T1));
        return Typed(SetBehavior(call => body(call.Arg<T1>(0))));
    }

    /// <summary>Every call returns <paramref name="body"/>(first, second argument).</summary>
    public Fake<TResult> Does<T1, T2>(Func<T1, T2, TResult> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckArguments(nameof(body), typeof(T1), typeof(T2));
        return Typed(SetBehavior(call => body(call.Arg<T1>(0), call.Arg<T2>(1))));
    }

    /// <summary>Every call returns <paramref name="body"/>(first, second, third argument).</summary>
    public Fake<TResult> Does<T1, T2, T3>(Func<T1, T2, T3, TResult> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        CheckArguments(nameof(body), typeof(T1), typeof(T2), typeof(T3));
        return Typed(SetBehavior(call => body(call.Arg<T1>(0), call.Arg<T2>(1), call.Arg<T3>(2))));
    }

    /// <inheritdoc cref="Fake.Throws(Exception)"/>
    public new Fake<TResult> Throws(Exception exception) => Typed(base.Throws(exception));

    /// <inheritdoc cref="Fake.Throws{TException}"/>
    public new Fake<TResult> Throws<TException>() where TException : Exception, new() => Typed(base.Throws<TException>());

    /// <inheritdoc cref="Fake.CallsOriginal"/>
    public new Fake<TResult> CallsOriginal() => Typed(base.CallsOriginal());

    private static Fake<TResult> Typed(Fake fake) => (Fake<TResult>)fake;

    /// <summary>
    /// A <c>Does</c> whose lambda takes the method's first arguments must take them as types they can be read as,
    /// checked when the fake is arranged rather than when the code under test calls it.
    /// </summary>
    private void CheckArguments(string parameterName, params Type[] wanted)
    {
        var parameters = Method.GetParameters();
        string shape = $"Does(({string.Join(", ", wanted.Select(Names.Type))}) => ...)";
        string expected = $"Does(({string.Join(", ", parameters.Select(p => Names.Type(ValueType(p))))}) => ...)";
        if (wanted.Length > parameters.Length)
            throw new ArgumentException($"{shape} takes {wanted.Length} argument(s), but {Hub.Name} has {parameters.Length}. Fix: write {expected}, or Does(call => ...) to see the call.", parameterName);
        for (int i = 0; i < wanted.Length; i++)
        {
            var actual = ValueType(parameters[i]);
            if (!wanted[i].IsAssignableFrom(actual) && !(Nullable.GetUnderlyingType(wanted[i]) == actual))
                throw new ArgumentException($"{shape} does not match {Hub.Name}: its argument {i} ('{parameters[i].Name}') is a {Names.Type(actual)}, not a {Names.Type(wanted[i])}. Fix: write {expected}.", parameterName);
        }
    }

    private static Type ValueType(ParameterInfo parameter) =>
        parameter.ParameterType.IsByRef ? parameter.ParameterType.GetElementType()! : parameter.ParameterType;
}
