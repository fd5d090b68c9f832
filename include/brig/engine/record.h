// What the engine keeps about a cell: $BRIG_HOME/state/<cell>/cell-state.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/podman.h"

namespace brig::engine {

struct CellRecord {
  std::string name, image, runtime, runsc_network;
  Subnet subnet;
  std::string workspace, workspace_mount;
  std::vector<std::string> secrets;
  std::string created;  // RFC 3339
  bool airgapped = false;
  nlohmann::json spec;  // the resolved spec
};

// The JSON form of a record (cell-state.json) and back.
nlohmann::json to_json(const CellRecord& r);
Result<CellRecord> record_from_json(const nlohmann::json& j);

}  // namespace brig::engine
