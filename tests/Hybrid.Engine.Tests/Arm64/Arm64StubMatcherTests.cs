using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Hybrid.Arm64;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// Fixtures are the instruction words of CoreCLR's arm64 stub templates, transcribed from dotnet/runtime
/// src/coreclr/vm/arm64/thunktemplates.S with DATA_SLOT(stub, field) = stub start + STUB_PAGE_SIZE + field offset
/// (field offsets from src/coreclr/vm/arm64/asmconstants.h). One test re-assembles the transcribed template text with
/// GNU as, so a hand-encoding mistake in a fixture cannot hide.
///
/// Versions: "Net8" = release/8.0 (StubPrecodeCode/FixupPrecodeCode/CallCountingStubCode inside
/// `.irp STUB_PAGE_SIZE, 16384, 32768, 65536`), unchanged in release/9.0. "Net10" = the template after
/// dotnet/runtime#115746 (merged July 2025, in .NET 10): FixupPrecodeCode gains `dmb ishld` after its first
/// `br x11`, StubPrecodeCode is padded with three `brk 0xf000`, StubPrecodeData's first field is renamed SecretParam.
/// Provenance: the Net10 words were read from thunktemplates.S at dotnet/runtime commit 66d61063c875 (main, after
/// #115746); the Net8 words from the pre-#115746 template text, and they equal the .NET 8 byte patterns that
/// BenchmarkDotNet (Arm64Disassembler) and MonoMod use. No release/8.0 or 9.0 file revision was available to diff.
/// </summary>
[TestFixture]
public class Arm64StubMatcherTests
{
    // ---- STUB_PAGE_SIZE = 16384 (Windows; Unix with 4 KiB or 16 KiB pages), .NET 8 and 9 --------------------------
    // thunktemplates.S release/8.0, StubPrecodeCode16384
    internal static readonly uint[] StubPrecodeNet8 =
    {
        0x5802004A, // ldr x10, DATA_SLOT(StubPrecode, Target)      ; +0x4008
        0x5801FFEC, // ldr x12, DATA_SLOT(StubPrecode, MethodDesc)  ; +0x4000
        0xD61F0140, // br  x10
    };

    // thunktemplates.S release/8.0, FixupPrecodeCode16384
    internal static readonly uint[] FixupPrecodeNet8 =
    {
        0x5802000B, // ldr x11, DATA_SLOT(FixupPrecode, Target)             ; +0x4000
        0xD61F0160, // br  x11
        0x5802000C, // ldr x12, DATA_SLOT(FixupPrecode, MethodDesc)         ; +0x4008
        0x5802002B, // ldr x11, DATA_SLOT(FixupPrecode, PrecodeFixupThunk)  ; +0x4010
        0xD61F0160, // br  x11
    };

    // thunktemplates.S release/8.0 (same in main), CallCountingStubCode16384
    internal static readonly uint[] CallCountingNet8 =
    {
        0x58020009, // ldr  x9, DATA_SLOT(CallCountingStub, RemainingCallCountCell)    ; +0x4000
        0x7940012A, // ldrh w10, [x9]
        0x7100054A, // subs w10, w10, #1
        0x7900012A, // strh w10, [x9]
        0x54000060, // beq  CountReachedZero
        0x5801FFA9, // ldr  x9, DATA_SLOT(CallCountingStub, TargetForMethod)           ; +0x4008
        0xD61F0120, // br   x9
        0x5801FFAA, // CountReachedZero: ldr x10, DATA_SLOT(CallCountingStub, TargetForThresholdReached) ; +0x4010
        0xD61F0140, // br   x10
    };

    // ---- .NET 10 (Unix thunktemplates.S after dotnet/runtime#115746) ---------------------------------------------
    // StubPrecodeCode16384
    internal static readonly uint[] StubPrecodeNet10 =
    {
        0x5802004A, // ldr x10, DATA_SLOT(StubPrecode, Target)
        0x5801FFEC, // ldr x12, DATA_SLOT(StubPrecode, SecretParam)
        0xD61F0140, // br  x10
        0xD43E0000, // brk 0xf000
        0xD43E0000, // brk 0xf000
        0xD43E0000, // brk 0xf000
    };

    // FixupPrecodeCode16384
    internal static readonly uint[] FixupPrecodeNet10 =
    {
        0x5802000B, // ldr x11, DATA_SLOT(FixupPrecode, Target)             ; +0x4000
        0xD61F0160, // br  x11
        0xD50339BF, // dmb ishld
        0x5801FFEC, // ldr x12, DATA_SLOT(FixupPrecode, MethodDesc)         ; +0x4008
        0x5802000B, // ldr x11, DATA_SLOT(FixupPrecode, PrecodeFixupThunk)  ; +0x4010
        0xD61F0160, // br  x11
    };

    // ---- STUB_PAGE_SIZE = 65536 (Linux arm64 kernels with 64 KiB pages: GetStubCodePageSize() = max(16K, page)) ----
    // thunktemplates.S release/8.0, FixupPrecodeCode65536
    internal static readonly uint[] FixupPrecodeNet8Page64K =
    {
        0x5808000B, // ldr x11, DATA_SLOT(FixupPrecode, Target)             ; +0x10000
        0xD61F0160, // br  x11
        0x5808000C, // ldr x12, DATA_SLOT(FixupPrecode, MethodDesc)         ; +0x10008
        0x5808002B, // ldr x11, DATA_SLOT(FixupPrecode, PrecodeFixupThunk)  ; +0x10010
        0xD61F0160, // br  x11
    };

    // StubPrecodeCode65536
    internal static readonly uint[] StubPrecodeNet8Page64K =
    {
        0x5808004A, // ldr x10, DATA_SLOT(StubPrecode, Target)      ; +0x10008
        0x5807FFEC, // ldr x12, DATA_SLOT(StubPrecode, MethodDesc)  ; +0x10000
        0xD61F0140, // br  x10
    };

    // The template text each fixture was transcribed from, DATA_SLOT expanded the way thunktemplates.S spells it since
    // dotnet/runtime#77275 (". - (. - start) + STUB_PAGE_SIZE + field", which GNU as resolves without relocations).
    private static IEnumerable<TestCaseData> Transcriptions()
    {
        const string Stub8 = "ldr x10, {ST}\nldr x12, {SS}\nbr x10\n";
        const string Fixup8 = "ldr x11, {T}\nbr x11\nldr x12, {MD}\nldr x11, {FT}\nbr x11\n";
        yield return new TestCaseData(StubPrecodeNet8, 16384, Stub8).SetName("StubPrecode .NET 8 16K");
        yield return new TestCaseData(FixupPrecodeNet8, 16384, Fixup8).SetName("FixupPrecode .NET 8 16K");
        yield return new TestCaseData(CallCountingNet8, 16384,
            "ldr x9, {RC}\nldrh w10, [x9]\nsubs w10, w10, #1\nstrh w10, [x9]\nbeq 0f\nldr x9, {TM}\nbr x9\n0:\nldr x10, {TR}\nbr x10\n").SetName("CallCountingStub .NET 8 16K");
        yield return new TestCaseData(StubPrecodeNet10, 16384, Stub8 + "brk 0xf000\nbrk 0xf000\nbrk 0xf000\n").SetName("StubPrecode .NET 10 16K");
        yield return new TestCaseData(FixupPrecodeNet10, 16384, "ldr x11, {T}\nbr x11\ndmb ishld\nldr x12, {MD}\nldr x11, {FT}\nbr x11\n").SetName("FixupPrecode .NET 10 16K");
        yield return new TestCaseData(FixupPrecodeNet8Page64K, 65536, Fixup8).SetName("FixupPrecode .NET 8 64K");
        yield return new TestCaseData(StubPrecodeNet8Page64K, 65536, Stub8).SetName("StubPrecode .NET 8 64K");
    }

    [TestCaseSource(nameof(Transcriptions))]
    public void Fixture_words_are_what_GNU_as_makes_of_the_template(uint[] fixture, int page, string template)
    {
        string asm = Arm64Tools.Require(Arm64Tools.Assembler);
        string objcopy = Arm64Tools.Require("aarch64-linux-gnu-objcopy");
        string Slot(int field) => $". - (. - start) + {page} + {field}";
        // Field offsets, asmconstants.h: StubPrecodeData SecretParam(MethodDesc) 0 / Target 8; FixupPrecodeData Target 0 /
        // MethodDesc 8 / PrecodeFixupThunk 16; CallCountingStubData RemainingCallCountCell 0 / TargetForMethod 8 /
        // TargetForThresholdReached 16.
        string body = template
            .Replace("{ST}", Slot(8)).Replace("{SS}", Slot(0))
            .Replace("{T}", Slot(0)).Replace("{MD}", Slot(8)).Replace("{FT}", Slot(16))
            .Replace("{RC}", Slot(0)).Replace("{TM}", Slot(8)).Replace("{TR}", Slot(16));
        string source = Arm64Tools.TempFile(".s");
        string obj = Path.ChangeExtension(source, ".o");
        string bin = Path.ChangeExtension(source, ".bin");
        File.WriteAllText(source, ".text\nstart:\n" + body);
        try
        {
            var r = Arm64Tools.Run(asm, new[] { "-o", obj, source });
            Assert.That(r.ExitCode, Is.EqualTo(0), r.StdErr);
            r = Arm64Tools.Run(objcopy, new[] { "-O", "binary", "-j", ".text", obj, bin });
            Assert.That(r.ExitCode, Is.EqualTo(0), r.StdErr);
            var bytes = File.ReadAllBytes(bin);
            var words = Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToUInt32(bytes, i * 4)).ToArray();
            Assert.That(words.Select(w => w.ToString("X8")), Is.EqualTo(fixture.Select(w => w.ToString("X8"))));
        }
        finally
        {
            foreach (var f in new[] { source, obj, bin })
                File.Delete(f);
        }
    }

    private const ulong Page = 0x0000_FFFF_8A24_0000; // a stub code page (16 KiB aligned)

    private static byte[] Bytes(uint[] words, int padWords = 0) =>
        Arm64Instructions.ToBytes(words.Concat(Enumerable.Repeat(0xA9BF7BFDu, padWords)).ToArray());

    [TestCase(0)]
    [TestCase(24)]
    [TestCase(0x3FE8)] // last stub of a 16 KiB page
    public void StubPrecode_net8_yields_target_and_secret_slots(int offsetInPage)
    {
        ulong at = Page + (ulong)offsetInPage;
        var m = Arm64StubMatcher.Match(at, Bytes(StubPrecodeNet8, 3))!;
        Assert.That(m.Kind, Is.EqualTo(Arm64StubKind.StubPrecode));
        Assert.That(m.Shape, Is.EqualTo(Arm64StubShape.Any));
        Assert.That(m.TargetSlot, Is.EqualTo(at + 0x4000 + 8));
        Assert.That(m.MethodDescSlot, Is.EqualTo(at + 0x4000));
        Assert.That(m.StubPageSize, Is.EqualTo(0x4000UL));
    }

    [Test]
    public void StubPrecode_net10_is_recognised_with_its_padding()
    {
        var m = Arm64StubMatcher.Match(Page, Bytes(StubPrecodeNet10))!;
        Assert.That(m.Kind, Is.EqualTo(Arm64StubKind.StubPrecode));
        Assert.That(m.Shape, Is.EqualTo(Arm64StubShape.Net10));
        Assert.That(m.Length, Is.EqualTo(24));
        Assert.That(m.TargetSlot, Is.EqualTo(Page + 0x4008));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void FixupPrecode_yields_target_methoddesc_and_fixup_thunk_slots(bool net10)
    {
        ulong at = Page + 48;
        var m = Arm64StubMatcher.Match(at, Bytes(net10 ? FixupPrecodeNet10 : FixupPrecodeNet8, 4))!;
        Assert.That(m.Kind, Is.EqualTo(Arm64StubKind.FixupPrecode));
        Assert.That(m.Shape, Is.EqualTo(net10 ? Arm64StubShape.Net10 : Arm64StubShape.Net8));
        Assert.That(m.TargetSlot, Is.EqualTo(at + 0x4000));
        Assert.That(m.MethodDescSlot, Is.EqualTo(at + 0x4008));
        Assert.That(m.PrecodeFixupThunkSlot, Is.EqualTo(at + 0x4010));
        Assert.That(m.UnpreparedTargetValue, Is.EqualTo(at + 8));
        Assert.That(m.Length, Is.EqualTo(net10 ? 24 : 20));
    }

    [Test]
    public void Page_size_is_decoded_not_assumed()
    {
        var f = Arm64StubMatcher.Match(Page, Bytes(FixupPrecodeNet8Page64K, 4))!;
        Assert.That(f.Kind, Is.EqualTo(Arm64StubKind.FixupPrecode));
        Assert.That(f.StubPageSize, Is.EqualTo(0x10000UL));
        Assert.That(f.TargetSlot, Is.EqualTo(Page + 0x10000));
        var s = Arm64StubMatcher.Match(Page, Bytes(StubPrecodeNet8Page64K, 3))!;
        Assert.That(s.Kind, Is.EqualTo(Arm64StubKind.StubPrecode));
        Assert.That(s.TargetSlot, Is.EqualTo(Page + 0x10008));
    }

    [Test]
    public void CallCountingStub_yields_its_three_cells()
    {
        ulong at = Page + 40;
        var m = Arm64StubMatcher.Match(at, Bytes(CallCountingNet8, 1))!;
        Assert.That(m.Kind, Is.EqualTo(Arm64StubKind.CallCountingStub));
        Assert.That(m.RemainingCallCountSlot, Is.EqualTo(at + 0x4000));
        Assert.That(m.TargetSlot, Is.EqualTo(at + 0x4008));
        Assert.That(m.ThresholdReachedSlot, Is.EqualTo(at + 0x4010));
    }

    [Test]
    public void Inconsistent_literals_are_not_a_precode()
    {
        // FixupPrecode with the MethodDesc load pointing 4 bytes off: not the template, must not match as one.
        var words = (uint[])FixupPrecodeNet8.Clone();
        words[2] = 0x5802002C; // ldr x12, +0x4004
        Assert.That(Arm64StubMatcher.Match(Page, Bytes(words, 4))?.Kind, Is.Not.EqualTo(Arm64StubKind.FixupPrecode));
        // StubPrecode whose data page would be 8 KiB + 8 away in one literal and 16 KiB in the other.
        words = (uint[])StubPrecodeNet8.Clone();
        words[0] = 0x5801004A;
        Assert.That(Arm64StubMatcher.Match(Page, Bytes(words, 3)), Is.Null);
        // A method prologue is nothing.
        Assert.That(Arm64StubMatcher.Match(Page, Bytes(new uint[] { 0xA9BF7BFD, 0x910003FD, 0xD65F03C0 }, 7)), Is.Null);
        // Too few bytes for any stub.
        Assert.That(Arm64StubMatcher.Match(Page, Bytes(new uint[] { 0x5802000B })), Is.Null);
    }

    [Test]
    public void Our_own_literal_jump_and_CoreCLR_jump_stubs_are_jumps_not_precodes()
    {
        var seq = Arm64JumpEncoder.EncodeLiteral(Page, 0x0000_7FFF_1234_5670);
        var m = Arm64StubMatcher.Match(Page, seq.ToBytes().Concat(new byte[20]).ToArray())!;
        Assert.That(m.Kind, Is.EqualTo(Arm64StubKind.Jump));
        Assert.That(m.DirectTarget, Is.EqualTo(0x0000_7FFF_1234_5670UL));
        Assert.That(m.TargetSlot, Is.EqualTo(Page + 8));
        var b = Arm64StubMatcher.Match(Page, Bytes(new[] { Arm64Instructions.B(Page, Page - 0x100_0000) }, 8))!;
        Assert.That(b.Kind, Is.EqualTo(Arm64StubKind.Jump));
        Assert.That(b.DirectTarget, Is.EqualTo(Page - 0x100_0000));
    }

    // ------------------------------------------------------------------ Resolve

    private const ulong Body = 0x0000_FFFF_9000_1000;
    private const ulong Tier0Body = 0x0000_FFFF_9000_2000;
    private const ulong PreStub = 0x0000_FFFF_A000_0400;

    [Test]
    public void Resolve_follows_precode_then_call_counting_stub_to_the_body()
    {
        var mem = new FakeMemory();
        ulong entry = Page + 24;
        ulong counting = Page + 0x8000 + 40;
        mem.Code(entry, FixupPrecodeNet10);
        mem.Pointer(entry + 0x4000, counting);          // Target
        mem.Pointer(entry + 0x4008, 0x0000_FFFF_7000_0000); // MethodDesc
        mem.Pointer(entry + 0x4010, PreStub);            // PrecodeFixupThunk
        mem.Code(counting, CallCountingNet8);
        mem.Pointer(counting + 0x4008, Tier0Body);       // TargetForMethod
        mem.Code(Tier0Body, new uint[] { 0xA9BF7BFD, 0x910003FD });

        var r = Arm64StubMatcher.Resolve(entry, mem);
        Assert.That(r.Status, Is.EqualTo(Arm64ResolveStatus.Resolved));
        Assert.That(r.Body, Is.EqualTo(Tier0Body));
        Assert.That(r.StableEntryPoint, Is.EqualTo(entry));
        Assert.That(r.EntryTargetSlot, Is.EqualTo(entry + 0x4000));
        Assert.That(r.PreStub, Is.EqualTo(PreStub));
        Assert.That(r.Chain.Select(c => c.Kind), Is.EqualTo(new[] { Arm64StubKind.FixupPrecode, Arm64StubKind.CallCountingStub }));
    }

    [Test]
    public void Resolve_reports_an_unprepared_fixup_precode_instead_of_walking_into_the_prestub()
    {
        var mem = new FakeMemory();
        ulong entry = Page;
        mem.Code(entry, FixupPrecodeNet8);
        mem.Pointer(entry + 0x4000, entry + 8);          // FixupCodeOffset: not yet prepared
        mem.Pointer(entry + 0x4010, PreStub);
        var r = Arm64StubMatcher.Resolve(entry, mem);
        Assert.That(r.Status, Is.EqualTo(Arm64ResolveStatus.NotPrepared));
        Assert.That(r.Body, Is.Null);
        Assert.That(r.PreStub, Is.EqualTo(PreStub));
    }

    [Test]
    public void Resolve_through_stub_precode_and_our_own_jump()
    {
        var mem = new FakeMemory();
        ulong entry = Page + 0x30;
        ulong jump = Body; // a body we already redirected with a B to its replacement
        ulong replacement = Body + 0x10_0000;
        mem.Code(entry, StubPrecodeNet10);
        mem.Pointer(entry + 0x4008, jump);
        mem.Code(jump, new[] { Arm64Instructions.B(jump, replacement) });
        mem.Code(replacement, new uint[] { 0xA9BF7BFD });
        var r = Arm64StubMatcher.Resolve(entry, mem);
        Assert.That(r.Status, Is.EqualTo(Arm64ResolveStatus.Resolved));
        Assert.That(r.Body, Is.EqualTo(replacement));
        Assert.That(r.Chain.Select(c => c.Kind), Is.EqualTo(new[] { Arm64StubKind.StubPrecode, Arm64StubKind.Jump }));

        mem.Pointer(entry + 0x4008, PreStub);
        r = Arm64StubMatcher.Resolve(entry, mem, knownPreStub: PreStub);
        Assert.That(r.Status, Is.EqualTo(Arm64ResolveStatus.NotPrepared));
    }

    [Test]
    public void Resolve_stops_on_unreadable_memory_and_on_loops()
    {
        var mem = new FakeMemory();
        ulong a = Page, b = Page + 0x100;
        mem.Code(a, new[] { Arm64Instructions.B(a, b) });
        mem.Code(b, new[] { Arm64Instructions.B(b, a) });
        Assert.That(Arm64StubMatcher.Resolve(a, mem).Status, Is.EqualTo(Arm64ResolveStatus.Unreadable));
        Assert.That(Arm64StubMatcher.Resolve(0x1000, mem).Status, Is.EqualTo(Arm64ResolveStatus.Unreadable));
    }

    private sealed class FakeMemory : IArm64MemoryReader
    {
        private readonly Dictionary<ulong, byte> _bytes = new();

        public void Code(ulong address, uint[] words)
        {
            // Real stubs are followed by more stubs (24- or 40-byte stride); pad so 40-byte reads succeed.
            var bytes = Arm64Instructions.ToBytes(words.Concat(Enumerable.Repeat(0xD43E0000u, 10)).ToArray());
            for (int i = 0; i < bytes.Length; i++)
                _bytes[address + (ulong)i] = bytes[i];
        }

        public void Pointer(ulong address, ulong value)
        {
            for (int i = 0; i < 8; i++)
                _bytes[address + (ulong)i] = (byte)(value >> (8 * i));
        }

        public bool TryRead(ulong address, byte[] buffer)
        {
            for (int i = 0; i < buffer.Length; i++)
            {
                if (!_bytes.TryGetValue(address + (ulong)i, out buffer[i]))
                    return false;
            }
            return true;
        }
    }
}
