// What the tables in state/system that warden reads by cell (ingress routes,
// host services) share: the top-level JSON object, and the file written
// (0644: warden, another uid, reads it) or removed when the table is empty.
// Private to module state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state::detail {

// Errc::invalid "<source> is not JSON: ..." or "<source>: the top level is
// T, not an object"; else the object.
Result<nlohmann::json> parse_table_object(std::string_view text, const std::string& source);
// `text` written atomically at `path` (inside paths.system_state()), or the
// file removed when `text` is empty.
Status store_table(const Paths& paths, const std::string& path, const std::string& text);

}  // namespace brig::state::detail
