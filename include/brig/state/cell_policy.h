// $BRIG_HOME/policy/cells/<cell>.json: one cell's egress policy, a JSON object
// in the policy document format (whose rules policy::parse_document owns).
// The engine writes it when a cell is made and removes it with the cell;
// `brig policy set|rm --cell` edit it under the state lock; warden reads it.
// This file owns how it is stored: the size cap, the JSON object shape, the
// pretty-printed text and the locked read-modify-write.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

inline constexpr std::size_t kMaxCellPolicyBytes = 1u << 20;  // = policy::kMaxPolicyBytes (tested)

// Pure. Errc::invalid "<source> is not JSON: ..." or "<source> is not a JSON
// object ..." otherwise the document.
Result<nlohmann::json> parse_cell_policy(std::string_view text, const std::string& source);
// Pure. Two-space indented JSON with a final newline; invalid UTF-8 replaced.
std::string serialize_cell_policy(const nlohmann::json& doc);

// The file's text; Errc::not_found when the cell has none.
Result<std::string> read_cell_policy(const Paths& paths, const std::string& cell);
// Writes the document atomically (creating policy/cells).
Status store_cell_policy(const Paths& paths, const std::string& cell, const nlohmann::json& doc);

// Removes the cell's file; nothing to do when there is none. Errc::io (fix:
// the rm command) when it cannot be removed.
Status remove_cell_policy(const Paths& paths, const std::string& cell);

// Read-modify-write under the state lock: reads the cell's document, applies
// `change`, serializes it and asks `check` (given the new text and the path)
// whether it is a valid policy; only then replaces the file. Errc::not_found
// when `cell` has no policy file (or is not a plain name); any error of
// `change` or `check` leaves the file as it was.
Status edit_cell_policy(const Paths& paths, const std::string& cell,
                        const std::function<Status(nlohmann::json&)>& change,
                        const std::function<Status(const std::string& text, const std::string& path)>& check);

}  // namespace brig::state
