using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading;
using Hybrid.CoreClr;
using Hybrid.Os;
using Hybrid.Patching;
using NUnit.Framework;

namespace Hybrid.Tests;

/// <summary>
/// Kinds of compiled code that redirecting whole real libraries (Newtonsoft.Json, NodaTime, CommunityToolkit) ran
/// into, each reduced to the smallest target that shows it: struct methods reached through their unboxing stub,
/// long loops in the original (on-stack replacement), virtual methods reached only through vtable slots, loops at a
/// method's entry, hundreds of live redirects, and a failed attempt that must leave nothing behind.
/// </summary>
[NonParallelizable]
[Category(Categories.NativeOnly)] // targets live in this (unwoven) assembly; the subjects are native mechanisms
public class RealCodeTests
{
    public interface IMeter
    {
        int Peek();
    }

    public struct Meter : IMeter
    {
        public int Value;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public int Peek() => Value * 3;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public override string ToString() => "meter " + Value;
    }

    public delegate int MeterPeek(ref Meter self);
    public delegate string MeterText(ref Meter self);

    [Test]
    public void StructInterfaceMethod_BoxedAndDirectCallsSeeTheStruct()
    {
        var meter = new Meter { Value = 5 };
        IMeter boxed = new Meter { Value = 5 };
        using (var r = Engine.Redirect(typeof(Meter).GetMethod(nameof(Meter.Peek))!, new MeterPeek((ref Meter self) => self.Value * 100)))
        {
            Assert.That(meter.Peek(), Is.EqualTo(500), "direct call");
            Assert.That(boxed.Peek(), Is.EqualTo(500), "call through the interface (unboxing stub): `this` must be the struct, not the box");
            Assert.That(r.GetOriginal<MeterPeek>()(ref meter), Is.EqualTo(15));
        }
        Assert.That(meter.Peek(), Is.EqualTo(15));
        Assert.That(boxed.Peek(), Is.EqualTo(15));
    }

    [Test]
    public void StructToStringOverride_ThroughObject()
    {
        object boxed = new Meter { Value = 7 };
        var meter = new Meter { Value = 8 };
        using (var r = Engine.Redirect(typeof(Meter).GetMethod(nameof(Meter.ToString))!, new MeterText((ref Meter self) => "fake " + self.Value)))
        {
            Assert.That(boxed.ToString(), Is.EqualTo("fake 7"));
            Assert.That(r.GetOriginal<MeterText>()(ref meter), Is.EqualTo("meter 8"));
        }
        Assert.That(boxed.ToString(), Is.EqualTo("meter 7"));
    }

    public static class Loops
    {
        /// <summary>Never called before its redirect: its tier-0 code has OSR patchpoints in the loop.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Mix(int n)
        {
            int h = 17;
            for (int i = 0; i < n; i++)
                h = h * 31 + (i ^ (h >> 7));
            return h;
        }

        public static int Expected(int n)
        {
            int h = 17;
            for (int i = 0; i < n; i++)
                h = h * 31 + (i ^ (h >> 7));
            return h;
        }
    }

    [Test]
    public void GetOriginal_RunsALongLoop_TheRuntimeReplacesOnTheStack()
    {
        const int n = 20_000_000; // far past the OSR trigger (patchpoint counter 1,000, hit limit 10)
        int calls = 0;
        Redirection? redirection = null;
        using (redirection = Engine.Redirect(typeof(Loops).GetMethod(nameof(Loops.Mix))!, new Func<int, int>(x => { calls++; return redirection!.GetOriginal<Func<int, int>>()(x); })))
        {
            Assert.That(Loops.Mix(n), Is.EqualTo(Loops.Expected(n)), "the original, run through the trampoline, reached on-stack replacement and went on");
            Assert.That(Loops.Mix(n), Is.EqualTo(Loops.Expected(n)), "and again, now in its OSR code");
        }
        Assert.That(calls, Is.EqualTo(2));
        Assert.That(Loops.Mix(1000), Is.EqualTo(Loops.Expected(1000)));
    }

    public interface ISides
    {
        int Sides();
    }

    public sealed class Triangle : ISides
    {
        public int Sides() => 3; // small, not NoInlining, and never called before the redirect
    }

    public sealed class Pentagon : ISides
    {
        public int Sides() => 5;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SidesOf(ISides shape) => shape.Sides();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long CountNot(ISides shape, int expected, int n)
    {
        long wrong = 0;
        for (int i = 0; i < n; i++)
            if (shape.Sides() != expected)
                wrong++;
        return wrong;
    }

    [Test]
    public void InterfaceOnlyMethod_NeverCalledBefore()
    {
        var method = typeof(Triangle).GetMethod(nameof(Triangle.Sides))!;
        Assert.That(Engine.Explain(method).CanRedirect, Is.True, Engine.Explain(method).Summary);
        using (var r = Engine.Redirect(method, new Func<Triangle, int>(_ => 99)))
        {
            Assert.That(SidesOf(new Triangle()), Is.EqualTo(99));
            Assert.That(r.GetOriginal<Func<Triangle, int>>()(new Triangle()), Is.EqualTo(3));
        }
        Assert.That(SidesOf(new Triangle()), Is.EqualTo(3));
    }

    [Test]
    public void InterfaceOnlyMethod_HoldsWhileItsCallersTierUp()
    {
        // A caller compiled after the redirect (tier-1, with guarded devirtualization from the profile of the calls
        // below) must not inline the redirected method.
        ISides shape = new Pentagon();
        using (Engine.Redirect(typeof(Pentagon).GetMethod(nameof(Pentagon.Sides))!, new Func<Pentagon, int>(_ => -5)))
        {
            long wrong = 0;
            for (int batch = 0; batch < 20; batch++)
            {
                wrong += CountNot(shape, -5, 100_000);
                Thread.Sleep(20);
            }
            Assert.That(wrong, Is.Zero, "calls that bypassed the redirect");
        }
        Assert.That(CountNot(shape, 5, 1000), Is.Zero);
    }

    public static class EntryLoop
    {
        /// <summary>Optimized at once; its loop head is the first instruction after a 4-byte prologue on x64.</summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public static long Power(long r, long x, int n)
        {
            do
                r *= x;
            while (--n > 0);
            return r;
        }
    }

    [Test]
    public void LoopAtTheEntry_IsRefusedWithReasonAndFix_OrRedirectedCorrectly()
    {
        var method = typeof(EntryLoop).GetMethod(nameof(EntryLoop.Power))!;
        var plan = Engine.Explain(method);
        if (!plan.CanRedirect)
        {
            Assert.That(plan.Summary, Does.Contain("jumps back into its first bytes").And.Contain("Fix:"));
            using var writes = FakeOs.CountingCodeWrites();
            var e = Assert.Throws<NotSupportedException>(() => Engine.Redirect(method, new Func<long, long, int, long>((r, x, n) => -1)))!;
            Assert.That(e.Message, Does.Contain("jumps back into its first bytes").And.Contain("<Patchable"));
            Assert.That(writes.Writes, Is.Zero);
            return;
        }
        // This runtime's code for it starts otherwise: then the original must still loop correctly.
        using var redirection = Engine.Redirect(method, new Func<long, long, int, long>((r, x, n) => -1));
        Assert.That(EntryLoop.Power(1, 2, 3), Is.EqualTo(-1));
        Assert.That(redirection.GetOriginal<Func<long, long, int, long>>()(1, 3, 4), Is.EqualTo(81));
    }

    public static class Many
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static int Size<T>() => Unsafe.SizeOf<T>() * 3 + typeof(T).Name.Length;

        public static int MinusOne() => -1;
    }

    [Test]
    public void SixHundredLiveRedirects()
    {
        var primitives = new[] { typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong), typeof(float), typeof(double), typeof(char), typeof(bool) };
        var types = (from a in primitives from b in primitives from c in primitives select typeof(ValueTuple<,,>).MakeGenericType(a, b, c)).Take(600).ToArray();
        var methods = types.Select(t => typeof(Many).GetMethod(nameof(Many.Size))!.MakeGenericMethod(t)).ToArray();
        var replacement = typeof(Many).GetMethod(nameof(Many.MinusOne))!;
        var live = new List<Redirection>();
        try
        {
            foreach (var method in methods)
                live.Add(Engine.Redirect(method, replacement));
            Assert.That(methods.Count(m => (int)m.Invoke(null, null)! != -1), Is.Zero, "redirected instantiations that ran their original");
        }
        finally
        {
            foreach (var r in live)
                r.Dispose();
        }
        Assert.That(live, Has.Count.EqualTo(600));
        Assert.That(methods.Count(m => (int)m.Invoke(null, null)! == -1), Is.Zero, "instantiations still redirected after dispose");
    }

    public static class Refused
    {
        public static int Target(int x) => x * 41 + 1; // not NoInlining: the redirect would set the runtime's not-inline flag
    }

    [Test]
    public unsafe void AFailedAttempt_LeavesNoTrace()
    {
        var method = typeof(Refused).GetMethod(nameof(Refused.Target))!;
        const ushort notInline = 0x2000; // MethodDesc::m_wFlags, see engine/CoreClr/InliningBlock.cs
        int NotInline() => *(ushort*)(method.MethodHandle.Value + 6) & notInline;
        RuntimeHelpers.PrepareMethod(method.MethodHandle);
        Assert.That(NotInline(), Is.Zero);
        int hooks = HookRegistry.Count;
        var forced = Engine.ForcedStrategy;
        Engine.ForcedStrategy = RedirectStrategy.NativeJump; // no fallback: the refusal reaches the caller
        int written;
        try
        {
            using var refusing = FakeOs.RefusingCodeWrites(); // an OS whose W^X policy refuses the write itself
            using var writes = FakeOs.CountingCodeWrites();
            Assert.That(() => Engine.Redirect(method, new Func<int, int>(x => -x)),
                Throws.InstanceOf<NotSupportedException>().With.Message.Contains("enforces W^X").And.Message.Contains("pinned to NativeJump"));
            written = writes.Writes;
        }
        finally
        {
            Engine.ForcedStrategy = forced;
        }
        Assert.That(HookRegistry.Count, Is.EqualTo(hooks), "no hook (pages, stub, cell) left registered");
        Assert.That(NotInline(), Is.Zero, "no not-inline flag left set");
        Assert.That(TieringFreeze.IsHeld(method.MethodHandle.Value), Is.False, "tier-up not left held");
        Assert.That(written, Is.Zero, "no code written");
        Assert.That(Refused.Target(2), Is.EqualTo(83));
        using (Engine.Redirect(method, new Func<int, int>(x => -x)))
        {
            Assert.That(Refused.Target(2), Is.EqualTo(-2), "a later attempt works");
            Assert.That(NotInline(), Is.EqualTo(notInline), "and marks it");
        }
    }
}
