#include "cell_files.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/engine/plan.h"
#include "brig/spec/validate.h"
#include "seccomp_cell.h"

namespace brig::engine {
// The blobs src/engine/CMakeLists.txt generates with cmake/embed.cmake.
extern const unsigned char kStatShim[];
extern const std::size_t kStatShim_size;
extern const unsigned char kIdleInit[];
extern const std::size_t kIdleInit_size;
}  // namespace brig::engine

namespace brig::engine::cell_files {

namespace {
constexpr const char* kSystemRoots = "/etc/ssl/certs/ca-certificates.crt";
}  // namespace

std::string container_id_path(const Paths& paths, const std::string& cell) {
  return paths.cell_state(cell) + "/container.id";
}

std::string record_path(const Paths& paths, const std::string& cell) {
  return paths.cell_state(cell) + "/cell-state.json";
}

std::string dump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> cell_names(const Paths& paths) {
  std::vector<std::string> out;
  for (const auto& n : fs::list_names(paths.state_dir(), "")) {
    if (n == "system") continue;
    if (fs::exists(record_path(paths, n))) out.push_back(n);
  }
  return out;
}

Status write_cell_json(const Paths& paths, const CellRecord& rec) {
  return fs::write_atomic(paths.cell_state(rec.name) + "/brig/cell.json", dump(cell_json(rec, timefmt::now_rfc3339()), 2) + "\n",
                          0644);
}

bool trusts_warden_ca(const CellRecord& rec) {
  if (rec.airgapped) return false;
  auto it = rec.spec.find("trust_warden_ca");
  return it == rec.spec.end() || !it->is_boolean() || it->get<bool>();
}

Result<std::string> ca_bundle(const Paths& paths) {
  auto roots = fs::read_file(kSystemRoots, 8 << 20);
  auto ca = fs::read_file(paths.ca_cert(), 1 << 20);
  if (!ca) return Error(Errc::not_found, "brig's CA is missing (" + paths.ca_cert() + ")", "brig system init");
  return (roots ? *roots : std::string()) + "\n# brig CA\n" + *ca;
}

Status write_ca_bundle(const Paths& paths, const std::string& cell) {
  auto bundle = ca_bundle(paths);
  if (!bundle) return bundle.error();
  return fs::write_atomic(paths.cell_state(cell) + "/brig/ca-bundle.crt", *bundle, 0644);
}

std::string stat_shim() { return std::string(reinterpret_cast<const char*>(kStatShim), kStatShim_size); }
std::string idle_init() { return std::string(reinterpret_cast<const char*>(kIdleInit), kIdleInit_size); }

std::string seccomp_profile_path(const Paths& paths) { return paths.run_dir() + "/seccomp-cell.json"; }

Result<std::string> write_seccomp_profile(const Paths& paths) {
  const std::string path = seccomp_profile_path(paths);
  auto cur = fs::read_file(path, 1 << 20);
  if (!cur || *cur != internal::kSeccompCellProfile) BRIG_TRY(fs::write_atomic(path, internal::kSeccompCellProfile, 0644));
  return path;
}

std::map<std::string, std::string> cell_env(const spec::CellSpec& s, const CellRecord& rec, bool trust_ca) {
  std::map<std::string, std::string> env;
  if (s.env.has()) env = *s.env;
  const std::string proxy = "http://" + rec.subnet.warden_ip() + ":" + std::to_string(kProxyPort);
  for (auto k : spec::kCellProxyEnv) env[std::string(k)] = proxy;
  env[std::string(spec::kCellNodeProxyEnv)] = "1";
  for (auto k : spec::kCellNoProxyEnv) env[std::string(k)] = "localhost,127.0.0.1";
  if (trust_ca) {
    for (auto k : spec::kCellCaBundleEnv) {
      env.emplace(k, "/run/brig/ca-bundle.crt");  // emplace: the spec's value wins
    }
  }
  env[std::string(spec::kCellNameEnv)] = rec.name;
  // Injected secrets: the placeholder only; warden holds the value.
  for (const auto& i : rec.injected) env[i.env] = i.placeholder;
  return env;
}

}  // namespace brig::engine::cell_files
