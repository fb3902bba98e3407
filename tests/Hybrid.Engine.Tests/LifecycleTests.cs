using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using Hybrid.Os;
using Hybrid.X64;
using Iced.Intel;
using NUnit.Framework;

namespace Hybrid.Tests;

[NonParallelizable]
public class LifecycleTests
{
    private static readonly MethodInfo Twice = typeof(Calc).GetMethod(nameof(Calc.Twice))!;
    private static MethodInfo C(string name) => typeof(Calc).GetMethod(name)!;
    private static bool IsArm64 => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64;

    /// <summary>The permissions /proc/self/maps gives the mapping that holds <paramref name="address"/>.</summary>
    private static string Protection(nint address)
    {
        foreach (var line in File.ReadAllLines("/proc/self/maps"))
        {
            var range = line.Split(' ')[0].Split('-');
            ulong start = Convert.ToUInt64(range[0], 16), end = Convert.ToUInt64(range[1], 16);
            if ((ulong)address >= start && (ulong)address < end)
                return line.Split(' ')[1];
        }
        return "unmapped";
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void NewestLiveRedirectWinsAndDisposalInAnyOrderRestoresExactBytes()
    {
        Calc.Twice(1);
        using var probe = Engine.Redirect(Twice, C(nameof(Calc.TimesTen)));
        nint body = probe.Hook.Body;
        int length = probe.Hook.OriginalBytes.Length;
        var pristine = probe.Hook.OriginalBytes.ToArray();
        probe.Dispose();
        Assert.That(CodeMemory.Read(body, length), Is.EqualTo(pristine), "one redirect, disposed: original bytes");

        var a = Engine.Redirect(Twice, C(nameof(Calc.TimesTen)));
        var b = Engine.Redirect(Twice, C(nameof(Calc.Minus)));
        var c = Engine.Redirect(Twice, C(nameof(Calc.Const42)));
        Assert.That(Calc.Twice(3), Is.EqualTo(42), "newest wins");
        Assert.That(new[] { b.Hook, c.Hook }, Is.All.SameAs(a.Hook), "every redirect of a method shares its one hook (none lands in a replacement)");
        Assert.That(CodeMemory.Read(body, length), Is.Not.EqualTo(pristine));
        b.Dispose();
        Assert.That(Calc.Twice(3), Is.EqualTo(42), "disposing a middle one changes nothing");
        c.Dispose();
        Assert.That(Calc.Twice(3), Is.EqualTo(30), "the next newest live one takes over");
        c.Dispose();
        Assert.That(Calc.Twice(3), Is.EqualTo(30), "Dispose is idempotent");
        a.Dispose();
        Assert.That(Calc.Twice(3), Is.EqualTo(6));
        Assert.That(CodeMemory.Read(body, length), Is.EqualTo(pristine), "no redirect left: exact original bytes");
        Assert.That(a.IsActive || b.IsActive || c.IsActive, Is.False);
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void EntryJumpDecodesAsAJumpToTheStubAndTheStubReachesTheReplacement()
    {
        using var r = Engine.Redirect(Twice, C(nameof(Calc.TimesTen)));
        if (IsArm64)
        {
            // arm64: one B at the entry (a single-copy-atomic word, Arm ARM B2.2.5), then the stub loads the cell.
            var entry = Tests.Arm64.Objdump.Disassemble(CodeMemory.Read(r.Hook.Body, 4), (ulong)r.Hook.Body);
            Assert.That($"{entry[0].Mnemonic} {entry[0].Operands}", Is.EqualTo($"b 0x{r.Hook.CodePage:x}"));
            var stubBytes = CodeMemory.Read(r.Hook.CodePage, 8);
            var stubLines = Tests.Arm64.Objdump.Disassemble(stubBytes, (ulong)r.Hook.CodePage);
            Assert.That(stubLines.Select(l => l.Mnemonic), Is.EqualTo(new[] { "ldr", "br" }));
            ulong cell = Tests.Arm64.Objdump.ParseNumber(stubLines[0].Operands.Split(',')[1]);
            unsafe
            {
                Assert.That(*(nint*)(nint)cell, Is.EqualTo(r.NativeTarget));
            }
            return;
        }
        var written = X64Decoding.DecodeOne(r.Hook.Body);
        Assert.That(written.Mnemonic, Is.EqualTo(Mnemonic.Jmp));
        var stub = X64Decoding.DecodeOne(r.Hook.CodePage);
        Assert.That(stub.Code, Is.EqualTo(Code.Jmp_rm64));
        Assert.That(stub.IsIPRelativeMemoryOperand, Is.True);
        nint dataCell = X64Decoding.RipTarget(stub);
        TestContext.Out.WriteLine($"entry: {written} ({written.Length} bytes; {r.Hook.OriginalBytes.Length} bytes replaced)");
        if (r.Hook.OriginalBytes.Length >= 6)
        {
            // Room for the 6-byte form: the entry jumps through the stub's cell itself (one jump fewer per call).
            Assert.That(written.Code, Is.EqualTo(Code.Jmp_rm64));
            Assert.That(written.IsIPRelativeMemoryOperand, Is.True);
            Assert.That(X64Decoding.RipTarget(written), Is.EqualTo(dataCell), "the entry reads the cell the stub reads");
        }
        else
        {
            Assert.That(written.Code, Is.EqualTo(Code.Jmp_rel32_64), "the stub is allocated within ±2 GiB, so the 5-byte form is used");
            Assert.That((nint)written.NearBranchTarget, Is.EqualTo(r.Hook.CodePage));
        }
        unsafe
        {
            Assert.That(*(nint*)dataCell, Is.EqualTo(r.NativeTarget));
        }
        // Bytes of partly overwritten instructions after the jump are int3: never executed, and loud if they were.
        Assert.That(CodeMemory.Read(r.Hook.Body + written.Length, r.Hook.OriginalBytes.Length - written.Length), Is.All.EqualTo((byte)0xCC));
        // The same bytes read by binutils: an encoding checked by the disassembler of another project, not by Iced alone.
        if (X64Objdump.Disassemble(CodeMemory.Read(r.Hook.Body, written.Length), (ulong)r.Hook.Body) is { } lines)
        {
            Assert.That(lines, Has.Count.EqualTo(1));
            Assert.That(lines[0].Mnemonic, Is.EqualTo("jmp"));
            Assert.That(lines[0].Target, Is.EqualTo(written.Code == Code.Jmp_rm64 ? (ulong)dataCell : (ulong)r.Hook.CodePage), $"objdump: {lines[0].Text}");
        }
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void TrampolineRelocatesTheOverwrittenInstructionsAndJumpsBack()
    {
        using var r = Engine.Redirect(Twice, C(nameof(Calc.TimesTen)));
        if (IsArm64)
        {
            // arm64: the one replaced instruction (Twice begins with a frame push, which moves unchanged), then a jump
            // back to the instruction after it.
            var bytes = CodeMemory.Read(r.Hook.Trampoline, 64);
            var lines = Tests.Arm64.Objdump.Disassemble(bytes, (ulong)r.Hook.Trampoline);
            Assert.That(lines[0].Word, Is.EqualTo(BitConverter.ToUInt32(r.Hook.OriginalBytes, 0)), $"moved unchanged: {lines[0]}");
            var (target, _) = Tests.Arm64.Objdump.Interpret(lines.Skip(1).ToList(), bytes.Skip(4).ToArray(), (ulong)r.Hook.Trampoline + 4);
            Assert.That(target, Is.EqualTo((ulong)r.Hook.Body + 4));
            return;
        }
        var original = X64Decoding.Decode(r.Hook.OriginalBytes, (ulong)r.Hook.Body);
        var trampoline = X64Decoding.DecodeCovering(r.Hook.Trampoline, 64).Take(original.Count + 1).ToList();
        for (int i = 0; i < original.Count; i++)
            Assert.That(trampoline[i].Mnemonic, Is.EqualTo(original[i].Mnemonic), $"instruction {i}");
        var back = trampoline[original.Count];
        Assert.That(back.Mnemonic, Is.EqualTo(Mnemonic.Jmp));
        Assert.That(back.NearBranchTarget, Is.EqualTo((ulong)r.Hook.Body + (ulong)r.Hook.OriginalBytes.Length));
        // Read by binutils too: the original instructions as objdump prints them, then the jump back.
        int trampolineLength = (int)(back.NextIP - (ulong)r.Hook.Trampoline);
        if (X64Objdump.Disassemble(r.Hook.OriginalBytes, (ulong)r.Hook.Body) is { } before
            && X64Objdump.Disassemble(CodeMemory.Read(r.Hook.Trampoline, trampolineLength), (ulong)r.Hook.Trampoline) is { } after)
        {
            Assert.That(after.Select(l => l.Mnemonic), Is.EqualTo(before.Select(l => l.Mnemonic).Append("jmp")), string.Join("\n", after.Select(l => l.Text)));
            Assert.That(after[^1].Target, Is.EqualTo((ulong)r.Hook.Body + (ulong)r.Hook.OriginalBytes.Length));
        }
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void EveryCodeWriteIsFollowedByACacheFlushCoveringIt()
    {
        var flushes = (Hybrid.Platform.Cpu as Hybrid.Arm64.Arm64Hooks)?.Flushes;
        if (!IsArm64)
        {
            // x64 keeps instruction fetch coherent with stores (Intel SDM vol. 3, 11.6): the engine flushes nothing.
            Assert.That(flushes, Is.Null);
            return;
        }
        // An emulator's caches are always coherent, so running the code proves nothing about maintenance: the log of
        // every DC/IC range the engine maintained does (Arm ARM B2.4.4).
        Assert.That(flushes, Is.Not.Null);
        int Covering(nint address, int length) => flushes!.Calls.Count(c => c.Address <= address && address + length <= c.Address + c.Length);
        var thrice = C(nameof(Calc.Thrice));
        Calc.Thrice(1);
        using var writes = FakeOs.CountingCodeWrites();
        var first = Engine.Redirect(thrice, C(nameof(Calc.Plus1000)));
        nint entry = first.Hook.Body;
        int atEntry = Covering(entry, 4);
        Assert.That(Covering(first.Hook.CodePage, 8), Is.GreaterThanOrEqualTo(1), "the dispatch stub, once written");
        Assert.That(Covering(first.Hook.Trampoline, 8), Is.GreaterThanOrEqualTo(1), "the trampoline, once written");
        Assert.That(atEntry, Is.GreaterThanOrEqualTo(1), "the entry word, after the B was stored");
        var second = Engine.Redirect(thrice, C(nameof(Calc.TimesTen)));
        Assert.That(Covering(entry, 4), Is.EqualTo(atEntry), "stacking changes the data cell, not code: no write, no flush");
        second.Dispose();
        first.Dispose();
        Assert.That(Covering(entry, 4), Is.EqualTo(atEntry + 1), "the entry word, after the original word came back");
        Assert.That(writes.Writes, Is.EqualTo(2), "two code writes: install and restore of the entry");
        Assert.That(Calc.Thrice(5), Is.EqualTo(15));
    }

    [Test]
    [Category(Categories.NativeOnly)]
    public void NoWritableAndExecutableMappingIsLeftBehind()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("reads /proc/self/maps");
        static string[] Rwx() => File.ReadAllLines("/proc/self/maps").Where(l => l.Split(' ')[1].StartsWith("rwx", StringComparison.Ordinal)).ToArray();
        if (Environment.GetEnvironmentVariable("DOTNET_EnableWriteXorExecute") == "0")
        {
            // The runtime itself then maps its code read-write-execute and splits and joins those mappings as it
            // works (the arm64 lane under qemu runs so): the engine must not add to them and must give back what it
            // changed — the protection of each page it wrote or allocated is what it was before.
            var utcNow = typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!;
            using (var a = Engine.Redirect(Twice, C(nameof(Calc.TimesTen))))
            using (var b = Engine.Redirect(utcNow, typeof(Replacements).GetMethod(nameof(Replacements.FixedUtcNow))!))
            {
                foreach (var r in new[] { a, b })
                    Assert.That(Protection(r.Hook.CodePage), Is.EqualTo("r-xp"), $"stub page of {r}");
            }
            return;
        }
        var before = Rwx();
        using (Engine.Redirect(Twice, C(nameof(Calc.TimesTen))))
        using (Engine.Redirect(typeof(DateTime).GetProperty(nameof(DateTime.UtcNow))!.GetMethod!, typeof(Replacements).GetMethod(nameof(Replacements.FixedUtcNow))!))
        {
            Assert.That(Rwx(), Is.EquivalentTo(before), "while redirects are live");
        }
        Assert.That(Rwx(), Is.EquivalentTo(before), "after they are disposed");
    }

    [Test]
    public void ConcurrentCallersSeeOldOrNewResultWhileRedirectsComeAndGo()
    {
        if (Hybrid.Platform.Fence.UnavailableReason is { } noFence)
            Assert.Ignore($"Writing an entry jump while other threads call the method needs a thread fence, and this platform has none ({noFence}); Explain says so (ExplainTests.WarnsWhereNoThreadFenceGuardsTheWrite).");
        var thrice = C(nameof(Calc.Thrice));
        var plus = C(nameof(Calc.Plus1000));
        int wrong = 0;
        long calls = 0;
        using var stop = new CancellationTokenSource();
        var callers = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            int i = t;
            long local = 0;
            while (!stop.IsCancellationRequested)
            {
                int x = i++ & 0xFFFF;
                int y = Calc.Thrice(x);
                if (y != x * 3 && y != x + 1000)
                    Interlocked.Increment(ref wrong);
                local++;
            }
            Interlocked.Add(ref calls, local);
        }) { IsBackground = true }).ToList();
        callers.ForEach(t => t.Start());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Under Wine every SuspendThread/GetThreadContext is a round trip to wineserver: a fence over ~25 threads
        // takes ~35 ms there (µs on Windows), so the Windows lane runs 300 cycles — enough for the fence to move
        // threads off the overwritten instructions hundreds of times (asserted below). HYBRID_STRESS_CYCLES sets
        // the count for a longer run (10,000 under Wine takes ~12 min) or a shorter one (the arm64 lane runs 2,000
        // under qemu, where each fenced write costs milliseconds: .ci/arm64-coreclr.sh).
        int cycles = int.TryParse(Environment.GetEnvironmentVariable("HYBRID_STRESS_CYCLES"), out var n) && n > 0 ? n : IsWine ? 300 : 10_000;
        for (int i = 0; i < cycles; i++)
            Engine.Redirect(thrice, plus).Dispose();
        var fence = Hybrid.Platform.Fence;
        TestContext.Out.WriteLine($"{cycles} install/dispose cycles in {clock.ElapsedMilliseconds} ms; {fence.GetType().Name} so far: {fence.Counts}");
        stop.Cancel();
        callers.ForEach(t => t.Join());
        Assert.That(wrong, Is.Zero);
        Assert.That(calls, Is.GreaterThan(10_000));
        // The fence really stopped the callers (8 busy threads on a few cores are always running or runnable) —
        // where jumps are written at all: the IL guard writes no code.
        if (Categories.ExpectedStrategy != RedirectStrategy.NativeJump)
            return;
        if (fence is Hybrid.Os.LinuxX64ThreadFence or Hybrid.Os.WindowsX64ThreadFence or Hybrid.Os.LinuxArm64ThreadFence)
            Assert.That(fence.Counts.ThreadsStopped, Is.GreaterThan(0));
        // And moved some off the overwritten instructions: 1,441 of 101,875 parks on Linux here (2 cores), hundreds under Wine.
        // (arm64 moves none: its patch is one instruction word, with no boundary inside to stop at.)
        if (fence is Hybrid.Os.LinuxX64ThreadFence || IsWine)
            Assert.That(fence.Counts.ThreadsMoved, Is.GreaterThan(0), "threads stopped on an overwritten instruction were moved to the trampoline");
        TestContext.Out.WriteLine($"{calls:N0} concurrent calls during {cycles} install/dispose pairs");
    }

    /// <summary>Wine exports wine_get_version from its ntdll; Windows does not.</summary>
    private static bool IsWine =>
        OperatingSystem.IsWindows() && System.Runtime.InteropServices.NativeLibrary.TryLoad("ntdll.dll", out var ntdll)
        && System.Runtime.InteropServices.NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);
}
