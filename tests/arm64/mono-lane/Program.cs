using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hybrid.Arm64;
using Hybrid.Os;

namespace Hybrid.MonoLane;

// The targets. NoInlining, as the weaver would make them: Mono's JIT inlines small methods into their callers too.
public static class Billing
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static long Charge(long cents) => cents + 1;
}

public sealed class Account
{
    public long Balance = 40;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public long Deposit(long amount) => Balance += amount;
}

public static class Generic
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static T Echo<T>(T value) => value;
}

public struct Big
{
    public long A, B, C, D;
}

public static class Structs
{
    // Returned through the indirect result register x8: the stub must leave it alone.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Big Make(long seed) => new Big { A = seed, B = seed + 1, C = seed + 2, D = seed + 3 };
}

public static class Fakes
{
    public static long Charge(long cents) => cents * 100;

    public static long ChargeAgain(long cents) => -cents;

    public static long Deposit(Account account, long amount) => account.Balance = 1000 + amount;

    public static int Echo(int value) => value * 2;

    public static Big Make(long seed) => new Big { A = -seed, B = -seed, C = -seed, D = -seed };
}

/// <summary>Methods the lane script weaves with hybrid-weave (<c>--patchable "Hybrid.MonoLane.Woven.*"</c>).</summary>
public static class Woven
{
    // Shared between reference types on Mono: the native path refuses it, the woven IL guard serves it.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Shout<T>(T value) where T : class => value + "!";

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static long Ticks() => 1;
}

/// <summary>
/// Redirects methods through <see cref="Engine"/> on arm64 Mono (under qemu-user) and checks what the issue asks:
/// static, instance and generic methods, the original callable, dispose restoring the original, and an instruction
/// cache flush after every code write. Prints a VSTest-style summary line that test.sh adds to its totals.
/// </summary>
internal static class Program
{
    private static int s_passed, s_failed;

    private static void Check(string what, bool ok, string detail = "")
    {
        if (ok) s_passed++; else s_failed++;
        Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}{(detail.Length > 0 ? ": " + detail : "")}");
    }

    private static void Equal<T>(string what, T actual, T expected) =>
        Check(what, EqualityComparer<T>.Default.Equals(actual, expected), $"{actual} (expected {expected})");

    private static MethodInfo M(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance)!;

    /// <summary>Runs <paramref name="write"/> and checks that every flush it caused follows a write it made and covers the entry word.</summary>
    private static T Flushed<T>(string what, nint entry, Func<T> write)
    {
        var log = ((Arm64Hooks)Hybrid.Platform.Cpu).Flushes;
        int before = log.Count;
        T result;
        int written;
        using (var writes = Hybrid.Tests.FakeOs.CountingCodeWrites())
        {
            result = write();
            written = writes.Writes;
        }
        var calls = log.Calls.Skip(before).ToList();
        bool entryCovered = calls.Any(c => c.Address <= entry && entry + 4 <= c.Address + c.Length);
        Check($"{what}: every code write flushed", written > 0 && entryCovered,
            $"{written} write(s), {calls.Count} flush(es): {string.Join(", ", calls.Select(c => $"0x{c.Address:x}+{c.Length}"))}");
        return result;
    }

    private static nint Code(MethodInfo method)
    {
        RuntimeHelpers.PrepareMethod(method.MethodHandle);
        return method.MethodHandle.GetFunctionPointer();
    }

    private static int Main()
    {
        Console.WriteLine($"runtime: {(Type.GetType("Mono.Runtime") != null ? "Mono" : "other")} {Environment.Version}, {RuntimeInformation.ProcessArchitecture}, {RuntimeInformation.OSDescription}");
        if (RuntimeInformation.ProcessArchitecture != Architecture.Arm64 || Type.GetType("Mono.Runtime") == null)
        {
            Console.WriteLine("FAIL this lane must run on arm64 Mono");
            return 2;
        }

        // ---- static
        var charge = M(typeof(Billing), nameof(Billing.Charge));
        Equal("static before", Billing.Charge(5), 6L);
        var plan = Engine.Explain(charge);
        Check("Explain: native jump", plan.CanRedirect && plan.Strategy == RedirectStrategy.NativeJump, plan.Summary);
        var r1 = Flushed("static install", Code(charge), () => Engine.Redirect(charge, M(typeof(Fakes), nameof(Fakes.Charge))));
        Equal("static redirected", Billing.Charge(5), 500L);
        Equal("strategy", r1.Strategy, RedirectStrategy.NativeJump);
        Equal("static original", r1.GetOriginal<Func<long, long>>()(5), 6L);
        var r2 = Engine.Redirect(charge, (Func<long, long>)(c => c + 7000)); // a capturing-free lambda still goes through a bridge
        Equal("stacked delegate redirect wins", Billing.Charge(5), 7005L);
        r2.Dispose();
        Equal("stack pops back to the first redirect", Billing.Charge(5), 500L);
        Flushed("static dispose", Code(charge), () => { r1.Dispose(); return 0; });
        Equal("static restored", Billing.Charge(5), 6L);

        // ---- instance
        var deposit = M(typeof(Account), nameof(Account.Deposit));
        var account = new Account();
        var r3 = Engine.Redirect(deposit, M(typeof(Fakes), nameof(Fakes.Deposit)));
        Equal("instance redirected", account.Deposit(2), 1002L);
        Equal("instance original", r3.GetOriginal<Func<Account, long, long>>()(account, 8), 1010L);
        r3.Dispose();
        Equal("instance restored", new Account().Deposit(2), 42L);

        // ---- generic, value-type instantiation (Mono compiles it on its own)
        var echoInt = M(typeof(Generic), nameof(Generic.Echo)).MakeGenericMethod(typeof(int));
        Equal("generic before", Generic.Echo(21), 21);
        var r4 = Engine.Redirect(echoInt, M(typeof(Fakes), nameof(Fakes.Echo)));
        Equal("generic<int> redirected", Generic.Echo(21), 42);
        Equal("generic<long> untouched", Generic.Echo(21L), 21L);
        Equal("generic original", r4.GetOriginal<Func<int, int>>()(21), 21);
        r4.Dispose();
        Equal("generic restored", Generic.Echo(21), 21);

        // ---- generic, reference-type instantiation: shared code on Mono, refused plainly
        var echoString = M(typeof(Generic), nameof(Generic.Echo)).MakeGenericMethod(typeof(string));
        var shared = Engine.Explain(echoString);
        Check("shared generic refused with reason and fix", !shared.CanRedirect && shared.Summary.Contains("shares between reference-type instantiations") && shared.Summary.Contains("<Patchable"), shared.Summary);
        try
        {
            Engine.Redirect(echoString, (Func<string, string>)(s => s + "!")).Dispose();
            Check("shared generic Redirect throws", false);
        }
        catch (NotSupportedException e)
        {
            Check("shared generic Redirect throws NotSupportedException", e.Message.Contains("Generic.Echo<System.String>"), e.Message);
        }
        Equal("shared generic untouched", Generic.Echo("a"), "a");

        // ---- the woven IL guard on Mono: automatic fallback where the native jump cannot serve, and a pinned strategy
        var shout = M(typeof(Woven), nameof(Woven.Shout)).MakeGenericMethod(typeof(string));
        var guarded = Engine.Explain(shout);
        Check("woven shared generic: Explain picks the IL guard", guarded.CanRedirect && guarded.Strategy == RedirectStrategy.ILDispatch && guarded.Summary.Contains("native patching is not possible"), guarded.Summary);
        using (var r6 = Engine.Redirect(shout, (Func<string, string>)(v => "fake " + v)))
        {
            Equal("woven shared generic: strategy", r6.Strategy, RedirectStrategy.ILDispatch);
            Equal("woven Shout<string> redirected", Woven.Shout("a"), "fake a");
            Equal("woven Shout<object> untouched", Woven.Shout<object>("a"), "a!");
            Equal("woven original", r6.GetOriginal<Func<string, string>>()("a"), "a!");
        }
        Equal("woven Shout<string> restored", Woven.Shout("a"), "a!");
        Engine.ForcedStrategy = RedirectStrategy.ILDispatch;
        try
        {
            using (var r7 = Engine.Redirect(M(typeof(Woven), nameof(Woven.Ticks)), (Func<long>)(() => 99)))
                Check("pinned ILDispatch on a natively patchable method", r7.Strategy == RedirectStrategy.ILDispatch && Woven.Ticks() == 99, $"{r7.Strategy}, {Woven.Ticks()}");
        }
        finally
        {
            Engine.ForcedStrategy = null;
        }
        Equal("pinned redirect disposed", Woven.Ticks(), 1L);

        // ---- struct returned through x8
        var make = M(typeof(Structs), nameof(Structs.Make));
        var r5 = Engine.Redirect(make, M(typeof(Fakes), nameof(Fakes.Make)));
        Equal("x8 struct return redirected", Structs.Make(3).D, -3L);
        Equal("x8 struct original", r5.GetOriginal<Func<long, Big>>()(3).D, 6L);
        r5.Dispose();
        Equal("x8 struct restored", Structs.Make(3).A, 3L);

        // ---- hot loop across install/dispose (the JIT's direct calls keep reaching the patched entry)
        long sum = 0;
        for (int round = 0; round < 20; round++)
        {
            using (Engine.Redirect(charge, M(typeof(Fakes), nameof(Fakes.ChargeAgain))))
                for (int i = 0; i < 1000; i++) sum += Billing.Charge(1);
            for (int i = 0; i < 1000; i++) sum += Billing.Charge(1);
        }
        Equal("20 install/dispose rounds, 40k calls", sum, 20L * (1000 * -1 + 1000 * 2));

        // ---- threads calling while the entry word flips between the original instruction and B stub
        var callers = new System.Threading.Thread[2];
        bool stop = false;
        long odd = 0, calls = 0;
        for (int t = 0; t < callers.Length; t++)
        {
            callers[t] = new System.Threading.Thread(() =>
            {
                long seen = 0, bad = 0;
                while (!System.Threading.Volatile.Read(ref stop))
                {
                    long v = Billing.Charge(5);
                    if (v != 6 && v != 500) bad++;
                    seen++;
                }
                System.Threading.Interlocked.Add(ref odd, bad);
                System.Threading.Interlocked.Add(ref calls, seen);
            });
            callers[t].Start();
        }
        var fake = M(typeof(Fakes), nameof(Fakes.Charge));
        for (int i = 0; i < 300; i++)
            Engine.Redirect(charge, fake).Dispose();
        System.Threading.Volatile.Write(ref stop, true);
        foreach (var t in callers) t.Join();
        Check("2 threads calling through 300 install/dispose cycles: every call ran the original or the replacement", odd == 0 && calls > 0, $"{calls} calls, {odd} wrong");

        // ---- the cache-maintenance paths themselves
        var flushes = ((Arm64Hooks)Hybrid.Platform.Cpu).Flushes;
        Check("flush log recorded the stub pages and entries", flushes.Count >= 10, $"{flushes.Count} flushes");
        new LibgccInstructionCacheFlusher().Flush(Code(charge), 64);
        Check("libgcc_s __clear_cache fallback callable", true);

        Console.WriteLine();
        Console.WriteLine($"{(s_failed == 0 ? "Passed!" : "Failed!")}  - Failed: {s_failed,5}, Passed: {s_passed,5}, Skipped: {0,5}, Total: {s_passed + s_failed,5} - Hybrid.MonoLane (arm64 Mono)");
        return s_failed == 0 ? 0 : 1;
    }
}
