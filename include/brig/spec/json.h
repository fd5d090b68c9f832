// The resolved spec as JSON (for `run --dry-run --format json` and the engine).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "brig/spec/cell_spec.h"

namespace brig::spec {

nlohmann::json to_json(const CellSpec& spec);
nlohmann::json to_json(const PolicyBlock& block);

}  // namespace brig::spec
