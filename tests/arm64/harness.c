/*
 * Execution harness for the Hybrid arm64 code emitters.
 *
 * Built with `aarch64-linux-gnu-gcc -static -O2` and run under `qemu-aarch64-static` by
 * tests/Hybrid.Engine.Tests/Arm64/Arm64ExecutionTests.cs. It knows nothing about the encoder: the C# side sends the
 * bytes it emitted and the addresses it emitted them for, and the harness maps memory exactly there, installs the bytes,
 * synchronises the caches with the *engine's own* maintenance routine (also sent as bytes), and calls through.
 *
 * Script on stdin, one command per line (numbers in hex without 0x, except decimal lengths where noted):
 *   map ADDR LEN               mmap LEN bytes read+write at exactly ADDR (fails if the kernel picks another address)
 *   write ADDR HEXBYTES        memcpy the bytes to ADDR
 *   protect ADDR LEN rx|rw|rwx mprotect
 *   target ADDR MAGIC          write a function at ADDR returning (x0 ^ MAGIC), encoded here in C (independently of the
 *                              engine) and synchronised with the compiler's __builtin___clear_cache
 *   flushwith FN ADDR LEN      call the engine routine at FN as void fn(void *start, size_t len)
 *   call ADDR ARG              print "result <hex>" for uint64_t fn(uint64_t) at ADDR
 *   probe FN START LEN CTR     call the probe build of the routine with CTR_EL0 = CTR; print "dc ..." and "ic ..."
 *   ctr                        print "ctr <hex>" (MRS CTR_EL0 as this CPU model reports it)
 * Every successful command prints one line starting with its name or "ok". Errors print "error ..." and exit 2;
 * a fault prints "signal N" and exits 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static void die(const char *what, const char *line)
{
    printf("error %s: %s (errno %d)\n", what, line, errno);
    fflush(stdout);
    exit(2);
}

static void on_signal(int sig)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "signal %d\n", sig);
    (void)!write(1, msg, (size_t)n);
    _exit(3);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* movz/movk x9 with the 64-bit magic, eor x0, x0, x9, ret: hand-encoded from the Arm ARM, not by the engine. */
static size_t emit_target(uint32_t *p, uint64_t magic)
{
    size_t n = 0;
    p[n++] = 0xD2800000u | ((uint32_t)(magic & 0xFFFF) << 5) | 9;                 /* movz x9, #lo          */
    for (uint32_t hw = 1; hw < 4; hw++)
        p[n++] = 0xF2800000u | (hw << 21) | ((uint32_t)((magic >> (16 * hw)) & 0xFFFF) << 5) | 9; /* movk  */
    p[n++] = 0xCA090000u;                                                          /* eor x0, x0, x9        */
    p[n++] = 0xD65F03C0u;                                                          /* ret                   */
    return n * 4;
}

int main(void)
{
    static char line[1 << 16];
    signal(SIGSEGV, on_signal);
    signal(SIGILL, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGTRAP, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);

    while (fgets(line, sizeof line, stdin)) {
        char cmd[32];
        if (sscanf(line, "%31s", cmd) != 1)
            continue;
        if (!strcmp(cmd, "map")) {
            unsigned long addr, len;
            if (sscanf(line, "%*s %lx %lx", &addr, &len) != 2) die("syntax", line);
            void *p = mmap((void *)addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p == MAP_FAILED) {
                /* Older kernels/emulators: retry as a hint and insist on the exact address. */
                p = mmap((void *)addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) die("mmap", line);
            }
            if ((unsigned long)p != addr) die("mmap landed elsewhere", line);
            printf("ok\n");
        } else if (!strcmp(cmd, "write")) {
            unsigned long addr;
            int off = 0;
            if (sscanf(line, "%*s %lx %n", &addr, &off) != 1) die("syntax", line);
            unsigned char *dst = (unsigned char *)addr;
            for (char *s = line + off; hexval(s[0]) >= 0 && hexval(s[1]) >= 0; s += 2)
                *dst++ = (unsigned char)(hexval(s[0]) * 16 + hexval(s[1]));
            printf("ok %ld\n", (long)(dst - (unsigned char *)addr));
        } else if (!strcmp(cmd, "protect")) {
            unsigned long addr, len;
            char mode[8];
            if (sscanf(line, "%*s %lx %lx %7s", &addr, &len, mode) != 3) die("syntax", line);
            int prot = PROT_READ | (strchr(mode, 'w') ? PROT_WRITE : 0) | (strchr(mode, 'x') ? PROT_EXEC : 0);
            if (mprotect((void *)addr, len, prot) != 0) die("mprotect", line);
            printf("ok\n");
        } else if (!strcmp(cmd, "target")) {
            unsigned long addr, magic;
            if (sscanf(line, "%*s %lx %lx", &addr, &magic) != 2) die("syntax", line);
            size_t n = emit_target((uint32_t *)addr, magic);
            __builtin___clear_cache((char *)addr, (char *)addr + n);
            printf("ok\n");
        } else if (!strcmp(cmd, "flushwith")) {
            unsigned long fn, addr, len;
            if (sscanf(line, "%*s %lx %lx %lx", &fn, &addr, &len) != 3) die("syntax", line);
            ((void (*)(void *, size_t))fn)((void *)addr, len);
            printf("ok\n");
        } else if (!strcmp(cmd, "call")) {
            unsigned long fn, arg;
            if (sscanf(line, "%*s %lx %lx", &fn, &arg) != 2) die("syntax", line);
            uint64_t r = ((uint64_t(*)(uint64_t))fn)(arg);
            printf("result %lx\n", (unsigned long)r);
        } else if (!strcmp(cmd, "probe")) {
            unsigned long fn, start, len, ctr;
            if (sscanf(line, "%*s %lx %lx %lx %lx", &fn, &start, &len, &ctr) != 4) die("syntax", line);
            static uint64_t dc[4096], ic[4096];
            /* The probe build takes x0 start, x1 length, x2 CTR_EL0, and post-increments x3/x4 as log cursors.
             * Everything goes through memory so no value has to survive in a register variable across C calls. */
            uint64_t regs[5] = { start, len, ctr, (uint64_t)dc, (uint64_t)ic };
            __asm__ volatile("ldp x0, x1, [%[r]]\n\t"
                             "ldp x2, x3, [%[r], #16]\n\t"
                             "ldr x4, [%[r], #32]\n\t"
                             "blr %[fn]\n\t"
                             "str x3, [%[r], #24]\n\t"
                             "str x4, [%[r], #32]"
                             :
                             : [r] "r"(regs), [fn] "r"(fn)
                             : "x0", "x1", "x2", "x3", "x4", "x9", "x10", "x11", "x12", "x30", "memory", "cc");
            uint64_t *dcend = (uint64_t *)regs[3], *icend = (uint64_t *)regs[4];
            printf("dc");
            for (uint64_t *p = dc; p < dcend; p++) printf(" %lx", (unsigned long)*p);
            printf("\nic");
            for (uint64_t *p = ic; p < icend; p++) printf(" %lx", (unsigned long)*p);
            printf("\n");
        } else if (!strcmp(cmd, "ctr")) {
            uint64_t ctr;
            __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
            printf("ctr %lx\n", (unsigned long)ctr);
        } else {
            die("unknown command", line);
        }
    }
    return 0;
}
