#include "rollback.h"

#include <exception>
#include <utility>

namespace brig::engine {

Rollback::~Rollback() { (void)run(); }

void Rollback::add(std::string step, Undo undo) { steps_.push_back({std::move(step), std::move(undo)}); }

Rollback::Report Rollback::run() {
  Report report;
  std::vector<Step> steps = std::move(steps_);
  steps_.clear();
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    Status st;
    try {
      st = it->undo();
    } catch (const std::exception& e) {  // an undo runs in a destructor too: nothing may escape
      st = Error(Errc::failed, e.what());
    }
    if (st) {
      report.undone.push_back(it->name);
    } else {
      report.failed.push_back({it->name, st.error()});
    }
  }
  return report;
}

std::vector<std::string> Rollback::names() const {
  std::vector<std::string> n;
  for (const auto& s : steps_) n.push_back(s.name);
  return n;
}

Error with_rollback(const Error& original, const Rollback::Report& report) {
  if (report.complete()) return original;
  std::string message = original.message() + "; undoing it failed, left behind:";
  std::string fix;
  for (const auto& f : report.failed) {
    message += (&f == &report.failed.front() ? " " : ", ") + f.step + " (" + f.error.message() + ")";
    if (!f.error.fix().empty()) fix += (fix.empty() ? "" : " && ") + f.error.fix();
  }
  return Error(original.code(), message, fix.empty() ? original.fix() : fix)
      .with_exit_code(original.exit_code());
}

}  // namespace brig::engine
