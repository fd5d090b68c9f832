#include "host_services.h"

namespace brig::warden {

bool in_host_service_domain(std::string_view host) {
  constexpr std::string_view kDomain = state::kHostServiceSuffix.substr(1);  // "host.brig"
  return host == kDomain || host.ends_with(state::kHostServiceSuffix);
}

HostServiceVerdict decide_http_host_service(const CellState& cell, std::string_view host, std::uint16_t port,
                                            bool relay) {
  HostServiceVerdict v;
  v.name = state::host_service_label(host);
  if (!relay) {
    v.reason = kNoHostRelay;
    return v;
  }
  if (v.name.empty()) {
    v.reason = std::string(host) + " is not a host service name (<name>.host.brig, one label of a-z, 0-9, -)";
    return v;
  }
  const state::HostServiceEntry* s = cell.host_service(v.name);
  const std::string url = "http://" + v.name + std::string(state::kHostServiceSuffix) + "/";
  if (!s) {
    v.reason = "cell " + cell.name + " declares no host service " + v.name;
    v.fix = "brig policy set " + cell.name + " --host-service " + v.name + ":" + (port == 80 ? "PORT" : std::to_string(port));
  } else if (s->protocol != "http") {
    v.reason = "host service " + v.name + " is " + s->protocol + ": connect to " + v.name +
               std::string(state::kHostServiceSuffix) + ":" + std::to_string(s->port) + " directly, not through the proxy";
  } else if (port != 80 && port != s->port) {
    v.reason = "host service " + v.name + " is on port " + std::to_string(s->port) + ", not " + std::to_string(port) +
               ": use " + url;
  } else {
    v.entry = s;
  }
  return v;
}

std::string host_service_tls_refusal(std::string_view host) {
  std::string name = state::host_service_label(host);
  if (name.empty()) name = "NAME";
  return "host services are plain HTTP: use http://" + name + std::string(state::kHostServiceSuffix) + "/";
}

}  // namespace brig::warden
