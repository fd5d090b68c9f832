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
#include "child.h"
#include "held_lines.h"

extern char** environ;

namespace brig::proc {
namespace {

using namespace child;

// One read; closes `fd` at EOF or on a hard error.
void read_some(unique_fd& fd, std::string& into, char* buf, size_t size) {
  ssize_t n = ::read(fd.get(), buf, size);
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    fd.reset();
  }
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

// Writes all of `data` to `fd` (stderr), retrying short writes.
void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = retry_eintr([&] { return ::write(fd, data.data(), data.size()); });
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// inherit_stdio with held lines: the child's stderr through a HeldLines
// filter onto ours, until EOF or the deadline.
void pass_stderr(unique_fd& from, const std::vector<std::string>& prefixes,
                 std::optional<Clock::time_point> deadline, Output& result) {
  HeldLines filter(prefixes);
  std::string chunk(16 * 1024, '\0');
  while (from) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) break;
      wait_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
    }
    pollfd p{from.get(), POLLIN, 0};
    if (retry_eintr([&] { return ::poll(&p, 1, wait_ms); }) <= 0) continue;
    std::string got;
    read_some(from, got, chunk.data(), chunk.size());
    write_all(2, filter.feed(got));
  }
  write_all(2, filter.finish());
  result.err = filter.held();
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

  if (!cmd.stdin_data.empty() && !cmd.stdin_file.empty()) {
    return Error(Errc::usage, "stdin_file cannot be combined with stdin_data");
  }
  if (cmd.inherit_stdio && !cmd.stdout_file.empty()) {
    return Error(Errc::usage, "stdout_file cannot be combined with inherit_stdio");
  }
  if (cmd.inherit_stdio && cmd.on_output) return Error(Errc::usage, "on_output cannot be combined with inherit_stdio");
  // inherit_stdio: placeholders that are never opened; the child keeps 0-2.
  // A file for stdin or stdout takes the place of that pipe's child end.
  auto file_end = [](const std::string& file, bool write) -> Result<Pipe> {
    const int flags = write ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC;
    unique_fd fd(::open(file.c_str(), flags, 0600));
    if (!fd) return errno_error("opening " + file, errno);
    Pipe p;
    (write ? p.write : p.read) = std::move(fd);
    return p;
  };
  const bool own_stdin = cmd.inherit_stdio && cmd.stdin_file.empty();
  Result<Pipe> in = own_stdin ? Result<Pipe>(Pipe{}) : cmd.stdin_file.empty() ? make_pipe() : file_end(cmd.stdin_file, false);
  if (!in) return in.error();
  Result<Pipe> out = cmd.inherit_stdio ? Result<Pipe>(Pipe{})
                     : cmd.stdout_file.empty() ? make_pipe() : file_end(cmd.stdout_file, true);
  if (!out) return out.error();
  const bool hold = cmd.inherit_stdio && !cmd.hold_stderr_lines.empty();
  Result<Pipe> err = cmd.inherit_stdio && !hold ? Result<Pipe>(Pipe{}) : make_pipe();
  if (!err) return err.error();
  Result<Pipe> report = make_pipe();
  if (!report) return report.error();

  const int max_fd = max_fd_limit();
  sigset_t all, none, old;
  sigfillset(&all);
  sigemptyset(&none);
  ChildSetup setup{path.c_str(), argv.data(), envp.data(),
                   cmd.cwd.empty() ? nullptr : cmd.cwd.c_str(),
                   own_stdin ? 0 : in->read.get(), cmd.inherit_stdio ? 1 : out->write.get(),
                   cmd.inherit_stdio && !hold ? 2 : err->write.get(), report->write.get(),
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
    if (hold) pass_stderr(err->read, cmd.hold_stderr_lines, deadline, result);
    auto r = finish(pid, deadline, result);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    return r;
  }

  for (unique_fd* fd : {&in->write, &out->read, &err->read}) {
    if (!*fd) continue;  // a file in place of the pipe
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

  bool abandoned = false;  // on_output said stop
  while (!abandoned && (in->write || out->read || err->read)) {
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
    if (cmd.on_output && (wait_ms < 0 || wait_ms > 500)) wait_ms = 500;  // the quiet tick
    pollfd fds[3];
    unique_fd* owners[3];
    nfds_t count = 0;
    for (unique_fd* fd : {&in->write, &out->read, &err->read}) {
      if (!*fd) continue;
      short events = fd == &in->write ? POLLOUT : POLLIN;
      fds[count] = pollfd{fd->get(), events, 0};
      owners[count++] = fd;
    }
    const int ready = ::poll(fds, count, wait_ms);
    if (ready == 0 && cmd.on_output && !cmd.on_output(0, {})) {
      kill_group(pid);
      abandoned = true;
      continue;
    }
    if (ready < 0) {
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
      if (&fd == &out->read || &fd == &err->read) {
        const int stream = &fd == &out->read ? 1 : 2;
        std::string& into = stream == 1 ? result.out : result.err;
        if (!cmd.on_output) {
          read_some(fd, into, buf.data(), kChunk);
          continue;
        }
        std::string chunk;
        read_some(fd, chunk, buf.data(), kChunk);
        if (!chunk.empty() && !cmd.on_output(stream, chunk)) {
          kill_group(pid);
          abandoned = true;
        }
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

}  // namespace brig::proc
