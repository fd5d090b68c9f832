#include "brig/spec/json.h"

#include <nlohmann/json.hpp>

#include "brig/core/timefmt.h"

namespace brig::spec {
namespace {

using nlohmann::json;

json rate_json(const RateLimit& r) { return {{"rate", r.rate}, {"burst", r.burst}}; }

template <class T>
json value_json(const T& v) { return v; }
json value_json(const PolicyBlock& b) { return to_json(b); }
// The file form as its name, the injected form as an object (never a value:
// a spec holds none).
json value_json(const SecretList& v) {
  json a = json::array();
  for (const auto& e : v) {
    if (!e.injected()) {
      a.push_back(e.name);
    } else {
      a.push_back({{"name", e.name}, {"env", e.env}, {"hosts", e.hosts}, {"allow_plaintext", e.allow_plaintext}});
    }
  }
  return a;
}
json value_json(const std::vector<Ingress>& v) {
  json a = json::array();
  for (const auto& e : v) a.push_back({{"name", e.name}, {"port", e.port}, {"path_prefix", e.path_prefix}, {"auth", e.auth}});
  return a;
}
json value_json(const std::vector<HostService>& v) {
  json a = json::array();
  for (const auto& e : v) a.push_back({{"name", e.name}, {"port", e.port}, {"protocol", e.protocol}});
  return a;
}
json value_json(const std::vector<HostSocket>& v) {
  json a = json::array();
  for (const auto& e : v) {
    a.push_back({{"name", e.name}, {"host_path", e.host_path}, {"mount_point", e.mount_point}, {"mode", e.mode}});
  }
  return a;
}

}  // namespace

json to_json(const PolicyBlock& b) {
  json allow = json::array();
  for (const auto& a : b.allow) {
    std::string d = a.domain + (a.port ? ":" + std::to_string(*a.port) : "");
    if (a.paths.empty() && a.methods.empty() && !a.expires) {
      allow.push_back(d);
    } else {
      json e = {{"domain", d}};
      if (!a.paths.empty()) e["paths"] = a.paths;
      if (!a.methods.empty()) e["methods"] = a.methods;
      if (a.expires) e["expires"] = timefmt::rfc3339(*a.expires);
      allow.push_back(e);
    }
  }
  auto domains = [](const std::vector<DomainEntry>& l) {
    json a = json::array();
    for (const auto& d : l) a.push_back(d.domain);
    return a;
  };
  json out = {{"allow", allow}, {"deny", domains(b.deny)}, {"tls_passthrough", domains(b.tls_passthrough)}};
  json rl = json::object();
  if (b.rate_default) rl["default"] = rate_json(*b.rate_default);
  if (!b.rate_cells.empty()) {
    json cells = json::object();
    for (const auto& [k, v] : b.rate_cells) cells[k] = rate_json(v);
    rl["cells"] = cells;
  }
  if (!rl.empty()) out["rate_limits"] = rl;
  if (b.airgapped) out["airgapped"] = true;
  return out;
}

json to_json(const CellSpec& s) {
  json out = json::object();
#define BRIG_FIELD_JSON(f) \
  if (s.f.has()) out[#f] = value_json(*s.f);
  BRIG_CELL_SPEC_FIELDS(BRIG_FIELD_JSON)
#undef BRIG_FIELD_JSON
  return out;
}

}  // namespace brig::spec
