/* What a warm pool's cell runs while it waits to be claimed (engine/pools.h):
 * its PID 1, which reaps what a claim's command leaves behind and ends on
 * SIGTERM, SIGINT or SIGHUP. Static and libc-free, so any image runs it
 * (brig writes it into the cell's /run/brig). Built by
 * src/engine/CMakeLists.txt and compiled into brig (brig-idle_blob.cc). */
#include <signal.h>
#include <sys/syscall.h>

#include "raw_syscall.h"

#define BIT(sig) (1UL << ((sig) - 1))

__attribute__((noreturn)) void _start(void) {
  /* The kernel's sigset_t: one word. */
  unsigned long set = BIT(SIGCHLD) | BIT(SIGTERM) | BIT(SIGINT) | BIT(SIGHUP);
  brig_raw_syscall5(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, sizeof set, 0);
  for (;;) {
    long sig = brig_raw_syscall5(SYS_rt_sigtimedwait, (long)&set, 0, 0, sizeof set, 0);
    if (sig < 0) continue; /* EINTR */
    if (sig != SIGCHLD) break;
    while (brig_raw_syscall5(SYS_wait4, -1, 0, 1 /* WNOHANG */, 0, 0) > 0) {
    }
  }
  for (;;) brig_raw_syscall5(SYS_exit_group, 0, 0, 0, 0, 0);
}
