#include "fakes/fake_runner.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace brig::testing {

proc::Output canned(int exit_code, std::string out, std::string err) {
  proc::Output o;
  o.exit_code = exit_code;
  o.out = std::move(out);
  o.err = std::move(err);
  return o;
}

FakeRunner& FakeRunner::on(std::vector<std::string> prefix, proc::Output output) {
  rules_.push_back({std::move(prefix), std::move(output)});
  return *this;
}

FakeRunner& FakeRunner::fail(std::vector<std::string> prefix, Error error) {
  rules_.push_back({std::move(prefix), std::move(error)});
  return *this;
}

Result<proc::Output> FakeRunner::run(const proc::Command& cmd) {
  std::lock_guard lock(*mu_);  // the engine runs independent checks concurrently
  calls.push_back(cmd);
  const Rule* best = nullptr;
  for (const Rule& rule : rules_) {
    bool matches = rule.prefix.size() <= cmd.argv.size() &&
                   std::equal(rule.prefix.begin(), rule.prefix.end(), cmd.argv.begin());
    if (matches && (best == nullptr || rule.prefix.size() >= best->prefix.size())) best = &rule;
  }
  const Result<proc::Output>& answer = best == nullptr ? Result<proc::Output>(default_output) : best->answer;
  if (after && answer) after(cmd, *answer);
  return answer;
}

Status FakeRunner::spawn_detached(const proc::Command& cmd) {
  std::lock_guard lock(*mu_);
  detached.push_back(cmd);
  return {};
}

}  // namespace brig::testing
