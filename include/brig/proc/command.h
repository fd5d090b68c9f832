// Running other programs: argv, never a shell string.
#pragma once

#include <chrono>
#include <optional>
#include <string>
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
};

struct Output {
  int exit_code = 0;      // the child's exit status, or 128+signal if killed
  int term_signal = 0;    // the signal that ended the child, 0 if it exited
  bool timed_out = false; // brig killed it at the deadline
  std::string out;        // everything it wrote to stdout
  std::string err;        // everything it wrote to stderr

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
  // Runs `cmd` on brig's own stdin/stdout/stderr (the terminal, for attached
  // cells, `exec -it` and `logs -f`) and returns its exit code (128+signal if
  // killed). The default runs run() and copies the captured output, which is
  // what fakes need.
  virtual Result<int> attach(const Command& cmd);
};

// fork/exec without a shell: exec failure reported through a CLOEXEC pipe,
// fds >= 3 closed in the child, the given environment only, stdout and stderr
// read together with poll, the child's process group SIGKILLed at the deadline,
// every syscall retried on EINTR.
class PosixRunner final : public Runner {
 public:
  Result<Output> run(const Command& cmd) override;
  Result<int> attach(const Command& cmd) override;
};

// Looks `name` up in PATH (or checks it if it contains a '/').
std::optional<std::string> find_executable(const std::string& name);

}  // namespace brig::proc
