using System;
using System.Threading;

namespace Hybrid.Testing;

/// <summary>
/// For test-framework integrations (Hybrid.Xunit, Hybrid.MSTest): where the framework runs parts of a test in async
/// flows the test's own flow does not inherit from, the integration tells Hybrid which scope belongs to the running
/// test. <see cref="FakeScope.Current"/> asks it when the calling flow has no scope of its own.
/// </summary>
public static class TestScopes
{
    private static Func<FakeScope?>[] s_providers = Array.Empty<Func<FakeScope?>>();

    /// <summary>
    /// Adds <paramref name="provider"/>, which answers the scope of the test running in the calling flow (null when it
    /// does not know the test, or the test has no scope). Providers are asked in the order they were registered.
    /// </summary>
    public static void Register(Func<FakeScope?> provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        Func<FakeScope?>[] before, after;
        do
        {
            before = Volatile.Read(ref s_providers);
            after = new Func<FakeScope?>[before.Length + 1];
            before.CopyTo(after, 0);
            after[^1] = provider;
        }
        while (Interlocked.CompareExchange(ref s_providers, after, before) != before);
    }

    internal static FakeScope? ForRunningTest()
    {
        foreach (var provider in Volatile.Read(ref s_providers))
        {
            var scope = provider();
            if (scope is { IsDisposed: false })
                return scope;
        }
        return null;
    }
}
