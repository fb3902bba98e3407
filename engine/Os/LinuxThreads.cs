using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;

namespace Hybrid.Os;

/// <summary>
/// What the Linux thread fences (<see cref="LinuxX64ThreadFence"/>, <see cref="LinuxArm64ThreadFence"/>) share: which
/// threads of this process may be running managed code now, a real-time signal nobody uses, and the handler that parks
/// a thread on it. The parking itself is each CPU's machine code (no managed code may run in a signal handler).
/// </summary>
internal static unsafe class LinuxThreads
{
    // Kept open between fences: the task directory (rewound and listed again each time) and one stat file per thread
    // (read again with pread at offset 0, which makes procfs produce it anew). Opening and closing them for every fence
    // was two thirds of an install (~40 of ~70 µs with 7 threads).
    private static int s_taskDirectory = -1;
    private static readonly Dictionary<int, int> s_statFiles = new();

    /// <summary>
    /// Threads of this process in state R or D. Read with raw getdents64/pread calls into stack buffers: the managed
    /// file APIs cost ~30 µs a thread. Callers serialise: a process has one fence, and it calls this under its own lock.
    /// </summary>
    public static long[] Running()
    {
        int self = gettid();
        var tids = new List<long>();
        var entries = stackalloc byte[8192];
        var path = stackalloc byte[64];
        var stat = stackalloc byte[512];
        if (s_taskDirectory < 0)
            // O_RDONLY | O_CLOEXEC (the same bits on x86-64 and aarch64; O_DIRECTORY is not: 0x10000 on x86-64 is
            // O_DIRECT on aarch64, and the directory would not open).
            s_taskDirectory = open("/proc/self/task", 0x80000 /* O_CLOEXEC */);
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

    /// <summary>The highest real-time signal (62 down to 40) with no handler installed, or 0.</summary>
    private static int FreeRealTimeSignal()
    {
        // glibc's struct sigaction (the same on x86-64 and aarch64): handler(8), sa_mask(128), sa_flags(4)+pad(4), sa_restorer(8).
        var current = stackalloc byte[152];
        for (int candidate = 62; candidate >= 40; candidate--)
        {
            if (sigaction(candidate, null, current) == 0 && *(nint*)current == 0)
                return candidate;
        }
        return 0;
    }

    /// <summary>
    /// Sets a fence up: a free real-time signal, a page of shared state (its futex timeout, a struct timespec of 1 ms,
    /// at <paramref name="timeoutOffset"/>), a page of code with the handler at +0 and the routine at +1024 (each built
    /// for its address and the state page's, by the CPU's builder), made executable and flushed for instruction fetch,
    /// and the handler installed for the signal. Null, or why the fence is unavailable.
    /// </summary>
    public static string? SetUpFence(Func<ulong, ulong, byte[]> buildHandler, Func<ulong, ulong, byte[]> buildRoutine, int timeoutOffset,
        out int signal, out byte* state, out nint routine)
    {
        state = null;
        routine = 0;
        signal = FreeRealTimeSignal();
        if (signal == 0)
            return "no free real-time signal for the thread fence";
        var memory = Platform.Memory;
        nint statePage = memory.Allocate(4096);
        nint code = memory.Allocate(4096);
        if (statePage == 0 || code == 0)
            return "could not allocate the thread fence's pages";
        state = (byte*)statePage;
        *(long*)(state + timeoutOffset + 8) = 1_000_000; // tv_nsec
        buildHandler((ulong)code, (ulong)statePage).CopyTo(new Span<byte>((void*)code, 1024));
        buildRoutine((ulong)code + 1024, (ulong)statePage).CopyTo(new Span<byte>((void*)(code + 1024), 3072));
        if (!memory.TryProtect(code, 4096, PageAccess.ReadExecute, out int error))
            return $"could not make the thread fence's code executable (errno {error})";
        Platform.Cpu.FlushNewCode(code, 4096); // arm64: DC/IC over the new code; x64: nothing to do
        if (InstallParkingHandler(signal, (ulong)code) is { } refused)
            return refused;
        routine = code + 1024;
        return null;
    }

    /// <summary>
    /// Installs <paramref name="handler"/> (machine code: handler(sig, siginfo, ucontext)) for <paramref name="signal"/>,
    /// with every signal blocked while it runs; null, or why it could not.
    /// </summary>
    private static string? InstallParkingHandler(int signal, ulong handler)
    {
        var action = stackalloc byte[152];
        new Span<byte>(action, 152).Clear();
        *(ulong*)action = handler;
        new Span<byte>(action + 8, 128).Fill(0xFF); // block every signal while parked
        *(int*)(action + 136) = 0x04 | 0x10000000 | 0x08000000; // SA_SIGINFO | SA_RESTART | SA_ONSTACK
        return sigaction(signal, action, null) == 0 ? null : $"sigaction failed (errno {Marshal.GetLastWin32Error()})";
    }

    /// <summary>PROT_* bits of an access.</summary>
    public static int ToProt(PageAccess access) =>
        ((access & PageAccess.Read) != 0 ? 1 : 0) | ((access & PageAccess.Write) != 0 ? 2 : 0) | ((access & PageAccess.Execute) != 0 ? 4 : 0);
}
