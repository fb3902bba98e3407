using System;
using System.Collections.Concurrent;
using NUnit.Framework;
using NUnit.Framework.Interfaces;

namespace Hybrid.Testing;

/// <summary>
/// Gives every test its own <see cref="FakeScope"/> and disposes it when the test ends — passed, failed or thrown —
/// so a test never leaks a fake into the next one and parallel tests never see each other's fakes. Put it on a test
/// method, a fixture (every test in it) or the assembly (<c>[assembly: HybridFakes]</c>).
/// </summary>
/// <remarks>
/// The scope begins in NUnit's <c>BeforeTest</c>, on the thread and execution context that then run <c>[SetUp]</c>,
/// the test and <c>[TearDown]</c>, so fakes created in any of them (including async ones) belong to the test.
/// </remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class | AttributeTargets.Assembly, AllowMultiple = false, Inherited = true)]
public sealed class HybridFakesAttribute : Attribute, ITestAction
{
    // Keyed by the test object, not read back from the AsyncLocal: AfterTest must find the scope even if the test
    // changed the current scope (Begin without Dispose) or ended on another execution context.
    private static readonly ConcurrentDictionary<ITest, FakeScope> s_scopes = new();

    /// <summary>
    /// When true, a test that has not already failed fails if one of its fakes was never called (see <see cref="FakeScope.VerifyAllCalled"/>):
    /// a fake nobody hits usually means the test does not test what it claims. Default false.
    /// </summary>
    public bool VerifyAllCalled { get; set; }

    /// <inheritdoc />
    public ActionTargets Targets => ActionTargets.Test;

    /// <inheritdoc />
    public void BeforeTest(ITest test)
    {
        s_scopes[test] = FakeScope.Begin("test " + test.FullName);
    }

    /// <inheritdoc />
    public void AfterTest(ITest test)
    {
        if (!s_scopes.TryRemove(test, out var scope))
            return;
        // A test that already failed (or was skipped) keeps its own message; piling a second failure on it only hides it.
        string? unused = scope.EndTest(VerifyAllCalled && TestContext.CurrentContext.Result.Outcome.Status is not (TestStatus.Failed or TestStatus.Skipped));
        if (unused is not null)
            Assert.Fail("[HybridFakes(VerifyAllCalled = true)]: " + unused);
    }
}
