// $BRIG_HOME/secrets: one file per secret, 0600, mounted read-only into the
// cells that name it at /run/secrets/<name>. Values never reach argv, the
// environment or a log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::engine {

struct SecretInfo {
  std::string name;
  std::uint64_t size = 0;
};

// Stores `value` as secret `name` (replacing it): name rules of the spec, written
// 0600 through a temp file opened O_NOFOLLOW|O_EXCL, renamed into place.
Status secret_add(const Paths& paths, const std::string& name, const std::string& value);
Result<std::vector<SecretInfo>> secret_list(const Paths& paths);
// Refuses (Errc::exists) while a running cell in `users` uses it, unless forced.
Status secret_rm(const Paths& paths, const std::string& name, const std::vector<std::string>& running_users, bool force);

}  // namespace brig::engine
