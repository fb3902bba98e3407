using System;
using System.Collections.Generic;
using System.Reflection;
using Hybrid.Os;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>
/// <c>Explain</c> and <c>Redirect</c> come from one decision (engine/RedirectPolicy.cs): for every kind of target and
/// every way the strategy can be pinned or native patching refused, what <c>Explain</c> says is what <c>Redirect</c>
/// does — the same strategy, or the same refusal, word for word.
/// </summary>
[NonParallelizable]
public class PolicyTests
{
    public static class Unwoven
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        public static int Negate(int x) => -x;
    }

    private static MethodInfo R(string name) => typeof(Replacements).GetMethod(name)!;

    /// <summary>Targets of every kind the engine meets: woven and not, static, instance, virtual, struct, shared generic, framework, invalid.</summary>
    private static IEnumerable<(string Kind, MethodBase Method, object Replacement)> Targets()
    {
        yield return ("woven static", typeof(Calc).GetMethod(nameof(Calc.Plus1000))!, new Func<int, int>(x => x));
        yield return ("woven instance", typeof(Animal).GetMethod(nameof(Animal.Name))!, R(nameof(Replacements.AnimalName)));
        yield return ("woven virtual override", typeof(Dog).GetMethod(nameof(Dog.Sound))!, R(nameof(Replacements.DogSound)));
        yield return ("woven struct instance", typeof(Counter).GetMethod(nameof(Counter.Next))!, R(nameof(Replacements.CounterNext)));
        yield return ("woven shared generic (hidden argument)", typeof(Generic).GetMethod(nameof(Generic.Name))!.MakeGenericMethod(typeof(string)), R(nameof(Replacements.GenericNameOfString)));
        yield return ("woven shared generic (this)", typeof(Box<string>).GetMethod(nameof(Box<string>.Get))!, R(nameof(Replacements.BoxStringGet)));
        yield return ("framework, woven call sites", typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!, R(nameof(Replacements.FixedUtcNow)));
        yield return ("framework, not woven anywhere", typeof(System.Net.WebUtility).GetMethod(nameof(System.Net.WebUtility.HtmlDecode), new[] { typeof(string) })!, new Func<string?, string?>(s => s));
        yield return ("not woven", typeof(Unwoven).GetMethod(nameof(Unwoven.Negate))!, new Func<int, int>(x => x));
        yield return ("abstract (invalid)", typeof(BadInputTests.AbstractBase).GetMethod(nameof(BadInputTests.AbstractBase.Value))!, new Func<BadInputTests.AbstractBase, int>(_ => 1));
    }

    /// <summary>How the strategy is pinned, and whether the OS refuses native patching (a W^X policy, through the fake OS).</summary>
    private static readonly (string Name, RedirectStrategy? Forced, bool RefuseNative)[] Situations =
    {
        ("automatic", null, false),
        ("pinned to IL", RedirectStrategy.ILDispatch, false),
        ("pinned to native", RedirectStrategy.NativeJump, false),
        ("automatic, native refused", null, true),
        ("pinned to native, native refused", RedirectStrategy.NativeJump, true),
    };

    [Test]
    public void ExplainSaysWhatRedirectDoes()
    {
        var forced = Engine.ForcedStrategy;
        int compared = 0, redirected = 0, refused = 0;
        try
        {
            foreach (var (situation, pin, refuseNative) in Situations)
            {
                Engine.ForcedStrategy = pin;
                using var os = refuseNative ? FakeOs.RefusingNativePatching() : null;
                foreach (var (kind, method, replacement) in Targets())
                {
                    string where = $"{kind}, {situation}: {method.DeclaringType!.Name}.{method.Name}";
                    var plan = Engine.Explain(method);
                    try
                    {
                        using var r = replacement is MethodInfo m ? Engine.Redirect(method, m) : Engine.Redirect(method, (Delegate)replacement);
                        Assert.That(plan.CanRedirect, Is.True, $"{where}: Redirect succeeded ({r.Strategy}) where Explain said: {plan.Summary}");
                        Assert.That(r.Strategy, Is.EqualTo(plan.Strategy), $"{where}: {plan.Summary}");
                        redirected++;
                    }
                    catch (Exception e) when (e is NotSupportedException or ArgumentException)
                    {
                        Assert.That(plan.CanRedirect, Is.False, $"{where}: Explain said it can ({plan.Summary}), Redirect threw {e.GetType().Name}: {e.Message}");
                        string message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
                        Assert.That(plan.Summary, Is.EqualTo(message), where);
                        refused++;
                    }
                    compared++;
                }
            }
        }
        finally
        {
            Engine.ForcedStrategy = forced;
        }
        Assert.That(compared, Is.EqualTo(Situations.Length * 10));
        Assert.That(redirected, Is.GreaterThan(0));
        Assert.That(refused, Is.GreaterThan(0));
    }

    [Test]
    public void ARefusalNamesTheMethodTheReasonAndTheFix()
    {
        var forced = Engine.ForcedStrategy;
        try
        {
            Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
            var method = typeof(Unwoven).GetMethod(nameof(Unwoven.Negate))!;
            var e = Assert.Throws<NotSupportedException>(() => Engine.Redirect(method, new Func<int, int>(x => x)))!;
            Assert.That(e.Message, Does.Contain("PolicyTests+Unwoven.Negate(System.Int32)")
                .And.Contain("pinned to ILDispatch")
                .And.Contain("Fix: add <Patchable Include=\"Hybrid.Tests.PolicyTests+Unwoven.Negate\" /> to the project that builds Hybrid.Engine.Tests"));
            Engine.ForcedStrategy = RedirectStrategy.NativeJump;
            using (FakeOs.RefusingNativePatching())
                e = Assert.Throws<NotSupportedException>(() => Engine.Redirect(method, new Func<int, int>(x => x)))!;
            Assert.That(e.Message, Does.Contain("Unwoven.Negate").And.Contain("enforces W^X").And.Contain("Fix: unpin it"));
        }
        finally
        {
            Engine.ForcedStrategy = forced;
        }
    }
}
