/* Loaded into every dynamically linked program of a cell (through
 * /etc/ld.so.preload) on hosts whose runsc refuses AT_NO_AUTOMOUNT in
 * statx/newfstatat with EINVAL (gVisor releases of 2022): glibc's coreutils
 * pass it, so `ls`, `stat` and `cp` fail in Debian images. The flag means
 * nothing inside gVisor (there are no automounts), so the shim clears it and
 * makes the system call itself. No libc: raw system calls, so it loads into
 * glibc and musl programs alike. Built by src/engine/CMakeLists.txt and
 * compiled into brig (libbrig-stat.so_blob.cc). */
#include <sys/syscall.h>

#include "raw_syscall.h"

#define BRIG_AT_NO_AUTOMOUNT 0x800

extern int *__errno_location(void);

static long brig_syscall5(long n, long a, long b, long c, long d, long e) {
  long ret = brig_raw_syscall5(n, a, b, c, d, e);
  if (ret < 0 && ret > -4096) {
    *__errno_location() = (int)-ret;
    return -1;
  }
  return ret;
}

__attribute__((visibility("default"))) int statx(int dirfd, const char *path, int flags, unsigned int mask,
                                                 void *buf) {
  return (int)brig_syscall5(SYS_statx, dirfd, (long)path, flags & ~BRIG_AT_NO_AUTOMOUNT, (long)mask, (long)buf);
}

/* glibc's struct stat is the kernel's on x86_64 and aarch64. */
__attribute__((visibility("default"))) int fstatat(int dirfd, const char *path, void *buf, int flags) {
  return (int)brig_syscall5(SYS_newfstatat, dirfd, (long)path, (long)buf, flags & ~BRIG_AT_NO_AUTOMOUNT, 0);
}

__attribute__((visibility("default"), alias("fstatat"))) int fstatat64(int dirfd, const char *path, void *buf,
                                                                       int flags);
