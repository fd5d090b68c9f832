// The engine's rollback: steps already applied, undone in reverse when a later
// one fails. An undo reports whether it worked, so a failed undo is recorded
// (and shown to the user) instead of being logged as "undone".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "brig/core/error.h"

namespace brig::engine {

class Rollback {
 public:
  // An undo returns an Error when it could not undo its step; the Error's fix
  // says how to remove what was left behind by hand.
  using Undo = std::function<Status()>;

  struct Failure {
    std::string step;
    Error error;
  };
  // What run() did: the steps undone, and those whose undo failed, in the
  // order they were undone (the reverse of add()).
  struct Report {
    std::vector<std::string> undone;
    std::vector<Failure> failed;
    bool complete() const { return failed.empty(); }
  };

  Rollback() = default;
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  // Undoes whatever is still registered (a path that returned early).
  ~Rollback();

  void add(std::string step, Undo undo);
  // Success: the steps stay, nothing will be undone.
  void commit() { steps_.clear(); }
  // Undoes every registered step in reverse order, once; a failed undo does
  // not stop the others. Afterwards nothing is registered.
  Report run();
  // The steps registered, in the order they were added.
  std::vector<std::string> names() const;

 private:
  struct Step {
    std::string name;
    Undo undo;
  };
  std::vector<Step> steps_;
};

// `original` with what the rollback left behind: the message names each step
// whose undo failed and why; the fix is the by-hand cleanup of those steps.
// `original` unchanged when the rollback was complete.
Error with_rollback(const Error& original, const Rollback::Report& report);

}  // namespace brig::engine
