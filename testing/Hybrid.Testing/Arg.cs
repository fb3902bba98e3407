namespace Hybrid.Testing;

/// <summary>
/// Placeholders for arguments in a method selector such as <c>() =&gt; File.ReadAllText(Arg.Any&lt;string&gt;())</c>.
/// Arguments in a selector only choose the overload; they are never evaluated and never filter calls.
/// </summary>
public static class Arg
{
    /// <summary>Any value of <typeparamref name="T"/>: marks an argument that only picks the overload.</summary>
    public static T Any<T>() => default!;
}
