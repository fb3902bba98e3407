using System.Collections.Generic;
using System.Reflection;

namespace Hybrid;

/// <summary>
/// What <see cref="Engine.Redirect(MethodBase, MethodInfo)"/> would do for a method, or exactly why it cannot.
/// Produced by <see cref="Engine.Explain"/> without side effects on the method's code.
/// </summary>
public sealed class RedirectPlan
{
    internal RedirectPlan(MethodBase method, bool canRedirect, RedirectStrategy strategy, string summary, IReadOnlyList<string> warnings)
    {
        Method = method;
        CanRedirect = canRedirect;
        Strategy = strategy;
        Summary = summary;
        Warnings = warnings;
    }

    /// <summary>The method that was examined.</summary>
    public MethodBase Method { get; }

    /// <summary>True when a redirect of <see cref="Method"/> would be installed.</summary>
    public bool CanRedirect { get; }

    /// <summary>The strategy a redirect would use (meaningful when <see cref="CanRedirect"/> is true).</summary>
    public RedirectStrategy Strategy { get; }

    /// <summary>One sentence: what would happen, or the reason it cannot and the fix.</summary>
    public string Summary { get; }

    /// <summary>Limits that apply even though the redirect can be installed (inlining, shared generic code, ...).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <inheritdoc />
    public override string ToString()
    {
        var text = Summary;
        foreach (var warning in Warnings)
            text += "\n  warning: " + warning;
        return text;
    }
}
