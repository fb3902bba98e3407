using System;
using System.Collections.Generic;
using System.Linq;
using System.Linq.Expressions;
using System.Reflection;
using System.Threading;
using Hybrid.Testing.Internal;

namespace Hybrid.Testing;

/// <summary>
/// A set of fakes and the code that sees them. A scope begun with <see cref="Begin"/> becomes current for the calling
/// async flow — the test method and everything it awaits, starts with <c>Task.Run</c>, <c>new Thread</c>, timers or
/// <c>ThreadPool.QueueUserWorkItem</c> (they all carry the <see cref="ExecutionContext"/>) — and for nothing else, so
/// parallel tests can fake the same method differently. <see cref="Global"/> is seen by every thread.
/// Lookup order for a call: the current scope, its parents, then <see cref="Global"/>.
/// </summary>
public sealed class FakeScope : IDisposable
{
    // The AsyncLocal holds a reference to the scope, and the scope holds an immutable array replaced on every change
    // (copy-on-write): a flow started from the test shares the test's scope — so fakes added later, even from an
    // async helper, are seen too — while another test's flow holds a different scope and never sees them.
    private static readonly AsyncLocal<FakeScope?> s_current = new();

    private readonly object _gate = new();
    private Fake[] _fakes = Array.Empty<Fake>();
    private bool _disposed;

    private FakeScope(string name, FakeScope? parent, bool isGlobal)
    {
        Name = name;
        Parent = parent;
        IsGlobal = isGlobal;
    }

    /// <summary>The process-wide scope: its fakes are seen by every thread and every test, after their own scopes' fakes. Use it for code that runs on threads the test did not start.</summary>
    public static FakeScope Global { get; } = new("the global scope", null, isGlobal: true);

    /// <summary>
    /// The innermost live scope of the calling async flow; else the scope a test-framework integration keeps for the
    /// running test (<see cref="TestScopes"/>); else null.
    /// </summary>
    public static FakeScope? Current
    {
        get
        {
            var scope = s_current.Value;
            while (scope is { _disposed: true })
                scope = scope.Parent;
            return scope ?? TestScopes.ForRunningTest();
        }
    }

    /// <summary>
    /// A scope that is not current anywhere: a test-framework integration hands it out for its test through
    /// <see cref="TestScopes.Register"/> (e.g. xUnit's, so that fakes arranged in <c>IAsyncLifetime.InitializeAsync</c>,
    /// an async method whose own async-local changes do not reach the test, belong to the test all the same).
    /// </summary>
    /// <param name="name">Shown in messages, e.g. the test's name.</param>
    public static FakeScope Detached(string name) => new(name, null, isGlobal: false);

    /// <summary>
    /// Removes now the engine redirects of methods that no fake uses any more, so their code runs untouched again;
    /// returns how many went. Without this call each goes one second after its last fake: the next test usually fakes
    /// the same method again, and reinstalling a native redirect costs tens of microseconds. Call it where the code
    /// must be exactly as compiled again — say in an assembly-wide tear-down.
    /// </summary>
    public static int RemoveIdleRedirects() => Internal.MethodHub.RemoveAllIdle();

    /// <summary>
    /// Begins a scope nested in <see cref="Current"/> and makes it current for this async flow. Dispose it to remove
    /// its fakes and make the parent current again. The NUnit attribute <c>[HybridFakes]</c> does this for every test.
    /// </summary>
    /// <param name="name">Shown in messages, e.g. the test's name.</param>
    public static FakeScope Begin(string? name = null)
    {
        var scope = new FakeScope(name ?? "a scope", Current, isGlobal: false);
        s_current.Value = scope;
        return scope;
    }

    /// <summary>
    /// The current scope, or a new one made current for this flow. Setting an AsyncLocal inside a synchronous method
    /// is visible to the caller, so <c>Fake.Of</c> without <c>[HybridFakes]</c> still scopes to the calling test; it
    /// is lost when an <em>async</em> method that created it returns, which <see cref="Begin"/> or <c>[HybridFakes]</c> avoid.
    /// </summary>
    internal static FakeScope CurrentOrBegin() => Current ?? Begin("an implicit scope");

    /// <summary>Shown in messages.</summary>
    public string Name { get; }

    /// <summary>The scope that was current when this one began (its fakes are seen unless this scope overrides them).</summary>
    public FakeScope? Parent { get; }

    /// <summary>True for <see cref="Global"/>.</summary>
    public bool IsGlobal { get; }

    /// <summary>True once disposed; <see cref="Global"/> is never disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>The live fakes of this scope, oldest first.</summary>
    public IReadOnlyList<Fake> Fakes => Volatile.Read(ref _fakes);

    /// <inheritdoc cref="Fake.Of{TResult}(Expression{Func{TResult}})"/>
    public Fake<TResult> Of<TResult>(Expression<Func<TResult>> call)
    {
        var selection = MethodSelector.Select(call);
        return Attach(new Fake<TResult>(Typed<TResult>(selection.Method, call), this), selection.Instance);
    }

    /// <inheritdoc cref="Fake.Of{T, TResult}(Expression{Func{T, TResult}})"/>
    public Fake<TResult> Of<T, TResult>(Expression<Func<T, TResult>> call)
    {
        var selection = MethodSelector.Select(call);
        return Attach(new Fake<TResult>(Typed<TResult>(selection.Method, call), this), selection.Instance);
    }

    /// <inheritdoc cref="Fake.Of(Expression{Action})"/>
    public Fake Of(Expression<Action> call)
    {
        var selection = MethodSelector.Select(call);
        return Attach(new Fake(MethodHub.For(selection.Method), this), selection.Instance);
    }

    /// <inheritdoc cref="Fake.Of{T}(Expression{Action{T}})"/>
    public Fake Of<T>(Expression<Action<T>> call)
    {
        var selection = MethodSelector.Select(call);
        return Attach(new Fake(MethodHub.For(selection.Method), this), selection.Instance);
    }

    /// <inheritdoc cref="Fake.Of(MethodBase)"/>
    public Fake Of(MethodBase method)
    {
        ArgumentNullException.ThrowIfNull(method);
        return Attach(new Fake(MethodHub.For(method), this), null);
    }

    /// <inheritdoc cref="Fake.Of{TResult}(MethodBase)"/>
    public Fake<TResult> Of<TResult>(MethodBase method)
    {
        ArgumentNullException.ThrowIfNull(method);
        var hub = MethodHub.For(method);
        if (hub.ReturnType != typeof(TResult))
            throw new ArgumentException($"{hub.Name} returns {Names.Type(hub.ReturnType)}, not {Names.Type(typeof(TResult))}. Fix: Fake.Of<{Names.Type(hub.ReturnType)}>(method), or Fake.Of(method) for a void method.", nameof(method));
        return Attach(new Fake<TResult>(hub, this), null);
    }

    /// <summary>The hub of a selected method whose results a <see cref="Fake{TResult}"/> can produce.</summary>
    private static MethodHub Typed<TResult>(MethodBase method, LambdaExpression selector)
    {
        var hub = MethodHub.For(method);
        if (hub.ReturnType == typeof(TResult))
            return hub;
        if (method.IsConstructor)
            throw new ArgumentException($"The selector {selector} names the constructor {hub.Name}. A constructor returns nothing to fake; its fake runs instead of the constructor body with the new object as call.Instance. Fix: Fake.Of(typeof({Names.Type(method.DeclaringType!)}).GetConstructor(...)).Does(call => ...).", nameof(selector));
        throw new ArgumentException($"The selector {selector} converts the result of {hub.Name} ({Names.Type(hub.ReturnType)}) to {Names.Type(typeof(TResult))}, so the fake's results would not fit the method. Fix: remove the cast, or declare the selector as Expression<Func<..., {Names.Type(hub.ReturnType)}>>.", nameof(selector));
    }

    private TFake Attach<TFake>(TFake fake, object? instance) where TFake : Fake
    {
        if (instance is not null)
            fake.For(instance);
        // Install (or share) the engine redirect before the fake becomes visible, so a failure leaves nothing behind.
        fake.Hub.Acquire();
        lock (_gate)
        {
            if (!_disposed)
            {
                Volatile.Write(ref _fakes, _fakes.Append(fake).ToArray());
                return fake;
            }
        }
        fake.Hub.Release();
        throw new ObjectDisposedException(Name, $"{Name} was disposed (its test ended), so {fake.Hub.Name} cannot be faked in it. Fix: fake inside the test, or in a new FakeScope.Begin().");
    }

    internal void Remove(Fake fake)
    {
        lock (_gate)
        {
            int index = Array.IndexOf(_fakes, fake);
            if (index < 0)
                return;
            var copy = _fakes.ToList();
            copy.RemoveAt(index);
            Volatile.Write(ref _fakes, copy.ToArray());
        }
    }

    /// <summary>The fake a call of <paramref name="hub"/>'s method on <paramref name="instance"/> reaches in the calling flow, or null.</summary>
    internal static Fake? Resolve(MethodHub hub, object? instance)
    {
        var first = s_current.Value;
        while (first is { _disposed: true })
            first = first.Parent;
        for (var scope = first ?? TestScopes.ForRunningTest(); scope is not null; scope = scope.Parent)
        {
            var fake = scope.Find(hub, instance);
            if (fake is not null)
                return fake;
        }
        return Global.Find(hub, instance);
    }

    private Fake? Find(MethodHub hub, object? instance)
    {
        // Newest first; a fake filtered to this very instance beats one for every instance (specific beats general).
        var fakes = Volatile.Read(ref _fakes);
        Fake? general = null;
        for (int i = fakes.Length - 1; i >= 0; i--)
        {
            var fake = fakes[i];
            if (fake.Hub != hub || !fake.IsActive)
                continue;
            if (fake.Instance is null)
                general ??= fake;
            else if (fake.Matches(instance))
                return fake;
        }
        return general;
    }

    /// <summary>Throws if any live fake of this scope was never called — use it at the end of a test (or let <c>[HybridFakes(VerifyAllCalled = true)]</c> do it).</summary>
    /// <exception cref="FakeVerificationException">Lists every fake that was never called and the usual causes.</exception>
    public void VerifyAllCalled()
    {
        var idle = Fakes.Where(f => f.IsActive && f.CallCount == 0).ToList();
        if (idle.Count == 0)
            return;
        throw new FakeVerificationException(idle.Count == 1
            ? idle[0].NeverCalledMessage()
            : $"{idle.Count} fakes in {Name} were never called:\n  " + string.Join("\n  ", idle) + "\n" + idle[0].NeverCalledMessage());
    }

    /// <summary>
    /// Ends a test's scope, for the framework integrations: checks <see cref="VerifyAllCalled"/> when
    /// <paramref name="verifyAllCalled"/> is true, then disposes the scope whatever the check found. Returns the
    /// verification's message (the caller fails the test with it in its framework's way), or null.
    /// </summary>
    public string? EndTest(bool verifyAllCalled)
    {
        try
        {
            if (verifyAllCalled)
                VerifyAllCalled();
            return null;
        }
        catch (FakeVerificationException e)
        {
            return e.Message;
        }
        finally
        {
            Dispose();
        }
    }

    /// <summary>
    /// Disposes every fake of this scope and, if this scope is current in the calling flow, makes its parent current.
    /// For <see cref="Global"/> it disposes the global fakes and the scope stays usable.
    /// </summary>
    public void Dispose()
    {
        Fake[] fakes;
        lock (_gate)
        {
            if (!IsGlobal)
                _disposed = true;
            fakes = _fakes;
        }
        foreach (var fake in fakes)
            fake.Dispose();
        if (!IsGlobal && s_current.Value == this)
            s_current.Value = Current;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Fakes.Count} fake(s){(IsDisposed ? ", disposed" : "")})";
}
