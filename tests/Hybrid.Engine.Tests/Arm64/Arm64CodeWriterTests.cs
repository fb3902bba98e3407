using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using Hybrid.Arm64;
using NUnit.Framework;

namespace Hybrid.Tests.Arm64;

/// <summary>
/// The writer's ordering and its flush-after-every-write rule, checked on ordinary memory with recording doubles.
/// (qemu keeps instruction and data sides coherent, so a missing flush or a wrong order would never show there.)
/// </summary>
[TestFixture]
public unsafe class Arm64CodeWriterTests
{
    private const uint Stp = 0xA9BF7BFD;   // stp x29, x30, [sp, #-16]!  — a typical first instruction
    private const uint MovFp = 0x910003FD; // mov x29, sp
    private const int Size = 1 << 20;

    private nint _block;
    private ulong _entry;
    private List<string> _events = null!;
    private RecordingMemory _memory = null!;
    private CountingInstructionCacheFlusher _flusher = null!;
    private Arm64CodeWriter _writer = null!;

    [SetUp]
    public void SetUp()
    {
        _block = (nint)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(Size, 4096);
        new Span<byte>((void*)_block, Size).Clear();
        _entry = (ulong)_block + 0x1000;
        for (int i = 0; i < 8; i++)
            WordAt(_entry + (ulong)i * 4) = i % 2 == 0 ? Stp : MovFp;
        _events = new List<string>();
        _memory = new RecordingMemory(_events, _entry);
        _flusher = new CountingInstructionCacheFlusher();
        _flusher.OnFlush = (a, l) => _events.Add($"flush +{(ulong)a - _entry:x} {l} head={WordAt(_entry):x8}");
        _writer = new Arm64CodeWriter(_flusher, _memory);
    }

    [TearDown]
    public void TearDown() => System.Runtime.InteropServices.NativeMemory.AlignedFree((void*)_block);

    private static ref uint WordAt(ulong address) => ref *(uint*)address;

    [Test]
    public void Reachable_target_is_one_word_store_then_flush()
    {
        ulong target = _entry + 0x8000;
        var patch = _writer.WriteJump(_entry, target);
        Assert.That(patch.EntrySequence.Form, Is.EqualTo(Arm64JumpForm.Branch));
        Assert.That(WordAt(_entry), Is.EqualTo(Arm64Instructions.B(_entry, target)));
        Assert.That(WordAt(_entry + 4), Is.EqualTo(MovFp), "nothing after the first word may change");
        Assert.That(_events, Is.EqualTo(new[] { "begin +0 4", "end +0 4", $"flush +0 4 head={WordAt(_entry):x8}" }));
        Assert.That(patch.OriginalBytes, Is.EqualTo(BitConverter.GetBytes(Stp)));
        Assert.That(patch.Safety, Is.EqualTo(Arm64PatchSafety.SingleWordStore), "stp -> B is outside the B2.2.5 list");
    }

    [Test]
    public void Absolute_jump_in_place_writes_and_flushes_the_tail_before_the_head()
    {
        ulong target = 0x1234_5678_9ABC_DEF0UL;
        var patch = _writer.WriteJump(_entry, target, Arm64JumpForms.Absolute);
        Assert.That(patch.EntrySequence.Form, Is.EqualTo(Arm64JumpForm.LiteralLoad));
        string oldHead = Stp.ToString("x8");
        string newHead = patch.EntrySequence.Words[0].ToString("x8");
        Assert.That(_events, Is.EqualTo(new[]
        {
            "begin +4 12", "end +4 12", $"flush +4 12 head={oldHead}", // tail visible to fetch while the head is still the original
            "begin +0 4", "end +0 4", $"flush +0 4 head={newHead}",
        }));
        var bytes = new byte[16];
        Marshal.Copy((nint)_entry, bytes, 0, 16);
        Assert.That(bytes, Is.EqualTo(patch.EntrySequence.ToBytes()));
        Assert.That(patch.Safety, Is.EqualTo(Arm64PatchSafety.MultiWordInPlace));
        Assert.That(patch.OriginalBytes.Length, Is.EqualTo(16));
    }

    [Test]
    public void Island_is_complete_and_flushed_before_the_single_entry_word_changes()
    {
        ulong island = _entry + 0x4_0000;
        ulong target = 0x0000_7FFF_F7A0_1230UL;
        var patch = _writer.WriteJumpViaIsland(_entry, island, target);
        Assert.That(patch.Island!.To, Is.EqualTo(target));
        Assert.That(_events[0], Is.EqualTo($"begin +40000 {patch.Island.Length}"));
        Assert.That(_events[2], Is.EqualTo($"flush +40000 {patch.Island.Length} head={Stp:x8}"));
        Assert.That(_events.Skip(3), Is.EqualTo(new[] { "begin +0 4", "end +0 4", $"flush +0 4 head={Arm64Instructions.B(_entry, island):x8}" }));
        Assert.That(WordAt(_entry + 4), Is.EqualTo(MovFp));
        Assert.That(Arm64JumpEncoder.TryDecode(island, Read(island, patch.Island.Length), out var decoded), Is.True);
        Assert.That(decoded!.Target, Is.EqualTo(target));
        Assert.That(patch.Safety, Is.EqualTo(Arm64PatchSafety.SingleWordStore));
    }

    [Test]
    public void Retargeting_our_own_B_is_architecturally_safe()
    {
        _writer.WriteJump(_entry, _entry + 0x100);
        var second = _writer.WriteJump(_entry, _entry + 0x200);
        Assert.That(second.Safety, Is.EqualTo(Arm64PatchSafety.Architectural), "B -> B is in the B2.2.5 list");
    }

    [Test]
    public void Literal_retarget_is_one_aligned_64_bit_data_store()
    {
        var patch = _writer.WriteJump(_entry, 0x1234_5678_9ABC_DEF0UL, Arm64JumpForms.LiteralLoad);
        int flushes = _flusher.Count;
        _events.Clear();
        _writer.RetargetLiteral(_entry, 0x0000_7FFF_0000_1000UL);
        Assert.That(Arm64JumpEncoder.TryDecode(_entry, Read(_entry, 16), out var decoded), Is.True);
        Assert.That(decoded!.Target, Is.EqualTo(0x0000_7FFF_0000_1000UL));
        Assert.That(_events, Is.EqualTo(new[] { "begin +8 8", "end +8 8" }));
        // Data, not instructions: the LDR reads the literal through the coherent data side, so no I-cache maintenance.
        Assert.That(_flusher.Count, Is.EqualTo(flushes));
        Assert.That(patch.EntrySequence.LiteralOffset, Is.EqualTo(8));
    }

    [Test]
    public void Restore_puts_the_original_bytes_back_head_first_and_flushes()
    {
        var before = Read(_entry, 32);
        var patch = _writer.WriteJump(_entry, 0x1234_5678_9ABC_DEF0UL, Arm64JumpForms.Absolute);
        _events.Clear();
        _writer.Restore(patch);
        Assert.That(Read(_entry, 32), Is.EqualTo(before));
        Assert.That(_events[0], Is.EqualTo("begin +0 4"));
        Assert.That(_events[2], Is.EqualTo($"flush +0 4 head={Stp:x8}"));
        Assert.That(_events[5], Does.StartWith("flush +4 12"));
    }

    [Test]
    public void A_first_word_changed_behind_our_back_is_not_overwritten()
    {
        _memory.OnBegin = (address, length) =>
        {
            if ((ulong)address == _entry && length == 4)
                WordAt(_entry) = Arm64Instructions.Nop; // another writer got there between our read and our store
        };
        Assert.Throws<InvalidOperationException>(() => _writer.WriteJump(_entry, _entry + 0x100));
        Assert.That(WordAt(_entry), Is.EqualTo(Arm64Instructions.Nop));
    }

    [Test]
    public void Every_byte_written_is_flushed_before_the_writer_returns()
    {
        var rng = new Random(12345);
        for (int i = 0; i < 200; i++)
        {
            _memory.Written.Clear();
            _flusher = new CountingInstructionCacheFlusher();
            _writer = new Arm64CodeWriter(_flusher, _memory);
            ulong entry = (ulong)_block + 0x1000 + (ulong)rng.Next(0, 0x1000) * 4;
            ulong target = rng.Next(3) switch
            {
                0 => entry + (ulong)rng.Next(-0x4000, 0x4000) * 4,
                1 => (ulong)rng.NextInt64(0, 1L << 47) & ~3UL,
                _ => (ulong)rng.NextInt64() & ~3UL,
            };
            if (rng.Next(2) == 0)
                _writer.WriteJump(entry, target);
            else
                _writer.WriteJumpViaIsland(entry, (ulong)_block + 0x8_0000 + (ulong)rng.Next(0, 0x100) * 32, target);
            Assert.That(_memory.Written, Is.Not.Empty);
            foreach (var (address, length) in _memory.Written)
                Assert.That(_flusher.Covers(address, length), Is.True, $"write at 0x{address:x} (+{length}) was not flushed");
        }
    }

    [TestCase(0x14000000u, true)]  // b .
    [TestCase(0x97FFFFFFu, true)]  // bl .-4
    [TestCase(0xD503201Fu, true)]  // nop
    [TestCase(0xD43E0000u, true)]  // brk #0xf000
    [TestCase(0xD5033FDFu, true)]  // isb
    [TestCase(0xD4000001u, true)]  // svc #0
    [TestCase(0xD4000002u, true)]  // hvc #0
    [TestCase(0xD4000003u, true)]  // smc #0
    [TestCase(0xA9BF7BFDu, false)] // stp x29, x30, [sp, #-16]!
    [TestCase(0x58000050u, false)] // ldr x16, .+8
    [TestCase(0xD61F0200u, false)] // br x16
    [TestCase(0xD503233Fu, false)] // paciasp (a hint, but not NOP)
    [TestCase(0x54000000u, false)] // b.eq . (conditional branches are not in the list)
    public void B2_2_5_list_is_exactly_B_BL_BRK_HVC_ISB_NOP_SMC_SVC(uint word, bool listed)
    {
        var line = Objdump.Disassemble(BitConverter.GetBytes(word), 0x1000).Single();
        TestContext.Out.WriteLine(line.ToString());
        Assert.That(Arm64CodeWriter.IsCmodxSafe(word), Is.EqualTo(listed), line.ToString());
        Assert.That(line.Mnemonic, Is.AnyOf("b", "bl", "nop", "brk", "isb", "svc", "hvc", "smc", "stp", "ldr", "br", "paciasp", "b.eq"));
    }

    private static byte[] Read(ulong address, int count)
    {
        var b = new byte[count];
        Marshal.Copy((nint)address, b, 0, count);
        return b;
    }

    private sealed class RecordingMemory : IArm64CodeMemory
    {
        private readonly List<string> _events;
        private readonly ulong _entry;

        public RecordingMemory(List<string> events, ulong entry)
        {
            _events = events;
            _entry = entry;
        }

        public Action<nint, int>? OnBegin { get; set; }

        public List<(nint Address, int Length)> Written { get; } = new();

        public nint BeginWrite(nint address, int length)
        {
            _events.Add($"begin {Describe(address)} {length}");
            Written.Add((address, length));
            OnBegin?.Invoke(address, length);
            return address;
        }

        public void EndWrite(nint address, int length) => _events.Add($"end {Describe(address)} {length}");

        private string Describe(nint address) => $"+{(ulong)address - _entry:x}";
    }
}
