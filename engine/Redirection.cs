using System;
using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Emit;
using Hybrid.Patching;
using Hybrid.Targets;

namespace Hybrid;

/// <summary>
/// A live redirect of one method. The newest live redirect of a method wins; disposing it (in any order) hands the
/// method to the next newest, and when none is left the method's original code is back byte for byte.
/// </summary>
public sealed class Redirection : IDisposable
{
    private readonly MethodTarget _target;
    private readonly RedirectSite _site;
    private readonly string _description;
    private readonly ConcurrentDictionary<Type, Delegate> _originals = new();
    private bool _disposed;

    private Redirection(MethodTarget target, RedirectSite site, RedirectStrategy strategy, string description)
    {
        _target = target;
        _site = site;
        _description = description;
        Strategy = strategy;
    }

    internal static Redirection Native(MethodTarget target, MethodHook hook, Replacement replacement) =>
        new(target, hook, RedirectStrategy.NativeJump, replacement.Description) { NativeTarget = replacement.EntryPoint, KeepAlive = replacement.KeepAlive, ReleaseReplacement = replacement.Release };

    /// <summary>Native strategy: gives the replacement's bridge back for reuse once this redirect is gone.</summary>
    private Action? ReleaseReplacement { get; init; }

    internal static Redirection IL(MethodTarget target, Woven.ILGuards guards, object replacement, string description) =>
        new(target, guards, RedirectStrategy.ILDispatch, description) { Replacement = replacement };

    /// <summary>
    /// A native redirect also fills the call-site guards that woven assemblies have for the method (each only for
    /// calls made from those assemblies; the method's own guard is left alone). Why: such a guard is an ordinary caller
    /// of the method, and once it was compiled at tier 1 with the method inlined into it — seen on arm64 .NET 9 with
    /// <c>Guid.NewGuid</c> after a few hundred calls — the jump in the method's body never runs for those calls.
    /// The guard's slot does. Caller holds the engine lock.
    /// </summary>
    internal void AttachCallSites(Woven.ILGuards? guards, object replacement, string description)
    {
        if (guards is null || guards.CallSiteSlotCount == 0)
        {
            // An assembly loaded later may bring call sites (Woven.ILGuards.RefreshLive attaches them then).
            s_waitingForCallSites[this] = (replacement, description);
            return;
        }
        var callSites = new Redirection(_target, guards, RedirectStrategy.ILDispatch, description) { Replacement = replacement, CallSitesOnly = true };
        guards.Add(callSites);
        _callSites = callSites;
        s_waitingForCallSites.Remove(this);
    }

    /// <summary>Live native redirects that had no call-site guards to fill yet. Guarded by the engine lock.</summary>
    private static readonly System.Collections.Generic.Dictionary<Redirection, (object Replacement, string Description)> s_waitingForCallSites = new();

    /// <summary>An assembly with call-site guards has loaded: native redirects waiting for call sites fill its guards. Caller holds the engine lock.</summary>
    internal static void AttachWaitingCallSites()
    {
        foreach (var pair in new System.Collections.Generic.List<System.Collections.Generic.KeyValuePair<Redirection, (object Replacement, string Description)>>(s_waitingForCallSites))
            pair.Key.AttachCallSites(Woven.ILGuards.For(pair.Key._target), pair.Value.Replacement, pair.Value.Description);
    }

    /// <summary>The call-site half of a native redirect (<see cref="AttachCallSites"/>): fills call-site slots only.</summary>
    internal bool CallSitesOnly { get; private init; }

    private Redirection? _callSites;

    /// <summary>The original method.</summary>
    public MethodBase Method => _target.Method;

    /// <summary>How calls reach the replacement.</summary>
    public RedirectStrategy Strategy { get; }

    /// <summary>True until <see cref="Dispose"/> is called.</summary>
    public bool IsActive => !_disposed;

    /// <summary>Native strategy: the code address the stub jumps to.</summary>
    internal nint NativeTarget { get; private init; }

    /// <summary>IL strategy: the replacement (static method or delegate) that guard slots get a delegate for.</summary>
    internal object? Replacement { get; private init; }

    private readonly System.Collections.Generic.Dictionary<Type, Delegate> _handlers = new();

    /// <summary>
    /// The delegate for one guard slot: each guard (the method's own, each call-site guard) declares its own
    /// <c>Handler</c> type with the original's shape. No code is generated: <c>Delegate.CreateDelegate</c> binds the
    /// replacement method, or the delegate's method and target, or — for multicast delegates — its Invoke.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Os.AotJustifications.DelegateInvoke)]
    internal Delegate HandlerFor(Type handlerType)
    {
        if (_handlers.TryGetValue(handlerType, out var known))
            return known;
        Delegate handler;
        if (Replacement is MethodInfo method)
            handler = Delegate.CreateDelegate(handlerType, method);
        else
        {
            var source = (Delegate)Replacement!;
            // Rebinding the delegate's own method saves a call, but works only for a compiled method: a delegate over a
            // DynamicMethod (Expression.Compile, emitted pass-throughs) has no runtime MethodInfo to bind, so it is
            // called through its Invoke.
            bool rebindable = source.GetInvocationList().Length == 1 && source.Method is not DynamicMethod && source.Method.DeclaringType is not null;
            handler = (rebindable ? Delegate.CreateDelegate(handlerType, source.Target, source.Method, throwOnBindFailure: false) : null)
                ?? Delegate.CreateDelegate(handlerType, source, source.GetType().GetMethod("Invoke")!);
        }
        _handlers[handlerType] = handler;
        return handler;
    }

    /// <summary>Whatever the target address belongs to (replacement method, bridge), held so it is not collected.</summary>
    internal object? KeepAlive { get; private init; }

    internal nint ContextKey => _target.ContextKey;

    internal RedirectSite Site => _site;

    internal MethodHook Hook => (MethodHook)_site;

    /// <summary>
    /// A delegate that runs the original body, bypassing every redirect of the method (also after this one is
    /// disposed). <typeparamref name="TDelegate"/> has the replacement's shape: the instance first (by <c>ref</c> for a
    /// struct), then the original's parameters, and the original's return type.
    /// </summary>
    public TDelegate GetOriginal<TDelegate>() where TDelegate : Delegate =>
        (TDelegate)_originals.GetOrAdd(typeof(TDelegate), _ => _site.CreateOriginal<TDelegate>(_target));

    /// <summary>Removes this redirect. Idempotent; safe to call from any thread.</summary>
    public void Dispose()
    {
        lock (Engine.Gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            s_waitingForCallSites.Remove(this);
            _site.Remove(this);
            _callSites?._site.Remove(_callSites);
            ReleaseReplacement?.Invoke();
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{MethodTarget.Describe(_target.Method)} → {_description} [{Strategy}{(_disposed ? ", disposed" : "")}]";
}
