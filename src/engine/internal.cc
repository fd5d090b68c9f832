#include "internal.h"

#include <ctime>
#include <thread>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "seccomp_cell.h"

namespace brig::engine {

Clock& real_clock() {
  struct Real final : Clock {
    std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
  };
  static Real real;
  return real;
}

}  // namespace brig::engine

namespace brig::engine::internal {

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
  nlohmann::json services = nlohmann::json::array();
  if (rec.spec.contains("host_services")) services = rec.spec["host_services"];
  nlohmann::json j = {{"version", BRIG_VERSION},
                      {"name", rec.name},
                      {"started_at", now_rfc3339()},
                      {"workspace_mount", rec.workspace_mount},
                      {"proxy", "http://" + rec.subnet.warden_ip() + ":" + std::to_string(kProxyPort)},
                      {"airgapped", rec.airgapped},
                      {"host_services", services}};
  return fs::write_atomic(paths.cell_state(rec.name) + "/brig/cell.json", dump(j, 2) + "\n", 0644);
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

Result<std::string> write_seccomp_profile(const Paths& paths) {
  const std::string path = paths.run_dir() + "/seccomp-cell.json";
  auto cur = fs::read_file(path, 1 << 20);
  if (!cur || *cur != kSeccompCellProfile) BRIG_TRY(fs::write_atomic(path, kSeccompCellProfile, 0644));
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

std::string diagnose(const std::string& out, int exit_code, const CellRecord& rec) {
  auto has = [&](const char* s) { return out.find(s) != std::string::npos; };
  std::string why;
  if (has("Read-only file system")) {
    why = "the root filesystem is read-only: write to " + rec.workspace_mount +
          ", /tmp or /run, or set writable_rootfs: true (profile dev)";
  } else if (has("\"bash\"") || (has("bash") && (has("not found") || has("No such file")))) {
    why = "this image has no bash (busybox, alpine and minimal images): use sh";
  } else if (exit_code == 127 || has("executable file not found") || has("not found")) {
    why = "the command does not exist in the image: check the command and the image's PATH";
  } else if (exit_code == 126 || has("Permission denied")) {
    why = "the command is not executable (and /tmp, /run are noexec)";
  } else if (exit_code == 137) {
    why = "the cell was killed (out of memory?): raise --memory";
  }
  return why.empty() ? std::string() : "diagnosis: " + why + "\n";
}

}  // namespace brig::engine::internal
