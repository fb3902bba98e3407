/*
 * wx-launcher: run a command under a W^X policy, the way a hardened OS enforces it.
 *
 *   wx-launcher [-q] [--] <command> [args...]
 *
 * Installs a seccomp-BPF filter (after PR_SET_NO_NEW_PRIVS, so no privileges are needed) that makes every
 * mmap, mprotect and pkey_mprotect asking for PROT_WRITE and PROT_EXEC together fail with EACCES -- the
 * error macOS hardened runtime (without allow-jit / allow-unsigned-executable-memory) and SELinux
 * (execmem denied) report -- and then execs the command. The filter is inherited by every child and
 * survives exec, so a whole process tree (dotnet test -> testhost) runs under it.
 *
 * Everything else is allowed: RW then RX (W^X toggling), RX, RW, double mappings of one memfd
 * (one RW view, one RX view), mremap (it keeps the protection it already had).
 *
 * Exit codes: 125 setup failure, 126/127 like a shell (cannot exec / not found), otherwise the command's.
 * Build: gcc -O2 -Wall -o wx-launcher wx-launcher.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define WX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define WX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "wx-launcher supports x86_64 and aarch64"
#endif

#ifndef SYS_pkey_mprotect
#define SYS_pkey_mprotect __NR_pkey_mprotect
#endif

/* seccomp_data.args[] are 64-bit; the protection is an int, so its low 32 bits are enough. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(__u64))
#else
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + (n) * sizeof(__u64) + sizeof(__u32))
#endif

static int install_filter(void)
{
    struct sock_filter prog[] = {
        /* A foreign syscall ABI cannot be inspected reliably: refuse it outright. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WX_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),

        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
        /* x32 system calls (nr | 0x40000000) would bypass the numbers below: refuse them with ENOSYS. */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mprotect, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pkey_mprotect, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),

        /* prot is the third argument of all three calls. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, PROT_WRITE | PROT_EXEC),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_WRITE | PROT_EXEC, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = { .len = (unsigned short)(sizeof prog / sizeof prog[0]), .filter = prog };

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("wx-launcher: prctl(PR_SET_NO_NEW_PRIVS)");
        return -1;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0 &&
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) != 0) {
        perror("wx-launcher: seccomp(SECCOMP_SET_MODE_FILTER)");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int quiet = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (strcmp(argv[i], "-q") == 0) { quiet = 1; continue; }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: %s [-q] [--] <command> [args...]\n"
                   "Runs <command> with mmap/mprotect/pkey_mprotect(PROT_WRITE|PROT_EXEC) failing with EACCES.\n", argv[0]);
            return 0;
        }
        fprintf(stderr, "wx-launcher: unknown option %s\n", argv[i]);
        return 125;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [-q] [--] <command> [args...]\n", argv[0]);
        return 125;
    }
    if (install_filter() != 0)
        return 125;
    if (!quiet)
        fprintf(stderr, "wx-launcher: W^X enforced (mmap/mprotect/pkey_mprotect with PROT_WRITE|PROT_EXEC -> EACCES)\n");
    execvp(argv[i], argv + i);
    int e = errno;
    fprintf(stderr, "wx-launcher: cannot run %s: %s\n", argv[i], strerror(e));
    return e == ENOENT ? 127 : 126;
}
