using System;
using System.Collections.Concurrent;
using System.Reflection;
using Xunit;
using Xunit.Sdk;
using Xunit.v3;

namespace Hybrid.Testing;

/// <summary>
/// xUnit v3: gives every test its own <see cref="FakeScope"/> and disposes it when the test ends — passed, failed or
/// thrown — so a test never leaks a fake into the next one and parallel tests never see each other's fakes. Put it on a
/// test method, a test class or the assembly (<c>[assembly: HybridFakes]</c>).
/// </summary>
/// <remarks>
/// The scope belongs to the test as xUnit knows it (<c>TestContext.Current.Test</c>), not to one async flow: fakes
/// arranged in the test class's constructor, in <c>IAsyncLifetime.InitializeAsync</c> or in the test itself — and in
/// anything they start — are the test's. xUnit runs <see cref="Before"/> after the constructor and
/// <c>InitializeAsync</c>, so the scope is made when the test first fakes something, and <see cref="After"/> (after the
/// test method, before <c>DisposeAsync</c>) disposes it.
/// </remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class | AttributeTargets.Assembly, AllowMultiple = false, Inherited = true)]
public sealed class HybridFakesAttribute : BeforeAfterTestAttribute
{
    private static readonly ConcurrentDictionary<ITest, FakeScope> s_scopes = new();
    private static readonly ConcurrentDictionary<ITest, bool> s_ended = new();
    private static readonly ConcurrentDictionary<MethodInfo, bool> s_applies = new();

    static HybridFakesAttribute() => TestScopes.Register(ScopeOfRunningTest);

    /// <summary>
    /// When true, a test that passed fails if one of its fakes was never called (see <see cref="FakeScope.VerifyAllCalled"/>):
    /// a fake nobody hits usually means the test does not test what it claims. Default false.
    /// </summary>
    public bool VerifyAllCalled { get; set; }

    /// <inheritdoc />
    public override void Before(MethodInfo methodUnderTest, IXunitTest test) => ScopeOf(test);

    /// <inheritdoc />
    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        s_ended[test] = true;
        if (!s_scopes.TryRemove(test, out var scope))
            return;
        // A test that already failed keeps its own message; piling a second failure on it only hides it.
        string? unused = scope.EndTest(VerifyAllCalled && TestContext.Current.TestState?.Result is not TestResult.Failed);
        if (unused is not null)
            throw new FakeVerificationException("[HybridFakes(VerifyAllCalled = true)]: " + unused);
    }

    private static FakeScope ScopeOf(ITest test) =>
        s_scopes.GetOrAdd(test, t => FakeScope.Detached("test " + t.TestDisplayName));

    /// <summary>The scope of the test running in the calling flow, made on first use, if the test has [HybridFakes] and has not ended.</summary>
    private static FakeScope? ScopeOfRunningTest()
    {
        if (TestContext.Current.Test is not IXunitTest test || s_ended.ContainsKey(test))
            return null;
        if (s_scopes.TryGetValue(test, out var scope))
            return scope;
        return Applies(test.TestMethod.Method) ? ScopeOf(test) : null;
    }

    private static bool Applies(MethodInfo method) =>
        s_applies.GetOrAdd(method, m =>
            m.IsDefined(typeof(HybridFakesAttribute), inherit: true)
            || (m.ReflectedType ?? m.DeclaringType)?.IsDefined(typeof(HybridFakesAttribute), inherit: true) == true
            || m.DeclaringType?.Assembly.IsDefined(typeof(HybridFakesAttribute)) == true);
}
