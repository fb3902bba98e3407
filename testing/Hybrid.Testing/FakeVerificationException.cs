using System;

namespace Hybrid.Testing;

/// <summary>A fake was not called as expected (<see cref="Fake.VerifyCalled()"/>, <see cref="FakeScope.VerifyAllCalled"/>).</summary>
public sealed class FakeVerificationException : Exception
{
    /// <summary>Creates the exception with a message that names the fake, what was expected and what happened.</summary>
    public FakeVerificationException(string message) : base(message) { }
}
