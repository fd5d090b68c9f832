// PosixRunner: fork/exec over pipes, one poll loop, a deadline.
//
// Everything the child needs (paths, argv and envp arrays, fd numbers) is
// built before fork(). Between fork and execve the child makes only
// async-signal-safe calls: it is a copy of a possibly multi-threaded process
// in which another thread may hold the malloc lock.
//
// Portable to macOS (the thin client runs limactl through this file): Linux
// only features (pipe2, close_range) sit behind __linux__ with POSIX fallbacks.
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

#include "brig/core/unique_fd.h"
#include "brig/proc/command.h"

extern char** environ;

namespace brig::proc {
namespace {

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

[[noreturn]] void fail_child(int report, Stage stage, int err) {
  ChildFailure f{stage, err};
  // One write of a few bytes to a pipe is atomic.
  retry_eintr([&] { return ::write(report, &f, sizeof f); });
  ::_exit(127);
}

// Marks fds >= 3 close-on-exec rather than closing them: the report pipe must
// stay open until execve succeeds.
void cloexec_from_3(int max_fd) {
#if defined(__linux__) && defined(SYS_close_range)
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
  for (int fd = 3; fd < max_fd; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

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

// One read; closes `fd` at EOF or on a hard error.
void read_some(unique_fd& fd, std::string& into, char* buf, size_t size) {
  ssize_t n = ::read(fd.get(), buf, size);
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    fd.reset();
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

}  // namespace

namespace {

// argv[0] as a path: looked up in PATH unless it names a directory.
Result<std::string> resolve(const Command& cmd) {
  if (cmd.argv.empty()) {
    return Error(Errc::usage, "cannot run an empty command", "pass the program as argv[0]");
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

// Reaps `pid` and fills in how it ended.
Result<Output> finish(pid_t pid, std::optional<Clock::time_point> deadline, Output& result) {
  Result<int> status = reap(pid, deadline, result.timed_out);
  if (!status) return status.error();
  if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  } else if (WIFSIGNALED(*status)) {
    result.term_signal = WTERMSIG(*status);
    result.exit_code = 128 + result.term_signal;
  }
  return result;
}

}  // namespace

std::optional<std::string> find_executable(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    return executable(name) ? std::optional<std::string>(name) : std::nullopt;
  }
  const char* env_path = std::getenv("PATH");
  std::string_view path = "/usr/local/bin:/usr/bin:/bin";
  if (env_path != nullptr && *env_path != '\0') path = env_path;
  while (!path.empty()) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    path = colon == std::string_view::npos ? std::string_view() : path.substr(colon + 1);
    // An empty entry means "." to a shell; skipping it keeps a planted
    // ./podman in the working directory from being run.
    if (dir.empty()) continue;
    std::string candidate = std::string(dir) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return std::nullopt;
}

Result<Output> PosixRunner::run(const Command& cmd) {
  Result<std::string> resolved = resolve(cmd);
  if (!resolved) return resolved.error();
  const std::string& path = *resolved;
  if (cmd.inherit_stdio && !cmd.stdin_data.empty()) {
    return Error(Errc::usage, "stdin_data cannot be combined with inherit_stdio");
  }
  ignore_sigpipe();

  // Everything the child touches is built here, before fork.
  std::vector<std::string> inherited;
  if (!cmd.env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) inherited.emplace_back(*e);
  }
  std::vector<char*> argv = c_strings(cmd.argv);
  std::vector<char*> envp = c_strings(cmd.env ? *cmd.env : inherited);

  // inherit_stdio: placeholders that are never opened; the child keeps 0-2.
  Result<Pipe> in = cmd.inherit_stdio ? Result<Pipe>(Pipe{}) : make_pipe();
  if (!in) return in.error();
  Result<Pipe> out = cmd.inherit_stdio ? Result<Pipe>(Pipe{}) : make_pipe();
  if (!out) return out.error();
  Result<Pipe> err = cmd.inherit_stdio ? Result<Pipe>(Pipe{}) : make_pipe();
  if (!err) return err.error();
  Result<Pipe> report = make_pipe();
  if (!report) return report.error();

  const int max_fd = max_fd_limit();
  sigset_t all, none, old;
  sigfillset(&all);
  sigemptyset(&none);
  ChildSetup setup{path.c_str(), argv.data(), envp.data(),
                   cmd.cwd.empty() ? nullptr : cmd.cwd.c_str(),
                   cmd.inherit_stdio ? 0 : in->read.get(), cmd.inherit_stdio ? 1 : out->write.get(),
                   cmd.inherit_stdio ? 2 : err->write.get(), report->write.get(),
                   &none, max_fd, !cmd.inherit_stdio};

  // Signals stay blocked across fork so no handler of ours runs in the child
  // before it resets them.
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(setup);
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return errno_error("fork", fork_errno);

  if (!cmd.inherit_stdio) ::setpgid(pid, pid);  // also done in the child: whichever runs first closes the race with kill()
  in->read.reset();
  out->write.reset();
  err->write.reset();
  report->write.reset();

  // EOF: execve succeeded and closed the report pipe.
  ChildFailure failure{};
  ssize_t n = retry_eintr([&] { return ::read(report->read.get(), &failure, sizeof failure); });
  if (n != 0) {
    bool unused = false;
    (void)reap(pid, std::nullopt, unused);
    if (n == static_cast<ssize_t>(sizeof failure)) return start_error(cmd, failure);
    return Error(Errc::failed, cmd.argv[0] + ": lost track of the child while starting it");
  }

  Output result;
  std::optional<Clock::time_point> deadline;
  if (cmd.timeout.count() > 0) deadline = Clock::now() + cmd.timeout;
  if (cmd.inherit_stdio) {
    // The terminal's SIGINT/SIGQUIT reach the child too (same group): brig
    // waits for it to finish rather than dying first and losing its exit code.
    struct sigaction ign {}, old_int {}, old_quit {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGINT, &ign, &old_int);
    ::sigaction(SIGQUIT, &ign, &old_quit);
    auto r = finish(pid, deadline, result);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    return r;
  }

  for (unique_fd* fd : {&in->write, &out->read, &err->read}) {
    if (Status s = set_nonblocking(fd->get()); !s) {
      kill_group(pid);
      bool unused = false;
      (void)reap(pid, std::nullopt, unused);
      return s.error();
    }
  }
  if (cmd.stdin_data.empty()) in->write.reset();

  size_t written = 0;
  constexpr size_t kChunk = 64 * 1024;
  std::string buf(kChunk, '\0');

  while (in->write || out->read || err->read) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) {
        kill_group(pid);
        result.timed_out = true;
        break;  // a grandchild outside the group may hold the pipes forever
      }
      wait_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
    }
    pollfd fds[3];
    unique_fd* owners[3];
    nfds_t count = 0;
    for (unique_fd* fd : {&in->write, &out->read, &err->read}) {
      if (!*fd) continue;
      short events = fd == &in->write ? POLLOUT : POLLIN;
      fds[count] = pollfd{fd->get(), events, 0};
      owners[count++] = fd;
    }
    if (::poll(fds, count, wait_ms) < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      kill_group(pid);
      bool unused = false;
      (void)reap(pid, std::nullopt, unused);
      return errno_error("poll", e);
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      unique_fd& fd = *owners[i];
      if (&fd == &out->read) {
        read_some(fd, result.out, buf.data(), kChunk);
      } else if (&fd == &err->read) {
        read_some(fd, result.err, buf.data(), kChunk);
      } else {
        size_t len = std::min(cmd.stdin_data.size() - written, kChunk);
        ssize_t w = ::write(fd.get(), cmd.stdin_data.data() + written, len);
        if (w >= 0) {
          written += static_cast<size_t>(w);
          if (written == cmd.stdin_data.size()) fd.reset();
        } else if (errno != EAGAIN && errno != EINTR) {
          fd.reset();  // EPIPE: the child closed its stdin; not our error
        }
      }
    }
  }

  return finish(pid, deadline, result);
}

Status PosixRunner::spawn_detached(const Command& cmd) { return proc::spawn_detached(cmd); }

Status spawn_detached(const Command& cmd) {
  if (!cmd.stdin_data.empty() || cmd.timeout.count() != 0 || cmd.inherit_stdio) {
    return Error(Errc::usage, "spawn_detached takes argv, env and cwd only");
  }
  Result<std::string> resolved = resolve(cmd);
  if (!resolved) return resolved.error();
  const std::string& path = *resolved;

  std::vector<std::string> inherited;
  if (!cmd.env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) inherited.emplace_back(*e);
  }
  std::vector<char*> argv = c_strings(cmd.argv);
  std::vector<char*> envp = c_strings(cmd.env ? *cmd.env : inherited);
  unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return errno_error("opening /dev/null", errno);
  if (null.get() <= 2) {  // our own stdio is closed: keep it clear of the child's dup2 targets
    int moved = ::fcntl(null.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return errno_error("fcntl", errno);
    null.reset(moved);
  }
  Result<Pipe> report = make_pipe();
  if (!report) return report.error();

  sigset_t all, none, old;
  sigfillset(&all);
  sigemptyset(&none);
  ChildSetup setup{path.c_str(), argv.data(), envp.data(), cmd.cwd.empty() ? nullptr : cmd.cwd.c_str(),
                   null.get(), null.get(), null.get(), report->write.get(), &none, max_fd_limit(), false};

  // A double fork: the middle child starts a new session and exits at once,
  // so the program is reparented to init (no zombie of ours) and, not being
  // a session leader, never acquires a terminal. Both write to the report
  // pipe if they fail; it reaches EOF once the program has exec'ed.
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setsid() < 0) fail_child(setup.report, Stage::setup, errno);
    pid_t grandchild = ::fork();
    if (grandchild < 0) fail_child(setup.report, Stage::setup, errno);
    if (grandchild == 0) exec_child(setup);
    ::_exit(0);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return errno_error("fork", fork_errno);
  report->write.reset();
  bool unused = false;
  (void)reap(pid, std::nullopt, unused);

  ChildFailure failure{};
  ssize_t n = retry_eintr([&] { return ::read(report->read.get(), &failure, sizeof failure); });
  if (n == 0) return {};
  if (n == static_cast<ssize_t>(sizeof failure)) return start_error(cmd, failure);
  return Error(Errc::failed, cmd.argv[0] + ": lost track of the detached child while starting it");
}

Error exec_replace(const Command& cmd) {
  if (!cmd.cwd.empty() || !cmd.stdin_data.empty() || cmd.timeout.count() != 0) {
    return Error(Errc::usage, "exec_replace takes argv and env only");
  }
  Result<std::string> path = resolve(cmd);
  if (!path) return path.error();
  std::vector<char*> argv = c_strings(cmd.argv);
  if (cmd.env) {
    std::vector<char*> envp = c_strings(*cmd.env);
    ::execve(path->c_str(), argv.data(), envp.data());
  } else {
    ::execv(path->c_str(), argv.data());
  }
  return start_error(cmd, ChildFailure{Stage::exec, errno});
}

}  // namespace brig::proc
