namespace Hybrid.Weaving;

/// <summary>A method that matched a selector but could not be woven.</summary>
public sealed class SkippedMethod
{
    internal SkippedMethod(string method, string code, string reason)
    {
        Method = method;
        Code = code;
        Reason = reason;
    }

    /// <summary>Cecil full name of the method.</summary>
    public string Method { get; }

    /// <summary>Diagnostic code describing the reason.</summary>
    public string Code { get; }

    /// <summary>Why it was skipped.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public override string ToString() => Method + ": " + Reason;
}
