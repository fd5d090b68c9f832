#include "system_table.h"

#include <unistd.h>

#include <cerrno>

#include "brig/core/fs.h"

namespace brig::state::detail {

Result<nlohmann::json> parse_table_object(std::string_view text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Error(Errc::invalid, source + " is not JSON: " + e.what());
  }
  if (!j.is_object()) return Error(Errc::invalid, source + ": the top level is " + std::string(j.type_name()) + ", not an object");
  return j;
}

Status store_table(const Paths& paths, const std::string& path, const std::string& text) {
  if (text.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("removing " + path, errno);
    return {};
  }
  BRIG_TRY(fs::make_dirs(paths.system_state(), 0755));
  return fs::write_atomic(path, text, 0644);
}

}  // namespace brig::state::detail
