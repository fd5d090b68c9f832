#include "metrics.h"

#include <cstdio>

namespace brig::warden {
namespace {

constexpr const char* kOutcomeNames[kOutcomes] = {"allow", "deny", "ratelimit", "error"};
constexpr const char* kBlockNames[kBlocks] = {"policy", "unknown_source", "blocked_address", "sni_mismatch",
                                              "host_mismatch", "malformed", "limit", "secret", "host_service"};
constexpr const char* kDnsAnswerNames[kDnsAnswers] = {"address", "empty", "nxdomain", "refused", "dropped"};

void line(std::string& out, const char* name, const std::string& labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += " ";
  out += buf;
  out += "\n";
}

}  // namespace

std::string_view block_name(Block b) { return kBlockNames[static_cast<std::size_t>(b)]; }

void CellMetrics::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  duration[i].fetch_add(1, std::memory_order_relaxed);
  duration_count.fetch_add(1, std::memory_order_relaxed);
  duration_sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::shared_ptr<CellMetrics> Metrics::cell(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& p = cells_[name];
  if (!p) p = std::make_shared<CellMetrics>();
  return p;
}

void Metrics::ingress(const std::string& cell, const std::string& route, int code, double seconds) {
  std::lock_guard lock(mu_);
  auto& c = ingress_[cell];
  ++c.requests[{route, code}];
  c.timing.observe(seconds);
}

void Metrics::host_service(const std::string& cell, const std::string& service, Outcome outcome,
                           std::uint64_t bytes_in, std::uint64_t bytes_out) {
  std::lock_guard lock(mu_);
  auto& c = host_services_[{cell, service}];
  ++c.connections[static_cast<std::size_t>(outcome)];
  c.bytes_in += bytes_in;
  c.bytes_out += bytes_out;
}

std::string Metrics::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  auto header = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  header("brig_warden_requests_total", "counter", "Requests and tunnels by cell and decision.");
  for (const auto& [cell, m] : cells_)
    for (std::size_t i = 0; i < kOutcomes; ++i)
      line(out, "brig_warden_requests_total", "cell=\"" + cell + "\",decision=\"" + kOutcomeNames[i] + "\"", static_cast<double>(m->requests[i].load()));
  header("brig_warden_blocked_total", "counter", "Refusals by cell and reason.");
  for (const auto& [cell, m] : cells_)
    for (std::size_t i = 0; i < kBlocks; ++i)
      if (auto v = m->blocked[i].load()) line(out, "brig_warden_blocked_total", "cell=\"" + cell + "\",reason=\"" + kBlockNames[i] + "\"", static_cast<double>(v));
  header("brig_warden_bytes_total", "counter", "Bytes relayed by cell and direction (in: to the cell).");
  for (const auto& [cell, m] : cells_) {
    line(out, "brig_warden_bytes_total", "cell=\"" + cell + "\",direction=\"in\"", static_cast<double>(m->bytes_in.load()));
    line(out, "brig_warden_bytes_total", "cell=\"" + cell + "\",direction=\"out\"", static_cast<double>(m->bytes_out.load()));
  }
  auto histogram = [&](const char* name, const std::string& cell, const CellMetrics& m) {
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i <= kBuckets.size(); ++i) {
      cum += m.duration[i].load();
      char le[32];
      if (i < kBuckets.size()) std::snprintf(le, sizeof le, "%g", kBuckets[i]);
      else std::snprintf(le, sizeof le, "+Inf");
      line(out, (std::string(name) + "_bucket").c_str(), "cell=\"" + cell + "\",le=\"" + le + "\"", static_cast<double>(cum));
    }
    line(out, (std::string(name) + "_sum").c_str(), "cell=\"" + cell + "\"", static_cast<double>(m.duration_sum_us.load()) / 1e6);
    line(out, (std::string(name) + "_count").c_str(), "cell=\"" + cell + "\"", static_cast<double>(m.duration_count.load()));
  };
  header("brig_warden_request_duration_seconds", "histogram", "Request and tunnel duration.");
  for (const auto& [cell, m] : cells_) histogram("brig_warden_request_duration_seconds", cell, *m);
  header("brig_warden_passthrough_connections_total", "counter", "TLS passthrough tunnels by cell.");
  for (const auto& [cell, m] : cells_) line(out, "brig_warden_passthrough_connections_total", "cell=\"" + cell + "\"", static_cast<double>(m->passthrough.load()));
  header("brig_warden_ratelimited_total", "counter", "Requests refused with 429 by cell.");
  for (const auto& [cell, m] : cells_) line(out, "brig_warden_ratelimited_total", "cell=\"" + cell + "\"", static_cast<double>(m->ratelimited.load()));
  header("brig_warden_secret_injections_total", "counter", "Requests warden injected a secret's value into, by cell.");
  for (const auto& [cell, m] : cells_) line(out, "brig_warden_secret_injections_total", "cell=\"" + cell + "\"", static_cast<double>(m->injected.load()));
  header("brig_warden_revoked_connections_total", "counter", "Open connections closed because a policy change no longer allows them, by cell.");
  for (const auto& [cell, m] : cells_) line(out, "brig_warden_revoked_connections_total", "cell=\"" + cell + "\"", static_cast<double>(m->revoked.load()));
  header("brig_warden_transparent_connections_total", "counter", "Connections on the transparent HTTP and HTTPS listeners, by cell.");
  for (const auto& [cell, m] : cells_) line(out, "brig_warden_transparent_connections_total", "cell=\"" + cell + "\"", static_cast<double>(m->transparent.load()));
  header("brig_warden_dns_queries_total", "counter", "Queries to warden's resolver by cell and answer (address, empty, nxdomain, refused, dropped).");
  for (const auto& [cell, m] : cells_)
    for (std::size_t i = 0; i < kDnsAnswers; ++i)
      if (auto v = m->dns[i].load()) line(out, "brig_warden_dns_queries_total", "cell=\"" + cell + "\",answer=\"" + kDnsAnswerNames[i] + "\"", static_cast<double>(v));
  header("brig_warden_ingress_requests_total", "counter", "Ingress requests by cell, route and status code.");
  for (const auto& [cell, c] : ingress_)
    for (const auto& [rc, n] : c.requests)
      line(out, "brig_warden_ingress_requests_total",
           "cell=\"" + cell + "\",route=\"" + rc.first + "\",code=\"" + std::to_string(rc.second) + "\"", static_cast<double>(n));
  header("brig_warden_ingress_request_duration_seconds", "histogram", "Ingress request duration (to the end of the response).");
  for (const auto& [cell, c] : ingress_) histogram("brig_warden_ingress_request_duration_seconds", cell, c.timing);
  header("brig_warden_host_service_connections_total", "counter",
         "Connections (tcp) and requests (http) to declared host services, by cell, service and decision.");
  for (const auto& [key, c] : host_services_)
    for (std::size_t i = 0; i < kOutcomes; ++i)
      if (c.connections[i])
        line(out, "brig_warden_host_service_connections_total",
             "cell=\"" + key.first + "\",service=\"" + key.second + "\",decision=\"" + kOutcomeNames[i] + "\"",
             static_cast<double>(c.connections[i]));
  header("brig_warden_host_service_bytes_total", "counter", "Bytes to and from host services by cell, service and direction (in: to the cell).");
  for (const auto& [key, c] : host_services_) {
    const std::string labels = "cell=\"" + key.first + "\",service=\"" + key.second + "\",direction=";
    line(out, "brig_warden_host_service_bytes_total", labels + "\"in\"", static_cast<double>(c.bytes_in));
    line(out, "brig_warden_host_service_bytes_total", labels + "\"out\"", static_cast<double>(c.bytes_out));
  }
  header("brig_warden_active_connections", "gauge", "Client connections open now.");
  line(out, "brig_warden_active_connections", "", static_cast<double>(active_connections.load()));
  header("brig_warden_cert_cache_hits_total", "counter", "Leaf certificate cache hits.");
  line(out, "brig_warden_cert_cache_hits_total", "", static_cast<double>(cert_hits.load()));
  header("brig_warden_cert_cache_misses_total", "counter", "Leaf certificates generated.");
  line(out, "brig_warden_cert_cache_misses_total", "", static_cast<double>(cert_misses.load()));
  header("brig_warden_policy_reloads_total", "counter", "Policy reloads by result.");
  line(out, "brig_warden_policy_reloads_total", "result=\"ok\"", static_cast<double>(reloads_ok.load()));
  line(out, "brig_warden_policy_reloads_total", "result=\"error\"", static_cast<double>(reloads_error.load()));
  return out;
}

}  // namespace brig::warden
