namespace Hybrid.Testing;

/// <summary>
/// Placeholders for arguments in a method selector such as <c>() =&gt; File.ReadAllText(Arg.Any&lt;string&gt;())</c>.
/// Arguments in a selector only choose the overload; they are never evaluated and never filter calls.
/// </summary>
public static class Arg
{
    /// <summary>Any value of <typeparamref name="T"/>: marks an argument that only picks the overload.</summary>
    public static T Any<T>() => default!;

    /// <summary>
    /// A placeholder for a <c>ref</c> or <c>out</c> argument: <c>() =&gt; int.TryParse(Arg.Any&lt;string&gt;(), out Arg.Ref&lt;int&gt;.Value)</c>.
    /// </summary>
    public static class Ref<T>
    {
        /// <summary>Never read or written by Hybrid.Testing; it only gives the selector a variable to pass by reference.</summary>
        [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1051", Justification = "Must be a field to be passed by ref in an expression tree.")]
        public static T Value = default!;
    }
}
