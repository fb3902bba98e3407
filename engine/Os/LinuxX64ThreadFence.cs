using Hybrid.Compat;
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Hybrid.Os;

/// <summary>
/// Writes an entry jump while every other running thread of the process is parked in a signal handler, and moves
/// any thread that was stopped between the instructions being overwritten to the same instruction in the trampoline.
/// <para>
/// Why: the jump replaces several instructions (tier-0 code starts with the 1-byte <c>push rbp</c>). A thread that
/// was preempted right after <c>push rbp</c> resumes at offset 1 — which, after the write, is the middle of our jump.
/// With 8 threads calling a method on 2 cores, that happens within milliseconds (seen here as a crash in the
/// install/dispose stress test). This is what Detours does with SuspendThread/SetThreadContext; on Linux the only
/// way to stop and inspect a thread of one's own process is a signal.
/// </para>
/// <para>
/// The whole sequence — signal, wait for arrivals, make the page writable, store, restore the protection, release —
/// runs in one machine-code routine with raw system calls: while other threads are parked at arbitrary points (maybe
/// holding runtime or libc locks) no managed code, allocation, lock or P/Invoke stub may run. Only threads that the
/// kernel reports as running or runnable (state R) or in uninterruptible wait (D) are signalled: a sleeping thread
/// (S) is inside a system call in native code, not between the instructions of a managed method.
/// </para>
/// </summary>
internal sealed unsafe class LinuxX64ThreadFence : IThreadFence
{
    public static readonly LinuxX64ThreadFence Instance = new();

    private LinuxX64ThreadFence()
    {
    }

    string? IThreadFence.UnavailableReason => UnavailableReason;

    // A thread stops only at an instruction boundary: one jmp, or the original's first instruction, holds none.
    bool IThreadFence.NeedsFence(int interiorBoundaries) => interiorBoundaries > 0;

    bool IThreadFence.TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error) =>
        TryWrite(address, bytes, fixups, original, out error);

    void IThreadFence.RemoveFixups((nint From, nint To)[] fixups) => RemoveFixups(fixups);

    FenceCounts IThreadFence.Counts =>
        new(s_fences, s_threadsSignalled, s_threadsParked, s_state == null ? 0 : Volatile.Read(ref *(long*)(s_state + Moved)));

    // Shared state, one page: counters read by the handler and the routine, then the fixup table.
    private const int Generation = 0, Arrived = 8, Departed = 16, Released = 24, Table = 32, Timeout = 40, Moved = 56;
    // Fixup tables are published copy-on-write into a ring, so the routine never waits for parked threads to finish
    // reading one (waiting for them to be scheduled again cost ~20 ms a fence with 8 busy threads on 2 cores).
    // A table that outgrows its slot moves to a new, larger ring; the old ring stays mapped, since a thread parked
    // just before the switch may still be reading it (a few pages, at most doubling each time).
    private const int TableRing = 16;
    private static int s_tableBytes = 4096;
    // ucontext_t on x86-64 Linux: uc_flags(8) uc_link(8) uc_stack(24), then mcontext gregs[23]; REG_RIP is gregs[16].
    private const int UcontextRip = 40 + 16 * 8;
    private const int SysFutex = 202, SysMprotect = 10, SysTgkill = 234;
    private const int FutexWait = 0 | 128, FutexWake = 1 | 128; // FUTEX_PRIVATE_FLAG: the words are in this process only

    [StructLayout(LayoutKind.Sequential)]
    private struct Arguments
    {
        public long Tgid, Signal, TidCount;
        public long* Tids;
        public long WriteCount;
        public long* Writes; // (aligned address, value) pairs
        public long ProtectStart, ProtectLength, ProtectDuring, ProtectAfter;
        public long WaitLimit; // futex waits of 1 ms each
        public long OutArrived, OutSent, OutProtectResult;
    }

    private static readonly object s_gate = new();
    private static byte* s_state;
    private static delegate* unmanaged[Cdecl]<Arguments*, void> s_routine;
    private static int s_signal;
    private static string? s_unavailable;
    private static bool s_initialized;

    // Writes that went through the fence, and the threads signalled and parked for them (Counts; the handler counts moves).
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
    /// Stores <paramref name="bytes"/> at <paramref name="address"/> with other threads parked. The bytes must lie in
    /// at most two aligned 8-byte words. Returns false when the page could not be made writable (errno in <paramref name="error"/>).
    /// </summary>
    public static bool TryWrite(nint address, ReadOnlySpan<byte> bytes, (nint From, nint To)[] fixups, PageAccess original, out int error)
    {
        lock (s_gate)
        {
            Initialize();
            if (s_unavailable is not null)
                throw new InvalidOperationException(s_unavailable);

            var wordAddresses = stackalloc nint[2];
            var wordValues = stackalloc long[2];
            int words = ThreadFence.PatchWords(address, bytes, wordAddresses, wordValues);
            nint first = wordAddresses[0], last = wordAddresses[words - 1];
            var writes = stackalloc long[4]; // (aligned address, value) pairs, as the routine reads them
            for (int w = 0; w < words; w++)
            {
                writes[2 * w] = wordAddresses[w];
                writes[2 * w + 1] = wordValues[w];
            }

            AddFixups(fixups);
            var tids = LinuxThreads.Running();
            fixed (long* tidPointer = tids)
            {
                var memory = Platform.Memory;
                bool writable = (original & PageAccess.Write) != 0;
                nint pageStart = memory.PageStart(first);
                var args = new Arguments
                {
                    Tgid = Host.ProcessId,
                    Signal = s_signal,
                    TidCount = tids.Length,
                    Tids = tidPointer,
                    WriteCount = words,
                    Writes = writes,
                    ProtectStart = writable ? 0 : pageStart,
                    ProtectLength = writable ? 0 : memory.PageStart(last + 7) + memory.PageSize - pageStart,
                    ProtectDuring = 7, // PROT_READ|PROT_WRITE|PROT_EXEC: parked threads are parked, but unsignalled ones may run here
                    ProtectAfter = LinuxThreads.ToProt(original),
                    WaitLimit = 500,
                };
                s_routine(&args);
                s_fences++;
                s_threadsParked += args.OutArrived;
                s_threadsSignalled += args.OutSent;
                error = args.OutProtectResult < 0 ? (int)-args.OutProtectResult : 0;
                if (error != 0)
                    RemoveFixups(fixups);
                return error == 0;
            }
        }
    }

    private static readonly List<(nint From, nint To)> s_fixups = new();
    private static byte* s_tables;
    private static int s_nextTable;

    /// <summary>Called once the jump is gone again: no thread can stop inside a single jmp instruction.</summary>
    public static void RemoveFixups((nint From, nint To)[] fixups)
    {
        lock (s_gate)
        {
            if (s_state == null)
                return;
            foreach (var pair in fixups)
                s_fixups.Remove(pair);
            PublishFixups();
        }
    }

    private static void AddFixups((nint From, nint To)[] fixups)
    {
        EnsureTableRoom(s_fixups.Count + fixups.Length);
        s_fixups.AddRange(fixups);
        PublishFixups();
    }

    private static void EnsureTableRoom(int pairs)
    {
        long needed = (1 + 2L * pairs) * sizeof(long);
        if (needed <= s_tableBytes)
            return;
        long bytes = s_tableBytes;
        while (bytes < needed)
            bytes *= 2;
        nint ring = Platform.Memory.Allocate((nint)(bytes * TableRing));
        if (ring == 0)
            throw new NotSupportedException($"No memory for the thread fence's table of {pairs} covered instruction boundaries (errno {Marshal.GetLastWin32Error()}).");
        s_tables = (byte*)ring;
        s_tableBytes = (int)bytes;
        s_nextTable = 0;
    }

    /// <summary>Table layout: count, then (from, to) pairs. Written into the next ring slot, then published.</summary>
    private static void PublishFixups()
    {
        var table = (long*)(s_tables + (long)(s_nextTable++ % TableRing) * s_tableBytes);
        table[0] = s_fixups.Count;
        for (int i = 0; i < s_fixups.Count; i++)
        {
            table[1 + 2 * i] = s_fixups[i].From;
            table[2 + 2 * i] = s_fixups[i].To;
        }
        Volatile.Write(ref *(long*)(s_state + Table), (long)table);
    }


    private static void Initialize()
    {
        if (s_initialized)
            return;
        s_initialized = true; // Platform chooses this fence on x64 Linux only
        s_unavailable = LinuxThreads.SetUpFence((at, state) => Assemble(BuildHandler(state), at), (at, state) => Assemble(BuildRoutine(state), at), Timeout,
            out s_signal, out s_state, out nint routine);
        if (s_unavailable is not null)
            return;
        // The handler reads the fixup table, but it runs only for the routine's signal, which nothing sends before
        // this setup has finished.
        s_tables = (byte*)Platform.Memory.Allocate(s_tableBytes * TableRing);
        if (s_tables == null)
        {
            s_unavailable = "could not allocate the thread fence's tables";
            return;
        }
        PublishFixups();
        s_routine = (delegate* unmanaged[Cdecl]<Arguments*, void>)routine;
    }

    /// <summary>futex(addr, op, value, timeout): the parked threads and the routine sleep instead of spinning, so
    /// on a busy machine the CPU goes to the threads that still have to arrive.</summary>
    private static void Futex(Assembler a, AssemblerRegister64 stateRegister, int field, int op, bool valueInEdx, bool withTimeout)
    {
        a.lea(rdi, __qword_ptr[stateRegister + field]);
        a.mov(esi, op);
        if (!valueInEdx)
            a.mov(edx, int.MaxValue);
        if (withTimeout)
            a.lea(r10, __qword_ptr[stateRegister + Timeout]);
        else
            a.xor(r10d, r10d);
        a.mov(eax, SysFutex);
        a.syscall(); // clobbers rcx and r11
    }

    /// <summary>
    /// handler(sig, info, ucontext): count in, sleep until the routine releases this generation, move RIP if it sits
    /// on an overwritten instruction boundary, count out. The kernel restores every register on return.
    /// </summary>
    private static Assembler BuildHandler(ulong state)
    {
        var a = new Assembler(64);
        var spin = a.CreateLabel();
        var go = a.CreateLabel();
        var scan = a.CreateLabel();
        var next = a.CreateLabel();
        var done = a.CreateLabel();
        a.mov(rbx, rdx); // ucontext; rbx survives system calls
        a.mov(r12, state);
        a.mov(r13d, __dword_ptr[r12 + Generation]);
        a.@lock.inc(__dword_ptr[r12 + Arrived]);
        Futex(a, r12, Arrived, FutexWake, valueInEdx: false, withTimeout: false);
        a.Label(ref spin);
        a.mov(edx, __dword_ptr[r12 + Released]);
        a.cmp(edx, r13d);
        a.jae(go);
        Futex(a, r12, Released, FutexWait, valueInEdx: true, withTimeout: false);
        a.jmp(spin);
        a.Label(ref go);
        a.mov(rax, __qword_ptr[rbx + UcontextRip]);
        a.mov(r9, __qword_ptr[r12 + Table]);
        a.mov(rcx, __qword_ptr[r9]);
        a.add(r9, 8);
        a.Label(ref scan);
        a.test(rcx, rcx);
        a.jz(done);
        a.cmp(rax, __qword_ptr[r9]);
        a.jne(next);
        a.mov(rax, __qword_ptr[r9 + 8]);
        a.mov(__qword_ptr[rbx + UcontextRip], rax);
        a.@lock.inc(__qword_ptr[r12 + Moved]);
        a.jmp(done);
        a.Label(ref next);
        a.add(r9, 16);
        a.dec(rcx);
        a.jmp(scan);
        a.Label(ref done);
        a.@lock.inc(__dword_ptr[r12 + Departed]);
        a.ret();
        return a;
    }

    /// <summary>routine(Arguments*): the signal → wait → protect → store → protect → release sequence.</summary>
    private static Assembler BuildRoutine(ulong state)
    {
        const int tgid = 0, signal = 8, tidCount = 16, tids = 24, writeCount = 32, writes = 40,
            protectStart = 48, protectLength = 56, protectDuring = 64, protectAfter = 72, waitLimit = 80,
            outArrived = 88, outSent = 96, outProtect = 104;
        var a = new Assembler(64);
        var sendLoop = a.CreateLabel();
        var sent = a.CreateLabel();
        var skip = a.CreateLabel();
        var waitLoop = a.CreateLabel();
        var arrived = a.CreateLabel();
        var noProtect = a.CreateLabel();
        var writeLoop = a.CreateLabel();
        var written = a.CreateLabel();
        var release = a.CreateLabel();
        a.push(rbx);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.push(rbp);
        a.sub(rsp, 8);
        a.mov(rbx, rdi);
        a.mov(r12, state);
        a.@lock.inc(__dword_ptr[r12 + Generation]);
        a.mov(r13d, __dword_ptr[r12 + Generation]);
        a.mov(r14d, __dword_ptr[r12 + Arrived]); // arrivals are counted from here
        a.xor(r15d, r15d); // threads actually signalled
        a.xor(ebp, ebp);
        a.Label(ref sendLoop);
        a.cmp(rbp, __qword_ptr[rbx + tidCount]);
        a.jae(sent);
        a.mov(rax, __qword_ptr[rbx + tids]);
        a.mov(rsi, __qword_ptr[rax + rbp * 8]);
        a.mov(rdi, __qword_ptr[rbx + tgid]);
        a.mov(rdx, __qword_ptr[rbx + signal]);
        a.mov(eax, SysTgkill);
        a.syscall();
        a.test(rax, rax);
        a.jnz(skip); // ESRCH: the thread is gone
        a.inc(r15d);
        a.Label(ref skip);
        a.inc(rbp);
        a.jmp(sendLoop);
        a.Label(ref sent);
        a.mov(__qword_ptr[rbx + outSent], r15);
        a.mov(rbp, __qword_ptr[rbx + waitLimit]);
        a.Label(ref waitLoop);
        a.mov(edx, __dword_ptr[r12 + Arrived]);
        a.mov(eax, edx);
        a.sub(eax, r14d);
        a.cmp(eax, r15d);
        a.jae(arrived);
        Futex(a, r12, Arrived, FutexWait, valueInEdx: true, withTimeout: true);
        a.dec(rbp);
        a.jnz(waitLoop);
        a.Label(ref arrived);
        a.mov(eax, __dword_ptr[r12 + Arrived]);
        a.sub(eax, r14d);
        a.mov(__qword_ptr[rbx + outArrived], rax);
        a.mov(__qword_ptr[rbx + outProtect], 0);
        a.cmp(__qword_ptr[rbx + protectLength], 0);
        a.je(noProtect);
        a.mov(rdi, __qword_ptr[rbx + protectStart]);
        a.mov(rsi, __qword_ptr[rbx + protectLength]);
        a.mov(rdx, __qword_ptr[rbx + protectDuring]);
        a.mov(eax, SysMprotect);
        a.syscall();
        a.mov(__qword_ptr[rbx + outProtect], rax);
        a.test(rax, rax);
        a.jnz(release); // refused (W^X): write nothing
        a.Label(ref noProtect);
        a.xor(ecx, ecx);
        a.mov(rsi, __qword_ptr[rbx + writes]);
        a.Label(ref writeLoop);
        a.cmp(rcx, __qword_ptr[rbx + writeCount]);
        a.jae(written);
        a.mov(rdi, __qword_ptr[rsi]);
        a.mov(rax, __qword_ptr[rsi + 8]);
        a.xchg(__qword_ptr[rdi], rax);
        a.add(rsi, 16);
        a.inc(rcx);
        a.jmp(writeLoop);
        a.Label(ref written);
        a.cmp(__qword_ptr[rbx + protectLength], 0);
        a.je(release);
        a.mov(rdi, __qword_ptr[rbx + protectStart]);
        a.mov(rsi, __qword_ptr[rbx + protectLength]);
        a.mov(rdx, __qword_ptr[rbx + protectAfter]);
        a.mov(eax, SysMprotect);
        a.syscall();
        a.Label(ref release);
        a.mov(__dword_ptr[r12 + Released], r13d);
        Futex(a, r12, Released, FutexWake, valueInEdx: false, withTimeout: false);
        a.add(rsp, 8);
        a.pop(rbp);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbx);
        a.ret();
        return a;
    }

    private static byte[] Assemble(Assembler assembler, ulong ip)
    {
        var stream = new MemoryStream();
        assembler.Assemble(new StreamCodeWriter(stream), ip);
        return stream.ToArray();
    }
}
