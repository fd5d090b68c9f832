// A proc::Runner for tests: records every Command and answers with canned
// Output chosen by argv prefix, so engine code runs without podman or runsc.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "brig/proc/command.h"

namespace brig::testing {

// A canned answer: exit code, stdout, stderr.
proc::Output canned(int exit_code, std::string out = {}, std::string err = {});

class FakeRunner final : public proc::Runner {
 public:
  // Answers commands whose argv starts with `prefix`. The longest matching
  // prefix wins; among equal ones, the one added last.
  FakeRunner& on(std::vector<std::string> prefix, proc::Output output);
  // Like on(), but run() returns `error` (e.g. "podman: command not found").
  FakeRunner& fail(std::vector<std::string> prefix, Error error);

  // Records `cmd` in `calls`; returns the matching answer, or
  // `default_output` (exit 0, no output) when nothing matches. Safe to call
  // from several threads (rules must not change meanwhile).
  Result<proc::Output> run(const proc::Command& cmd) override;
  // Records `cmd` in `detached`; starts nothing.
  Status spawn_detached(const proc::Command& cmd) override;

  std::vector<proc::Command> calls;
  std::vector<proc::Command> detached;
  proc::Output default_output;
  // Called with each command run() answers and its answer, under the lock:
  // what the real tool would leave behind (a file it writes).
  std::function<void(const proc::Command&, const proc::Output&)> after;

 private:
  struct Rule {
    std::vector<std::string> prefix;
    Result<proc::Output> answer;
  };
  std::vector<Rule> rules_;
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();  // movable
};

}  // namespace brig::testing
