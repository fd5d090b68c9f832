// Starts that are not waited for: a detached program in its own session
// (the --rm reaper), and exec in place of this process (the thin client).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "brig/proc/command.h"
#include "child.h"

extern char** environ;

namespace brig::proc {

using namespace child;

Status PosixRunner::spawn_detached(const Command& cmd) { return proc::spawn_detached(cmd); }

Status spawn_detached(const Command& cmd) {
  if (!cmd.stdin_data.empty() || cmd.timeout.count() != 0 || cmd.inherit_stdio || !cmd.stdin_file.empty()) {
    return Error(Errc::usage, "spawn_detached takes argv, env, cwd and stdout_file only");
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
  // A daemon's log: its stdout and stderr appended to stdout_file.
  unique_fd log;
  if (!cmd.stdout_file.empty()) {
    log.reset(::open(cmd.stdout_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!log) return errno_error("opening " + cmd.stdout_file, errno);
    if (log.get() <= 2) {
      int moved = ::fcntl(log.get(), F_DUPFD_CLOEXEC, 3);
      if (moved < 0) return errno_error("fcntl", errno);
      log.reset(moved);
    }
  }
  const int out = log ? log.get() : null.get();
  Result<Pipe> report = make_pipe();
  if (!report) return report.error();

  sigset_t all, none, old;
  sigfillset(&all);
  sigemptyset(&none);
  ChildSetup setup{path.c_str(), argv.data(), envp.data(), cmd.cwd.empty() ? nullptr : cmd.cwd.c_str(),
                   null.get(), out, out, report->write.get(), &none, max_fd_limit(), false};

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
