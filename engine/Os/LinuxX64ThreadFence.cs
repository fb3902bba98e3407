using Hybrid.Compat;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Globalization;
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
            var tids = RunningThreads();
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
                    ProtectAfter = ToProt(original),
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

    // Kept open between fences: the task directory (rewound and listed again each time) and one stat file per thread
    // (read again with pread at offset 0, which makes procfs produce it anew). Opening and closing them for every fence
    // was two thirds of an install (~40 of ~70 µs with 7 threads).
    private static int s_taskDirectory = -1;
    private static readonly Dictionary<int, int> s_statFiles = new();

    /// <summary>
    /// Threads of this process in state R or D. Read with raw getdents64/pread calls into stack buffers: the managed
    /// file APIs cost ~30 µs a thread. Caller holds s_gate.
    /// </summary>
    private static long[] RunningThreads()
    {
        int self = gettid();
        var tids = new List<long>();
        var entries = stackalloc byte[8192];
        var path = stackalloc byte[64];
        var stat = stackalloc byte[512];
        if (s_taskDirectory < 0)
            s_taskDirectory = open("/proc/self/task", 0x10000 /* O_DIRECTORY */ | 0x80000 /* O_CLOEXEC */);
        if (s_taskDirectory < 0 || lseek(s_taskDirectory, 0, 0 /* SEEK_SET */) < 0)
            return Array.Empty<long>();
        var seen = new HashSet<int>();
        long listed;
        while ((listed = getdents64(s_taskDirectory, entries, 8192)) > 0)
        {
            for (long offset = 0; offset < listed;)
            {
                // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                ushort length = *(ushort*)(entries + offset + 16);
                byte* name = entries + offset + 19;
                offset += length;
                int tid = 0;
                for (byte* c = name; *c != 0; c++)
                    tid = *c is >= (byte)'0' and <= (byte)'9' ? tid * 10 + (*c - '0') : -1;
                if (tid <= 0 || tid == self)
                    continue;
                seen.Add(tid);
                long got = -1;
                if (s_statFiles.TryGetValue(tid, out int file))
                {
                    got = pread(file, stat, 511, 0);
                    if (got <= 0)
                    {
                        // The thread this file was opened for is gone and its tid came back with a new thread.
                        close(file);
                        s_statFiles.Remove(tid);
                    }
                }
                if (got <= 0)
                {
                    int n = 0;
                    foreach (char ch in "/proc/self/task/")
                        path[n++] = (byte)ch;
                    foreach (char ch in tid.ToString(CultureInfo.InvariantCulture))
                        path[n++] = (byte)ch;
                    foreach (char ch in "/stat")
                        path[n++] = (byte)ch;
                    path[n] = 0;
                    file = open(path, 0x80000 /* O_CLOEXEC */);
                    if (file < 0)
                        continue; // the thread exited
                    s_statFiles[tid] = file;
                    got = pread(file, stat, 511, 0);
                    if (got <= 0)
                        continue; // it exited since it was listed
                }
                // "tid (comm) S ...": comm may contain spaces and parentheses, so the state follows the last ')'.
                long lastParen = -1;
                for (long i = 0; i < got; i++)
                    if (stat[i] == (byte)')')
                        lastParen = i;
                char state = lastParen >= 0 && lastParen + 2 < got ? (char)stat[lastParen + 2] : 'R';
                if (state is 'R' or 'D')
                    tids.Add(tid);
            }
        }
        // Threads that exited: their files go.
        if (s_statFiles.Count > seen.Count)
        {
            foreach (var gone in s_statFiles.Keys.Where(t => !seen.Contains(t)).ToList())
            {
                close(s_statFiles[gone]);
                s_statFiles.Remove(gone);
            }
        }
        return tids.ToArray();
    }

    // The calls that read the threads' states keep this thread in cooperative mode (no GC transition), so no garbage
    // collection can run while the states are read. Otherwise a collection started by another thread can suspend a
    // caller of the method during the read. The caller then reads as sleeping (S), is not signalled, and is released
    // before the jump is written; once released, it can be preempted inside the instructions being overwritten.
    // The evidence:
    //   - In the full engine suite, where other threads allocate, the stress test crashed in CI: a caller resumed
    //     inside the jump.
    //   - A variant whose state reads could sleep in the kernel crashed 5 of 6 runs. With these reads in cooperative
    //     mode it crashed 0 of 3.
    // Each of these calls is short and does not block (procfs reads of this process's own threads).
#if NET
    [SuppressGCTransition]
#endif
    [DllImport("libc", EntryPoint = "lseek")]
    private static extern long lseek(int fd, long offset, int whence);

#if NET
    [SuppressGCTransition]
#endif
    [DllImport("libc", EntryPoint = "pread")]
    private static extern long pread(int fd, byte* buffer, long count, long offset);

#if NET
    [SuppressGCTransition]
#endif
    [DllImport("libc", EntryPoint = "open")]
    private static extern int open(byte* path, int flags);

    [DllImport("libc", EntryPoint = "open")]
    private static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);

#if NET
    [SuppressGCTransition]
#endif
    [DllImport("libc", EntryPoint = "close")]
    private static extern int close(int fd);

#if NET
    [SuppressGCTransition]
#endif
    [DllImport("libc", EntryPoint = "getdents64")]
    private static extern long getdents64(int fd, byte* buffer, long count);

#if NET
    [SuppressGCTransition]
#endif
    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int gettid();

    [DllImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static extern int sigaction(int signal, byte* action, byte* old);

    private static int ToProt(PageAccess access) =>
        ((access & PageAccess.Read) != 0 ? 1 : 0) | ((access & PageAccess.Write) != 0 ? 2 : 0) | ((access & PageAccess.Execute) != 0 ? 4 : 0);

    private static void Initialize()
    {
        if (s_initialized)
            return;
        s_initialized = true; // Platform chooses this fence on x64 Linux only
        // glibc's struct sigaction: handler(8), sa_mask(128), sa_flags(4)+pad(4), sa_restorer(8).
        var current = stackalloc byte[152];
        s_signal = 0;
        for (int candidate = 62; candidate >= 40; candidate--)
        {
            if (sigaction(candidate, null, current) == 0 && *(nint*)current == 0)
            {
                s_signal = candidate;
                break;
            }
        }
        if (s_signal == 0)
        {
            s_unavailable = "no free real-time signal for the thread fence";
            return;
        }
        var memory = Platform.Memory;
        nint state = memory.Allocate(4096);
        nint code = memory.Allocate(4096);
        if (state == 0 || code == 0)
        {
            s_unavailable = "could not allocate the thread fence's pages";
            return;
        }
        s_state = (byte*)state;
        s_tables = (byte*)memory.Allocate(s_tableBytes * TableRing);
        if (s_tables == null)
        {
            s_unavailable = "could not allocate the thread fence's tables";
            return;
        }
        PublishFixups();
        *(long*)(s_state + Timeout + 8) = 1_000_000; // struct timespec { 0 s, 1 ms }
        ulong handler = (ulong)code, routine = (ulong)code + 1024;
        var handlerBytes = Assemble(BuildHandler((ulong)state), handler);
        var routineBytes = Assemble(BuildRoutine((ulong)state), routine);
        handlerBytes.CopyTo(new Span<byte>((void*)code, 1024));
        routineBytes.CopyTo(new Span<byte>((void*)(code + 1024), 3072));
        if (!memory.TryProtect(code, 4096, PageAccess.ReadExecute, out int error))
        {
            s_unavailable = $"could not make the thread fence's code executable (errno {error})";
            return;
        }
        var action = stackalloc byte[152];
        new Span<byte>(action, 152).Clear();
        *(ulong*)action = handler;
        new Span<byte>(action + 8, 128).Fill(0xFF); // block every signal while parked
        *(int*)(action + 136) = 0x04 | 0x10000000 | 0x08000000; // SA_SIGINFO | SA_RESTART | SA_ONSTACK
        if (sigaction(s_signal, action, null) != 0)
        {
            s_unavailable = $"sigaction failed (errno {Marshal.GetLastWin32Error()})";
            return;
        }
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
