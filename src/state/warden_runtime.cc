#include "brig/state/warden_runtime.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "brig/core/fs.h"

namespace brig::state {

std::string warden_runtime_path(const Paths& paths) { return paths.run_dir() + "/warden.json"; }

Result<WardenRuntime> parse_warden_runtime(std::string_view text, const std::string& source) {
  auto bad = [&](const std::string& what) { return Error(Errc::invalid, source + " is unreadable: " + what); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  if (!j.is_object()) return bad("the top level is " + std::string(j.type_name()) + ", not an object");
  WardenRuntime info;
  for (auto [key, field] : {std::pair{"proxy", &info.proxy}, std::pair{"ops", &info.ops}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
      return bad("\"" + std::string(key) + "\" must be a non-empty string (ADDR:PORT)");
    }
    *field = it->get<std::string>();
  }
  auto pid = j.find("pid");
  if (pid == j.end() || !pid->is_number_integer() || pid->get<long long>() < 0) {
    return bad("\"pid\" must be an integer >= 0");
  }
  info.pid = static_cast<long>(pid->get<long long>());
  if (auto c = j.find("container"); c != j.end()) {
    if (!c->is_string()) return bad("\"container\" must be a string");
    info.container = c->get<std::string>();
  }
  return info;
}

std::string serialize_warden_runtime(const WardenRuntime& info) {
  nlohmann::json j = {{"proxy", info.proxy}, {"ops", info.ops}, {"pid", info.pid}};
  if (!info.container.empty()) j["container"] = info.container;
  return j.dump() + "\n";
}

Result<WardenRuntime> load_warden_runtime(const Paths& paths) {
  const std::string path = warden_runtime_path(paths);
  auto text = fs::read_file(path, 65536);
  if (!text) {
    if (text.error().code() != Errc::not_found) return text.error();
    return Error(Errc::not_found, "warden is not running (no " + path + ")", "start it with: brig system up");
  }
  auto info = parse_warden_runtime(*text, path);
  if (!info) return info.error().with_fix("restart warden: brig system restart");
  return info;
}

Status store_warden_runtime(const Paths& paths, const WardenRuntime& info) {
  BRIG_TRY(fs::make_dirs(paths.run_dir(), 0755));
  return fs::write_atomic(warden_runtime_path(paths), serialize_warden_runtime(info), 0644);
}

void remove_warden_runtime(const Paths& paths) { ::unlink(warden_runtime_path(paths).c_str()); }

}  // namespace brig::state
