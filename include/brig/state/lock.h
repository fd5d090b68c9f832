// brig's state lock, $BRIG_HOME/state/system/lock: every read-modify-write of
// the subnet map or a cell's policy file happens while holding it, so two brig
// processes never lose each other's change.
#pragma once

#include <functional>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

std::string state_lock_path(const Paths& paths);  // state/system/lock

// Runs `fn` while holding the state lock (created, with its directory, if
// needed) and returns what `fn` returns; a lock that cannot be taken is an
// error "locking brig's state: ...".
Status with_state_lock(const Paths& paths, const std::function<Status()>& fn);

}  // namespace brig::state
