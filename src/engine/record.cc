// Cell records (cell-state.json): the JSON form and reading one by name.
#include "brig/engine/record.h"

#include <cstdio>
#include <random>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/cells.h"
#include "brig/spec/validate.h"
#include "cell_files.h"

namespace brig::engine {

std::string generate_cell_name() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "cell-%06x", rd() & 0xffffff);
  return buf;
}

nlohmann::json to_json(const CellRecord& r) {
  return {{"name", r.name},
          {"image", r.image},
          {"runtime", r.runtime},
          {"runsc_network", r.runsc_network},
          {"subnet", r.subnet.index},
          {"workspace", r.workspace},
          {"workspace_mount", r.workspace_mount},
          {"secrets", r.secrets},
          {"created", r.created},
          {"airgapped", r.airgapped},
          {"spec", r.spec}};
}

Result<CellRecord> record_from_json(const nlohmann::json& j) {
  try {
    CellRecord r;
    r.name = j.at("name");
    r.image = j.at("image");
    r.runtime = j.at("runtime");
    r.runsc_network = j.value("runsc_network", "");
    r.subnet.index = j.at("subnet");
    r.workspace = j.at("workspace");
    r.workspace_mount = j.at("workspace_mount");
    r.secrets = j.value("secrets", std::vector<std::string>{});
    r.created = j.value("created", "");
    r.airgapped = j.value("airgapped", false);
    r.spec = j.value("spec", nlohmann::json::object());
    return r;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, std::string("cell state is damaged: ") + e.what(), "brig system prune --cells");
  }
}

Result<CellRecord> Cells::load_record(const std::string& cell) {
  if (spec::check_cell_name(cell) || cell.find('/') != std::string::npos) {
    return Error(Errc::usage, "invalid cell name " + str::quote(cell), "list cells with: brig cell list --all");
  }
  auto text = fs::read_file(cell_files::record_path(ctx_.paths, cell), 1 << 20);
  if (!text) {
    return Error(Errc::not_found, "no cell named " + str::quote(cell), "list cells with: brig cell list --all");
  }
  try {
    auto rec = record_from_json(nlohmann::json::parse(*text));
    if (!rec) return rec.error().context("cell " + cell).with_fix("brig cell rm " + cell);
    return rec;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, "cell " + cell + ": state file is not JSON: " + e.what(), "brig cell rm " + cell);
  }
}

}  // namespace brig::engine
