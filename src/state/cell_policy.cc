#include "brig/state/cell_policy.h"

#include <unistd.h>

#include <cerrno>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/state/lock.h"

namespace brig::state {

Result<nlohmann::json> parse_cell_policy(std::string_view text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Error(Errc::invalid, source + " is not JSON: " + e.what());
  }
  if (!j.is_object()) {
    return Error(Errc::invalid, source + " is not a JSON object (the top level is " + j.type_name() + ")");
  }
  return j;
}

std::string serialize_cell_policy(const nlohmann::json& doc) {
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<std::string> read_cell_policy(const Paths& paths, const std::string& cell) {
  return fs::read_file(paths.cell_policy(cell), kMaxCellPolicyBytes);
}

Status store_cell_policy(const Paths& paths, const std::string& cell, const nlohmann::json& doc) {
  BRIG_TRY(fs::make_dirs(paths.policy_dir() + "/cells", 0755));
  return fs::write_atomic(paths.cell_policy(cell), serialize_cell_policy(doc), 0644);
}

Status remove_cell_policy(const Paths& paths, const std::string& cell) {
  const std::string path = paths.cell_policy(cell);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("removing " + path, errno).with_fix("rm -f " + path);
  return {};
}

Status edit_cell_policy(const Paths& paths, const std::string& cell,
                        const std::function<Status(nlohmann::json&)>& change,
                        const std::function<Status(const std::string& text, const std::string& path)>& check) {
  const std::string path = paths.cell_policy(cell);
  if (cell.empty() || cell.find('/') != std::string::npos || !fs::exists(path)) {
    return Error(Errc::not_found, "no cell named " + str::quote(cell) + " has a policy",
                 "check the name with: brig cell list --all");
  }
  return with_state_lock(paths, [&]() -> Status {
    auto text = read_cell_policy(paths, cell);
    if (!text) return text.error();
    auto doc = parse_cell_policy(*text, path);
    if (!doc) return doc.error().with_fix("brig cell rm " + cell + " and run it again");
    BRIG_TRY(change(*doc));
    const std::string out = serialize_cell_policy(*doc);
    BRIG_TRY(check(out, path));
    return fs::write_atomic(path, out, 0644);
  });
}

}  // namespace brig::state
