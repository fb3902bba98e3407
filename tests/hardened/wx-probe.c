/*
 * wx-probe: checks what a W^X policy allows. Prints one line per check and exits 0 when the process is
 * under W^X as wx-launcher enforces it (RWX refused with EACCES, RW->RX and double mappings allowed),
 * 1 when RWX is allowed (no policy), 2 when something a W^X runtime needs is refused too.
 *
 *   wx-probe          # expect exit 1
 *   wx-launcher wx-probe   # expect exit 0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures, rwx_allowed;

static void report(const char *what, int ok, int expect_ok, int err)
{
    printf("%-48s %s%s%s\n", what, ok ? "ok" : "refused: ", ok ? "" : strerror(err),
           expect_ok < 0 || ok == expect_ok ? "" : "   <-- unexpected");
}

int main(void)
{
    long page = sysconf(_SC_PAGESIZE);

    /* mprotect to RWX */
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap RW"); return 3; }
    int r = mprotect(p, page, PROT_READ | PROT_WRITE | PROT_EXEC);
    int e = errno;
    report("mprotect(RW -> RWX)", r == 0, -1, e);
    if (r == 0) rwx_allowed = 1; else if (e != EACCES) failures++;

    /* mmap RWX */
    void *q = mmap(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    e = errno;
    report("mmap(RWX)", q != MAP_FAILED, -1, e);
    if (q != MAP_FAILED) { rwx_allowed = 1; munmap(q, page); } else if (e != EACCES) failures++;

    /* pkey_mprotect to RWX (pkey -1 = plain mprotect) */
    r = (int)syscall(SYS_pkey_mprotect, p, page, PROT_READ | PROT_WRITE | PROT_EXEC, -1);
    e = errno;
    report("pkey_mprotect(RW -> RWX, pkey -1)", r == 0, -1, e);
    if (r == 0) rwx_allowed = 1; else if (e != EACCES && e != ENOSYS) failures++;

    /* W^X toggling: write, then flip to RX and run it */
    mprotect(p, page, PROT_READ | PROT_WRITE);
    unsigned char ret_code[] =
#if defined(__x86_64__)
        { 0xB8, 42, 0, 0, 0, 0xC3 };          /* mov eax, 42; ret */
#else
        { 0x40, 0x05, 0x80, 0x52, 0xC0, 0x03, 0x5F, 0xD6 }; /* mov w0, #42; ret */
#endif
    memcpy(p, ret_code, sizeof ret_code);
    __builtin___clear_cache((char *)p, (char *)p + sizeof ret_code);
    r = mprotect(p, page, PROT_READ | PROT_EXEC);
    e = errno;
    report("mprotect(RW -> RX)", r == 0, 1, e);
    if (r != 0) failures++;
    else {
        int v = ((int (*)(void))p)();
        report("call code written RW, run RX", v == 42, 1, 0);
        if (v != 42) failures++;
    }
    r = mprotect(p, page, PROT_READ | PROT_WRITE);
    e = errno;
    report("mprotect(RX -> RW)", r == 0, 1, e);
    if (r != 0) failures++;

    /* double mapping of one memfd: RW view + RX view (what .NET's W^X allocator does) */
    int fd = memfd_create("wx-probe", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate(fd, page) == 0) {
        void *w = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        void *x = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
        int ok = w != MAP_FAILED && x != MAP_FAILED;
        e = errno;
        if (ok) {
            memcpy(w, ret_code, sizeof ret_code);
            __builtin___clear_cache((char *)x, (char *)x + sizeof ret_code);
            ok = ((int (*)(void))x)() == 42;
        }
        report("memfd double mapping (RW view + RX view)", ok, 1, e);
        if (!ok) failures++;
    } else {
        report("memfd_create", 0, 1, errno);
        failures++;
    }

    if (failures) { printf("result: something W^X allows was refused (or RWX failed with another errno)\n"); return 2; }
    if (rwx_allowed) { printf("result: RWX allowed -- not under W^X\n"); return 1; }
    printf("result: W^X enforced (RWX -> EACCES; RW/RX toggling and double mapping work)\n");
    return 0;
}
