using System;
using System.Collections.Concurrent;
using System.Reflection;
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
    private readonly Replacement _replacement;
    private readonly MethodHook _hook;
    private readonly ConcurrentDictionary<Type, Delegate> _originals = new();
    private bool _disposed;

    internal Redirection(MethodTarget target, Replacement replacement, MethodHook hook, RedirectStrategy strategy)
    {
        _target = target;
        _replacement = replacement;
        _hook = hook;
        Strategy = strategy;
    }

    /// <summary>The original method.</summary>
    public MethodBase Method => _target.Method;

    /// <summary>How calls reach the replacement.</summary>
    public RedirectStrategy Strategy { get; }

    /// <summary>True until <see cref="Dispose"/> is called.</summary>
    public bool IsActive => !_disposed;

    internal nint Target => _replacement.EntryPoint;

    internal nint ContextKey => _target.ContextKey;

    internal MethodHook Hook => _hook;

    /// <summary>
    /// A delegate that runs the original body, bypassing every redirect of the method (also after this one is
    /// disposed). <typeparamref name="TDelegate"/> has the replacement's shape: the instance first (by <c>ref</c> for a
    /// struct), then the original's parameters, and the original's return type.
    /// </summary>
    public TDelegate GetOriginal<TDelegate>() where TDelegate : Delegate =>
        (TDelegate)_originals.GetOrAdd(typeof(TDelegate), _ => OriginalInvoker.Create<TDelegate>(_target, _hook.Trampoline));

    /// <summary>Removes this redirect. Idempotent; safe to call from any thread.</summary>
    public void Dispose()
    {
        lock (Engine.Gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _hook.Remove(this);
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{MethodTarget.Describe(_target.Method)} → {_replacement.Description} [{Strategy}{(_disposed ? ", disposed" : "")}]";
}
