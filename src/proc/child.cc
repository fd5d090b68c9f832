// The child-process machinery shared by PosixRunner::run and the detached
// and exec-replacing starts (detached.cc): pipes, the child's setup between
// fork and execve (async-signal-safe calls only), exec-failure reports,
// reaping.
#include <fcntl.h>
#ifdef __linux__
#include <linux/close_range.h>
#include <sys/syscall.h>
#endif
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <string_view>
#include <thread>

#include <spdlog/spdlog.h>

#include "brig/core/unique_fd.h"
#include "brig/proc/command.h"
#include "child.h"

namespace brig::proc::child {


// Both ends are CLOEXEC and above 2, so the child's dup2 onto 0-2 never
// clobbers another pipe end (possible when our own stdio is closed).
Result<Pipe> make_pipe() {
  int fds[2];
#ifdef __linux__
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe", errno);
  Pipe p{unique_fd(fds[0]), unique_fd(fds[1])};
#else
  // macOS has no pipe2: pipe + FD_CLOEXEC. Another thread forking between
  // the two calls could leak the ends into its child until that child execs.
  if (::pipe(fds) != 0) return errno_error("pipe", errno);
  Pipe p{unique_fd(fds[0]), unique_fd(fds[1])};
  for (int fd : fds) {
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return errno_error("fcntl", errno);
  }
#endif
  for (unique_fd* fd : {&p.read, &p.write}) {
    if (fd->get() > 2) continue;
    int moved = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return errno_error("fcntl", errno);
    fd->reset(moved);
  }
  return p;
}

Status set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno_error("fcntl", errno);
  return {};
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// A child that exits without reading its stdin would kill us with SIGPIPE on
// the next write; ignored, the write fails with EPIPE instead. Done once per
// process, and only if nobody installed a handler of their own. The child
// resets it to the default (an ignored signal survives execve).
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

[[noreturn]] void fail_child(int report, Stage stage, int err) {
  ChildFailure f{stage, err};
  // One write of a few bytes to a pipe is atomic.
  retry_eintr([&] { return ::write(report, &f, sizeof f); });
  ::_exit(127);
}

namespace {

// Marks fds >= 3 close-on-exec rather than closing them: the report pipe must
// stay open until execve succeeds.
void cloexec_from_3(int max_fd) {
#if defined(__linux__) && defined(SYS_close_range)
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace

// Runs in the child after fork: async-signal-safe calls only.
[[noreturn]] void exec_child(const ChildSetup& s) {
  // Default dispositions before unblocking, so nothing of ours runs here.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  ::sigprocmask(SIG_SETMASK, s.empty_mask, nullptr);

  // Own process group, so the deadline kills grandchildren too.
  if (s.own_group && ::setpgid(0, 0) != 0) fail_child(s.report, Stage::setup, errno);
  if (retry_eintr([&] { return ::dup2(s.in, 0); }) < 0 ||
      retry_eintr([&] { return ::dup2(s.out, 1); }) < 0 ||
      retry_eintr([&] { return ::dup2(s.err, 2); }) < 0) {
    fail_child(s.report, Stage::setup, errno);
  }
  if (s.cwd != nullptr && ::chdir(s.cwd) != 0) fail_child(s.report, Stage::chdir, errno);
  cloexec_from_3(s.max_fd);
  ::execve(s.path, s.argv, s.envp);
  fail_child(s.report, Stage::exec, errno);
}

Error start_error(const Command& cmd, ChildFailure f) {
  const std::string& name = cmd.argv[0];
  switch (f.stage) {
    case Stage::chdir:
      return errno_error(name + ": cannot change directory to " + cmd.cwd, f.err);
    case Stage::exec:
      if (f.err == ENOENT) {
        return Error(Errc::not_found, name + ": command not found",
                     "check the path (and the #! interpreter, if it is a script)");
      }
      if (f.err == EACCES) {
        return Error(Errc::io, name + ": permission denied",
                     "make sure it is an executable file (chmod +x)");
      }
      return errno_error(name + ": cannot execute", f.err);
    case Stage::setup:
      break;
  }
  return errno_error(name + ": cannot set up the child process", f.err);
}

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);  // ESRCH for an inherit_stdio child, which has no group of its own
  ::kill(pid, SIGKILL);  // in case neither setpgid took effect
}

// Waits for `pid`; SIGKILLs its group if it outlives `deadline`.
Result<int> reap(pid_t pid, std::optional<Clock::time_point> deadline, bool& timed_out) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, deadline && !timed_out ? WNOHANG : 0);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return errno_error("waitpid", errno);
    if (r != 0) continue;
    auto left = *deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      kill_group(pid);
      timed_out = true;
    } else {
      std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(10)));
    }
  }
}

// The highest fd number the child may have to mark close-on-exec.
int max_fd_limit() {
  rlimit nofile{};
  int max_fd = 1 << 16;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    max_fd = static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20));
  }
  return max_fd;
}

// argv[0] as a path: looked up in PATH unless it names a directory.
Result<std::string> resolve(const Command& cmd) {
  if (cmd.argv.empty()) {
    return Error(Errc::usage, "cannot run an empty command", "pass the program as argv[0]");
  }
  // What brig runs, for -v: argv as a shell would take it back.
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string line;
    for (const auto& a : cmd.argv) {
      const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                           "0123456789-_./:=,+@%") == std::string::npos;
      if (!line.empty()) line += ' ';
      if (plain) {
        line += a;
        continue;
      }
      line += '\'';
      for (char c : a) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
      line += '\'';
    }
    spdlog::debug("run: {}", line);
  }
  std::string path = cmd.argv[0];
  if (path.find('/') == std::string::npos) {
    auto found = find_executable(path);
    if (!found) {
      return Error(Errc::not_found, path + ": command not found",
                   "install it, or add its directory to PATH");
    }
    path = *found;
  }
  return path;
}

}  // namespace brig::proc::child
