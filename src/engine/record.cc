// Cell records (cell-state.json): the JSON form and reading one by name.
#include "brig/engine/record.h"

#include <cmath>
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

CellRuntime cell_runtime(const CellRecord& r) { return {r.runtime, r.runsc_network, r.runsc_host_uds}; }

long record_timeout_seconds(const CellRecord& r) {
  auto secs = spec::parse_duration(record_timeout_text(r));
  return secs ? static_cast<long>(*secs) : 0;
}

std::string record_timeout_text(const CellRecord& r) {
  auto it = r.spec.find("timeout");
  return it != r.spec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

CellExit classify_exit(int podman_exit_code, long timeout_seconds, double duration_s, bool oom_killed) {
  CellExit e;
  e.exit_code = e.podman_exit_code = podman_exit_code;
  e.duration_s = duration_s;
  if (podman_exit_code == 0) return e;
  if (oom_killed) {
    e.reason = "oom";
  } else if (timeout_seconds > 0 && duration_s >= 0 && duration_s + 1.0 >= static_cast<double>(timeout_seconds)) {
    e.reason = "timeout";
    e.exit_code = kTimeoutExitCode;
  }
  return e;
}

std::string describe_exit(const CellExit& e, const CellRecord& r) {
  if (e.reason == "timeout") return "stopped after the " + record_timeout_text(r) + " timeout";
  if (e.reason == "oom") {
    auto it = r.spec.find("memory");
    const bool limit = it != r.spec.end() && it->is_string();
    return "killed: out of memory" + (limit ? " (memory limit " + it->get<std::string>() + ")" : std::string());
  }
  return "";
}

nlohmann::json exit_json(const CellExit& e) {
  nlohmann::json j = {{"exit_code", e.exit_code}};
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (e.podman_exit_code != e.exit_code) j["podman_exit_code"] = e.podman_exit_code;
  if (e.duration_s >= 0) j["duration_s"] = std::round(e.duration_s * 10) / 10;
  return j;
}

nlohmann::json to_json(const CellRecord& r) {
  nlohmann::json injected = nlohmann::json::array();
  for (const auto& i : r.injected) {
    injected.push_back({{"name", i.name},
                        {"env", i.env},
                        {"placeholder", i.placeholder},
                        {"hosts", i.hosts},
                        {"allow_plaintext", i.allow_plaintext}});
  }
  nlohmann::json sockets = nlohmann::json::array();
  for (const auto& h : r.host_sockets) {
    nlohmann::json sj = {{"name", h.name},
                         {"host_path", h.host_path},
                         {"source", h.source},
                         {"mount_point", h.mount_point},
                         {"read_only", h.read_only}};
    if (!h.bridge.empty()) sj["bridge"] = h.bridge;
    sockets.push_back(std::move(sj));
  }
  nlohmann::json j = {{"name", r.name},
          {"image", r.image},
          {"runtime", r.runtime},
          {"runsc_network", r.runsc_network},
          {"runsc_host_uds", r.runsc_host_uds},
          {"subnet", r.subnet.index},
          {"workspace", r.workspace},
          {"workspace_mount", r.workspace_mount},
          {"secrets", r.secrets},
          {"injected_secrets", injected},
          {"host_sockets", sockets},
          {"created", r.created},
          {"airgapped", r.airgapped},
          {"spec", r.spec}};
  if (!r.network.empty()) j["network"] = r.network;
  if (!r.pool.empty()) {
    j["pool"] = r.pool;
    j["claimed"] = r.claimed;
  }
  return j;
}

std::string network_of(const CellRecord& r) { return r.network.empty() ? cell_network(r.name) : r.network; }

bool is_untrusted(const CellRecord& r) {
  if (!r.spec.is_object()) return false;
  auto labels = r.spec.find("labels");
  return labels != r.spec.end() && labels->is_object() && labels->value("brig.profile", "") == "untrusted";
}

Result<CellRecord> record_from_json(const nlohmann::json& j) {
  try {
    CellRecord r;
    r.name = j.at("name");
    r.image = j.at("image");
    r.runtime = j.at("runtime");
    r.runsc_network = j.value("runsc_network", "");
    r.runsc_host_uds = j.value("runsc_host_uds", "");
    r.subnet.index = j.at("subnet");
    r.workspace = j.at("workspace");
    r.workspace_mount = j.at("workspace_mount");
    r.secrets = j.value("secrets", std::vector<std::string>{});
    for (const auto& i : j.value("injected_secrets", nlohmann::json::array())) {
      r.injected.push_back({i.at("name").get<std::string>(), i.at("env").get<std::string>(),
                            i.at("placeholder").get<std::string>(), i.at("hosts").get<std::vector<std::string>>(),
                            i.value("allow_plaintext", false)});
    }
    for (const auto& h : j.value("host_sockets", nlohmann::json::array())) {
      r.host_sockets.push_back({h.at("name").get<std::string>(), h.at("host_path").get<std::string>(),
                                h.at("source").get<std::string>(), h.at("mount_point").get<std::string>(),
                                h.value("read_only", true), h.value("bridge", "")});
    }
    r.created = j.value("created", "");
    r.airgapped = j.value("airgapped", false);
    r.spec = j.value("spec", nlohmann::json::object());
    r.network = j.value("network", "");
    r.pool = j.value("pool", "");
    r.claimed = j.value("claimed", false);
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
