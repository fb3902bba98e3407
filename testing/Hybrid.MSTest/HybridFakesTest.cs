using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Hybrid.Testing;

/// <summary>
/// MSTest: derive a test class from this and every test gets its own <see cref="FakeScope"/>, disposed when the test
/// ends — passed, failed or thrown — so a test never leaks a fake into the next one and parallel tests never see each
/// other's fakes.
/// </summary>
/// <remarks>
/// MSTest runs a base class's <c>[TestInitialize]</c> before the derived class's and its <c>[TestCleanup]</c> after
/// them, on the flow that then runs the test: the scope begins before your own set-up (synchronous or async), so the
/// fakes it arranges belong to the test, and ends after your clean-up.
/// </remarks>
public abstract class HybridFakesTest
{
    private FakeScope? _scope;

    /// <summary>
    /// When true, a test fails at clean-up if one of its fakes was never called (see <see cref="FakeScope.VerifyAllCalled"/>):
    /// a fake nobody hits usually means the test does not test what it claims. Default false.
    /// </summary>
    protected virtual bool VerifyAllCalled => false;

    /// <summary>The test's scope (null outside a test).</summary>
    protected FakeScope? Fakes => _scope;

    /// <summary>Begins the test's scope. Runs before the derived class's <c>[TestInitialize]</c> methods.</summary>
    [TestInitialize]
    public void BeginHybridFakes() => _scope = FakeScope.Begin("test " + GetType().Name);

    /// <summary>Ends the test's scope. Runs after the derived class's <c>[TestCleanup]</c> methods.</summary>
    [TestCleanup]
    public void EndHybridFakes()
    {
        var scope = _scope;
        _scope = null;
        if (scope?.EndTest(VerifyAllCalled) is { } unused)
            throw new FakeVerificationException(unused);
    }
}
