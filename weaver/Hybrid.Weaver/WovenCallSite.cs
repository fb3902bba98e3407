using System.Globalization;

namespace Hybrid.Weaving;

/// <summary>A call target that got a wrapper, as reported in <see cref="WeaveResult.CallSites"/>.</summary>
public sealed class WovenCallSite
{
    internal WovenCallSite(string target, string callKind, string guardType, string wrapperMethod, int callSites)
    {
        Target = target;
        CallKind = callKind;
        GuardType = guardType;
        WrapperMethod = wrapperMethod;
        CallSites = callSites;
    }

    /// <summary>The called method, e.g. <c>System.IO.File.ReadAllText(System.String)</c>.</summary>
    public string Target { get; }

    /// <summary><c>call</c>, <c>callvirt</c> or <c>newobj</c>: how the wrapper calls the target.</summary>
    public string CallKind { get; }

    /// <summary>Full name of the injected guard class (<c>&lt;Hybrid&gt;CallSites/Guard_k</c>).</summary>
    public string GuardType { get; }

    /// <summary>Name of the wrapper method (<c>Call_k</c>) that the call sites now call.</summary>
    public string WrapperMethod { get; }

    /// <summary>How many call sites (including <c>ldftn</c> for delegates) were redirected to the wrapper.</summary>
    public int CallSites { get; }

    /// <inheritdoc />
    public override string ToString() => Target + " (" + CallKind + ", " + CallSites.ToString(CultureInfo.InvariantCulture) + " call site(s))";
}
