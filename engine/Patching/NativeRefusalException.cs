using System;

namespace Hybrid.Patching;

/// <summary>
/// The native path refuses a method: the whole message for a caller that shows it, and the bare reason for
/// <see cref="RedirectPolicy"/>, which decides what follows (the IL guard, or a refusal worded in one place).
/// </summary>
internal sealed class NativeRefusalException : NotSupportedException
{
    public NativeRefusalException(string message, string reason) : base(message) => Reason = reason;

    public string Reason { get; }

    /// <summary>The bare reason of a refusal met on the native path (any other <see cref="NotSupportedException"/> is its own reason).</summary>
    public static string ReasonOf(NotSupportedException e) => e is NativeRefusalException refusal ? refusal.Reason : e.Message;
}
