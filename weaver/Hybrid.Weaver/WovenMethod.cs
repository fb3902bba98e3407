namespace Hybrid.Weaving;

/// <summary>A method that was made redirectable.</summary>
public sealed class WovenMethod
{
    internal WovenMethod(string method, string guardType, string originalMethod)
    {
        Method = method;
        GuardType = guardType;
        OriginalMethod = originalMethod;
    }

    /// <summary>Cecil full name of the woven method.</summary>
    public string Method { get; }

    /// <summary>Full name of the injected guard holder type.</summary>
    public string GuardType { get; }

    /// <summary>Name of the injected method that keeps the original body.</summary>
    public string OriginalMethod { get; }

    /// <inheritdoc />
    public override string ToString() => Method;
}
