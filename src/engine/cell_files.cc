#include "cell_files.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/plan.h"
#include "seccomp_cell.h"

namespace brig::engine::cell_files {

namespace {
constexpr const char* kSystemRoots = "/etc/ssl/certs/ca-certificates.crt";
}  // namespace

std::string record_path(const Paths& paths, const std::string& cell) {
  return paths.cell_state(cell) + "/cell-state.json";
}

std::string dump(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
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
  return fs::write_atomic(paths.cell_state(rec.name) + "/brig/cell.json", dump(cell_json(rec, now_rfc3339()), 2) + "\n",
                          0644);
}

bool trusts_warden_ca(const CellRecord& rec) {
  if (rec.airgapped) return false;
  auto it = rec.spec.find("trust_warden_ca");
  return it == rec.spec.end() || !it->is_boolean() || it->get<bool>();
}

Status write_ca_bundle(const Paths& paths, const std::string& cell) {
  auto roots = fs::read_file(kSystemRoots, 8 << 20);
  auto ca = fs::read_file(paths.ca_cert(), 1 << 20);
  if (!ca) return Error(Errc::not_found, "brig's CA is missing (" + paths.ca_cert() + ")", "brig system init");
  std::string bundle = (roots ? *roots : std::string()) + "\n# brig CA\n" + *ca;
  return fs::write_atomic(paths.cell_state(cell) + "/brig/ca-bundle.crt", bundle, 0644);
}

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
  for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) env[k] = proxy;
  for (const char* k : {"NO_PROXY", "no_proxy"}) env[k] = "localhost,127.0.0.1";
  if (trust_ca) {
    for (const char* k : {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"}) {
      env.emplace(k, "/run/brig/ca-bundle.crt");  // emplace: the spec's value wins
    }
  }
  env["BRIG_CELL"] = rec.name;
  return env;
}

}  // namespace brig::engine::cell_files
