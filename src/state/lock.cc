#include "brig/state/lock.h"

#include "brig/core/fs.h"

namespace brig::state {

std::string state_lock_path(const Paths& paths) { return paths.system_state() + "/lock"; }

Status with_state_lock(const Paths& paths, const std::function<Status()>& fn) {
  BRIG_TRY(fs::make_dirs(paths.system_state(), 0755));
  auto lock = fs::FileLock::acquire(state_lock_path(paths));
  if (!lock) return lock.error().context("locking brig's state");
  return fn();
}

}  // namespace brig::state
