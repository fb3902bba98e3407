using System;
using System.Runtime.InteropServices;
using System.Threading;
using Hybrid.Arm64;
using static Hybrid.Arm64.Arm64Instructions;

namespace Hybrid.Os;

/// <summary>
/// Changes a method's first instruction word while every other running thread of the process is parked in a signal
/// handler — on arm64 Linux, for both directions of every entry patch (the first <c>B stub</c> over the method's own
/// first instruction, and that instruction coming back).
/// <para>
/// Why, although the patch is one aligned word written with one store: the Arm ARM (B2.2.5, "Concurrent modification
/// and execution of instructions") guarantees a thread that executes an instruction while another thread changes it
/// the old or the new instruction only when both are one of B, BL, BRK, HVC, ISB, NOP, SMC, SVC. A method's first
/// instruction is typically <c>stp x29, x30, [sp, #-N]!</c>; any other change is CONSTRAINED UNPREDICTABLE for such a
/// thread. With every thread that could be fetching the word parked, no execution is concurrent with the change: the
/// routine stores the word and does the cache maintenance of B2.4.4 (DC CVAU, DSB ISH, IC IVAU, DSB ISH) before it
/// releases them, and each parked thread leaves its handler through an exception return, which is context
/// synchronizing, so it fetches the new word. A thread that was not signalled is asleep in a system call (state S)
/// and likewise returns to user code through an exception return.
/// </para>
/// <para>
/// As in <see cref="LinuxX64ThreadFence"/> (which thread states are read, and why no managed code may run while threads
/// are parked), the whole sequence — signal, wait for arrivals, make the page writable, compare and store, maintain the
/// caches, restore the protection, release — is one machine-code routine with raw system calls (arm64 Linux: futex 98,
/// tgkill 131, mprotect 226). Nothing needs moving: the patch holds no instruction boundary a thread could stop inside.
/// </para>
/// </summary>
internal sealed unsafe class LinuxArm64ThreadFence : IThreadFence
{
    public static readonly LinuxArm64ThreadFence Instance = new();

    private LinuxArm64ThreadFence()
    {
    }

    string? IThreadFence.UnavailableReason => UnavailableReason;

    // Every change of an instruction another thread may be executing, B2.2.5: also the restore, with no fixups.
    bool IThreadFence.NeedsFence(int interiorBoundaries) => true;

    bool IThreadFence.TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        TryWrite(address, bytes, original, out error);

    void IThreadFence.RemoveFixups((nint From, nint To)[] fixups)
    {
        // One word: there is no instruction boundary inside the patch, so no table of them.
    }

    FenceCounts IThreadFence.Counts => new(s_fences, s_threadsSignalled, s_threadsParked, 0);

    // The shared page: generation of the fence in progress, arrivals (counted by the handler), the generation released,
    // and the futex timeout of the routine's waits (struct timespec { 0 s, 1 ms }).
    internal const int Generation = 0, Arrived = 8, Released = 16, Timeout = 24;
    private const int SysFutex = 98, SysTgkill = 131, SysMprotect = 226;
    private const int FutexWait = 0 | 128, FutexWake = 1 | 128; // FUTEX_PRIVATE_FLAG: the words are in this process only
    private const int Hs = 2, Ne = 1; // condition codes: unsigned higher or same, not equal

    [StructLayout(LayoutKind.Sequential)]
    internal struct Arguments
    {
        public long Tgid, Signal, TidCount;
        public long* Tids;
        public long Address, Expected, Value; // the aligned instruction word, what it must hold, what it gets
        public long ProtectStart, ProtectLength, ProtectDuring, ProtectAfter;
        public long WaitLimit; // futex waits of 1 ms each
        public long OutArrived, OutSent, OutProtectResult, OutFound;
    }

    // Offsets of Arguments' fields, as the routine reads them.
    internal const int ArgTgid = 0, ArgSignal = 8, ArgTidCount = 16, ArgTids = 24, ArgAddress = 32, ArgExpected = 40, ArgValue = 48,
        ArgProtectStart = 56, ArgProtectLength = 64, ArgProtectDuring = 72, ArgProtectAfter = 80, ArgWaitLimit = 88,
        ArgOutArrived = 96, ArgOutSent = 104, ArgOutProtect = 112, ArgOutFound = 120;

    private static readonly object s_gate = new();
    private static byte* s_state;
    private static delegate* unmanaged[Cdecl]<Arguments*, void> s_routine;
    private static int s_signal;
    private static string? s_unavailable;
    private static bool s_initialized;

    // Writes that went through the fence, and the threads signalled and parked for them (Counts).
    private static long s_fences, s_threadsParked, s_threadsSignalled;

    public static string? UnavailableReason
    {
        get
        {
            lock (s_gate)
            {
                Initialize();
                return s_unavailable;
            }
        }
    }

    /// <summary>
    /// Replaces the aligned instruction word at <paramref name="address"/> with <paramref name="bytes"/> (4 bytes) with
    /// other threads parked, if it still holds what it held when read here. False when the page could not be made
    /// writable (errno in <paramref name="error"/>).
    /// </summary>
    public static bool TryWrite(nint address, ReadOnlySpan<byte> bytes, PageAccess original, out int error)
    {
        if (bytes.Length != 4 || (address & 3) != 0)
            throw new InvalidOperationException($"arm64 code writes change one aligned instruction word; got {bytes.Length} byte(s) at 0x{address:x}.");
        lock (s_gate)
        {
            Initialize();
            if (s_unavailable is not null)
                throw new InvalidOperationException(s_unavailable);
            uint expected = Volatile.Read(ref *(uint*)address);
            uint value = (uint)(bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24);
            var tids = LinuxThreads.Running();
            var memory = Platform.Memory;
            bool writable = (original & PageAccess.Write) != 0;
            fixed (long* tidPointer = tids)
            {
                var args = new Arguments
                {
                    Tgid = Compat.Host.ProcessId,
                    Signal = s_signal,
                    TidCount = tids.Length,
                    Tids = tidPointer,
                    Address = address,
                    Expected = expected,
                    Value = value,
                    ProtectStart = writable ? 0 : memory.PageStart(address),
                    ProtectLength = writable ? 0 : memory.PageSize,
                    ProtectDuring = 7, // PROT_READ|PROT_WRITE|PROT_EXEC: threads that were not signalled may run on this page
                    ProtectAfter = LinuxThreads.ToProt(original),
                    WaitLimit = 500,
                };
                s_routine(&args);
                s_fences++;
                s_threadsParked += args.OutArrived;
                s_threadsSignalled += args.OutSent;
                error = args.OutProtectResult < 0 ? (int)-args.OutProtectResult : 0;
                if (error != 0)
                    return false;
                if ((uint)args.OutFound != expected)
                    throw Arm64CodeWriter.FirstWordChanged((ulong)address, expected, (uint)args.OutFound);
                return true;
            }
        }
    }

    private static void Initialize()
    {
        if (s_initialized)
            return;
        s_initialized = true; // Platform chooses this fence on arm64 Linux only
        s_unavailable = LinuxThreads.SetUpFence(BuildHandler, BuildRoutine, Timeout, out s_signal, out s_state, out nint routine);
        if (s_unavailable is not null)
            return;
        s_routine = (delegate* unmanaged[Cdecl]<Arguments*, void>)routine;
    }

    /// <summary>
    /// handler(sig, info, ucontext) at <paramref name="at"/>: count in, wake the routine, sleep until it releases this
    /// generation, return. Only x0–x3 and x8–x13 are used (caller-saved, AAPCS64); the kernel restores the interrupted
    /// thread's registers on return.
    /// </summary>
    internal static byte[] BuildHandler(ulong at, ulong state)
    {
        var e = new Arm64Emitter(at);
        e.EmitLiteralLoad(9, state);
        e.Emit(LdarW(10, 9));                           // the generation this signal belongs to
        e.Emit(AddImm(11, 9, Arrived));
        e.Label("count");
        e.Emit(LdaxrW(12, 11));
        e.Emit(AddImmW(12, 12, 1));
        e.Emit(StlxrW(13, 12, 11));
        e.Branch("count", (from, to) => CompareBranch(true, false, 13, from, to));
        Futex(e, 11, FutexWake, valueInX2: false);
        e.Emit(AddImm(11, 9, Released));
        e.Label("wait");
        e.Emit(LdarW(2, 11));
        e.Emit(CmpRegW(2, 10));
        e.Branch("go", (from, to) => BCond(Hs, from, to));
        Futex(e, 11, FutexWait, valueInX2: true);
        e.Branch("wait", B);
        e.Label("go");
        e.Emit(Ret);
        return e.Finish();
    }

    /// <summary>routine(Arguments*) at <paramref name="at"/>: signal → wait → protect → compare and store → DC/IC → protect → release.</summary>
    internal static byte[] BuildRoutine(ulong at, ulong state)
    {
        var e = new Arm64Emitter(at);
        e.Emit(MovReg(10, 0));                          // x10: the arguments
        e.EmitLiteralLoad(9, state);                    // x9: the shared page
        e.Label("generation");
        e.Emit(LdaxrW(11, 9));
        e.Emit(AddImmW(11, 11, 1));
        e.Emit(StlxrW(15, 11, 9));
        e.Branch("generation", (from, to) => CompareBranch(true, false, 15, from, to)); // w11: this generation
        e.Emit(AddImm(16, 9, Arrived));
        e.Emit(LdarW(12, 16));                          // arrivals are counted from here
        e.Emit(MovWide(Arm64MoveKind.MovZ, 13, 0, 0));  // threads signalled
        e.Emit(MovWide(Arm64MoveKind.MovZ, 14, 0, 0));
        e.Label("send");
        e.Emit(LdrImm64(15, 10, ArgTidCount));
        e.Emit(CmpReg(14, 15));
        e.Branch("sent", (from, to) => BCond(Hs, from, to));
        e.Emit(LdrImm64(15, 10, ArgTids));
        e.Emit(LdrIndexed64(1, 15, 14));
        e.Emit(LdrImm64(0, 10, ArgTgid));
        e.Emit(LdrImm64(2, 10, ArgSignal));
        e.Emit(MovWide(Arm64MoveKind.MovZ, 8, SysTgkill, 0));
        e.Emit(Svc0);
        e.Branch("next", (from, to) => CompareBranch(true, true, 0, from, to)); // ESRCH: the thread is gone
        e.Emit(AddImm(13, 13, 1));
        e.Label("next");
        e.Emit(AddImm(14, 14, 1));
        e.Branch("send", B);
        e.Label("sent");
        e.Emit(StrImm64(13, 10, ArgOutSent));
        e.Emit(LdrImm64(14, 10, ArgWaitLimit));
        e.Label("wait");
        e.Emit(LdarW(2, 16));
        e.Emit(SubRegW(15, 2, 12));
        e.Emit(CmpRegW(15, 13));
        e.Branch("arrived", (from, to) => BCond(Hs, from, to));
        e.Emit(MovReg(0, 16));
        e.Emit(MovWide(Arm64MoveKind.MovZ, 1, FutexWait, 0));
        e.Emit(AddImm(3, 9, Timeout));
        e.Emit(MovWide(Arm64MoveKind.MovZ, 8, SysFutex, 0));
        e.Emit(Svc0);
        e.Emit(SubImm(14, 14, 1));
        e.Branch("wait", (from, to) => CompareBranch(true, true, 14, from, to));
        e.Label("arrived");
        e.Emit(LdarW(15, 16));
        e.Emit(SubRegW(15, 15, 12));
        e.Emit(StrImm64(15, 10, ArgOutArrived));
        e.Emit(StrImm64(31, 10, ArgOutProtect));       // str xzr
        e.Emit(LdrImm64(15, 10, ArgProtectLength));
        e.Branch("store", (from, to) => CompareBranch(false, true, 15, from, to));
        Mprotect(e, ArgProtectDuring);
        e.Emit(StrImm64(0, 10, ArgOutProtect));
        e.Branch("release", (from, to) => CompareBranch(true, true, 0, from, to)); // refused (W^X): write nothing
        e.Label("store");
        e.Emit(LdrImm64(16, 10, ArgAddress));
        e.Emit(LdrImm32(15, 16, 0));
        e.Emit(StrImm64(15, 10, ArgOutFound));
        e.Emit(LdrImm64(17, 10, ArgExpected));
        e.Emit(CmpRegW(15, 17));
        e.Branch("unprotect", (from, to) => BCond(Ne, from, to)); // changed behind our back: leave it
        e.Emit(LdrImm64(17, 10, ArgValue));
        e.Emit(StrImm32(17, 16, 0));
        e.Emit(DcCvau(16));
        e.Emit(DsbIsh);
        e.Emit(IcIvau(16));
        e.Emit(DsbIsh);
        e.Emit(Isb);
        e.Label("unprotect");
        e.Emit(LdrImm64(15, 10, ArgProtectLength));
        e.Branch("release", (from, to) => CompareBranch(false, true, 15, from, to));
        Mprotect(e, ArgProtectAfter);
        e.Label("release");
        e.Emit(AddImm(16, 9, Released));
        e.Emit(StlrW(11, 16));
        Futex(e, 16, FutexWake, valueInX2: false);
        e.Emit(Ret);
        return e.Finish();
    }

    /// <summary>futex(x<paramref name="word"/>, op, x2 or INT_MAX, no timeout).</summary>
    private static void Futex(Arm64Emitter e, int word, int op, bool valueInX2)
    {
        e.Emit(MovReg(0, word));
        e.Emit(MovWide(Arm64MoveKind.MovZ, 1, (ushort)op, 0));
        if (!valueInX2)
        {
            e.Emit(MovWide(Arm64MoveKind.MovZ, 2, 0xFFFF, 0));
            e.Emit(MovWide(Arm64MoveKind.MovK, 2, 0x7FFF, 1)); // INT_MAX: wake every waiter
        }
        e.Emit(MovWide(Arm64MoveKind.MovZ, 3, 0, 0));
        e.Emit(MovWide(Arm64MoveKind.MovZ, 8, SysFutex, 0));
        e.Emit(Svc0);
    }

    /// <summary>mprotect(ProtectStart, x15 = ProtectLength, the protection at <paramref name="protection"/>).</summary>
    private static void Mprotect(Arm64Emitter e, uint protection)
    {
        e.Emit(LdrImm64(0, 10, ArgProtectStart));
        e.Emit(MovReg(1, 15));
        e.Emit(LdrImm64(2, 10, protection));
        e.Emit(MovWide(Arm64MoveKind.MovZ, 8, SysMprotect, 0));
        e.Emit(Svc0);
    }
}
