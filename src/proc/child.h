// Private to module proc: the child-process machinery shared by
// PosixRunner::run (posix_runner.cc) and the detached and exec-replacing
// starts (detached.cc). Defined in child.cc.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/unique_fd.h"
#include "brig/proc/command.h"

namespace brig::proc::child {

using Clock = std::chrono::steady_clock;

// What the child writes to the report pipe when it cannot exec.
enum class Stage : int { setup, chdir, exec };
struct ChildFailure {
  Stage stage;
  int err;
};

template <class F>
auto retry_eintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

struct Pipe {
  unique_fd read, write;
};

// Both ends CLOEXEC and above 2.
Result<Pipe> make_pipe();
Status set_nonblocking(int fd);
// NULL-terminated pointers into `v` (which must outlive them).
std::vector<char*> c_strings(const std::vector<std::string>& v);
// SIGPIPE ignored once per process (unless someone installed a handler).
void ignore_sigpipe();

// Everything the child needs, built before fork().
struct ChildSetup {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: keep ours
  int in, out, err, report;
  const sigset_t* empty_mask;
  int max_fd;  // for the fallback when close_range is unavailable
  bool own_group;  // false: stay in our process group (inherit_stdio, detached)
};

// In the child: report `err` at `stage` on the report pipe and _exit(127).
[[noreturn]] void fail_child(int report, Stage stage, int err);
// In the child after fork: async-signal-safe calls only; never returns.
[[noreturn]] void exec_child(const ChildSetup& s);
// The error for a child that reported `f`.
Error start_error(const Command& cmd, ChildFailure f);
void kill_group(pid_t pid);
// Waits for `pid`; SIGKILLs its group if it outlives `deadline`.
Result<int> reap(pid_t pid, std::optional<Clock::time_point> deadline, bool& timed_out);
// The highest fd number the child may have to mark close-on-exec.
int max_fd_limit();
// argv[0] as a path: looked up in PATH unless it names a directory.
Result<std::string> resolve(const Command& cmd);

}  // namespace brig::proc::child
