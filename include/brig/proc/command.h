// Running other programs: argv, never a shell string.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"

namespace brig::proc {

struct Command {
  std::vector<std::string> argv;  // argv[0] is a path or a name looked up in PATH
  // The child's whole environment as "K=V" strings. nullopt: a copy of ours.
  std::optional<std::vector<std::string>> env;
  std::string cwd;                         // empty: ours
  std::string stdin_data;                  // written to the child's stdin, then closed
  std::chrono::milliseconds timeout{0};    // 0: no deadline
  // The child shares our stdin, stdout, stderr (and so the terminal) and our
  // process group, so the user sees its progress and Ctrl-C reaches it.
  // Output::out/err stay empty; stdin_data must be empty.
  bool inherit_stdio = false;
  // With inherit_stdio: the child's stderr passes through brig, which writes
  // it on at once except whole lines starting with one of these prefixes;
  // those are kept in Output::err, for the caller to explain or print.
  std::vector<std::string> hold_stderr_lines = {};
  // The child's stdin is this file (not with stdin_data; with inherit_stdio,
  // in place of ours).
  std::string stdin_file = {};
  // The child's stdout goes to this file, created 0600 or truncated; Output::out stays empty.
  std::string stdout_file = {};
  // Not with inherit_stdio: each chunk of stdout (stream 1) and stderr (2) as
  // it is read, instead of into Output::out/err, and stream 0 with no data
  // every half second the child is quiet (so the caller can tell the reader
  // went away). Returning false kills the child's process group; the run
  // then ends as at a deadline, without timed_out.
  std::function<bool(int stream, std::string_view data)> on_output = {};
};

struct Output {
  int exit_code = 0;      // the child's exit status, or 128+signal if killed
  int term_signal = 0;    // the signal that ended the child, 0 if it exited
  bool timed_out = false; // brig killed it at the deadline
  std::string out;        // everything it wrote to stdout
  std::string err;        // everything it wrote to stderr (the held lines with inherit_stdio)

  bool success() const { return exit_code == 0 && !timed_out; }
};

// The seam in front of the OS: engine code runs podman, runsc, nft and ip
// through a Runner so tests can record argv and return canned output.
class Runner {
 public:
  virtual ~Runner() = default;
  // Runs `cmd` to completion. Errors: Errc::not_found if argv[0] does not
  // exist, Errc::io ("permission denied") if it is not executable, and
  // Errc::usage for an empty argv. A non-zero exit is not an error: see Output.
  virtual Result<Output> run(const Command& cmd) = 0;
  // Starts `cmd` in its own session, not waited for (it outlives us);
  // spawn_detached() below. A seam so tests see what would be started.
  virtual Status spawn_detached(const Command& cmd) = 0;
};

// fork/exec without a shell: exec failure reported through a CLOEXEC pipe,
// fds >= 3 closed in the child, the given environment only, stdout and stderr
// read together with poll, the child's process group SIGKILLed at the deadline,
// every syscall retried on EINTR.
class PosixRunner final : public Runner {
 public:
  Result<Output> run(const Command& cmd) override;
  Status spawn_detached(const Command& cmd) override;
};

// Replaces this process with `cmd.argv` (PATH lookup as for run(); cmd.env
// as for run(); cwd, stdin_data and timeout must be unset). The terminal,
// signals and the exit code then belong to the new program. Returns only if
// the exec failed.
Error exec_replace(const Command& cmd);

// Starts `cmd` in a new session, detached from brig (stdio on /dev/null, or
// stdout and stderr appended to cmd.stdout_file, a daemon's log; fds >= 3
// closed, reparented to init), and returns once it has exec'ed, without
// waiting for it; it outlives brig. A failed exec is an error as for
// PosixRunner::run (through the same CLOEXEC report pipe). cmd.env and cmd.cwd
// as for run(); stdin_data, stdin_file, timeout and inherit_stdio must be unset.
Status spawn_detached(const Command& cmd);

// Looks `name` up in PATH (or checks it if it contains a '/').
std::optional<std::string> find_executable(const std::string& name);

}  // namespace brig::proc
