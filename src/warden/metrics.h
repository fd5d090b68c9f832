// Warden's counters, rendered as Prometheus text on /metrics. Per-cell
// counters are created once per cell and reached through the policy snapshot,
// so the hot path only touches atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace brig::warden {

enum class Outcome : std::uint8_t { allow, deny, ratelimit, error };
inline constexpr std::size_t kOutcomes = 4;

// Blocked-by reasons (bounded label set).
// secret: a request carried an injected secret's placeholder where it may
// not go (an exfiltration attempt). host_service: a <name>.host.brig the
// cell does not declare (or not so: TLS, another port or protocol).
enum class Block : std::uint8_t {
  policy, unknown_source, blocked_address, sni_mismatch, host_mismatch, malformed, limit, secret, host_service
};
inline constexpr std::size_t kBlocks = 9;
// Its label in metrics and its code in X-Brig-Blocked ("blocked_address").
std::string_view block_name(Block b);

// How warden's resolver answered a cell's query: an address (a name the
// policy allows), an empty answer (an allowed name, another type than A), a
// name that does not exist (everything else), an error (FORMERR, NOTIMP,
// REFUSED), or not at all (malformed, unattributable or over the cell's DNS rate).
enum class DnsAnswer : std::uint8_t { address, empty, nxdomain, refused, dropped };
inline constexpr std::size_t kDnsAnswers = 5;

inline constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

struct CellMetrics {
  std::array<std::atomic<std::uint64_t>, kOutcomes> requests{};
  std::array<std::atomic<std::uint64_t>, kBlocks> blocked{};
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0};  // in: from upstream to cell; out: cell to upstream
  std::atomic<std::uint64_t> passthrough{0};
  std::atomic<std::uint64_t> ratelimited{0};
  std::atomic<std::uint64_t> injected{0};  // requests warden put a secret's value in
  std::atomic<std::uint64_t> revoked{0};   // open connections closed after a policy change
  std::atomic<std::uint64_t> transparent{0};  // connections on the transparent HTTP/HTTPS listeners
  std::array<std::atomic<std::uint64_t>, kDnsAnswers> dns{};
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> duration{};  // last: +Inf
  std::atomic<std::uint64_t> duration_count{0};
  std::atomic<std::uint64_t> duration_sum_us{0};

  void observe(double seconds);
};

class Metrics {
 public:
  std::shared_ptr<CellMetrics> cell(const std::string& name);  // created on first use

  std::atomic<std::int64_t> active_connections{0};
  std::atomic<std::uint64_t> cert_hits{0}, cert_misses{0};
  std::atomic<std::uint64_t> reloads_ok{0}, reloads_error{0};

  // One ingress request to `cell` by `route` ("" when none matched) answered
  // with `code` after `seconds`.
  void ingress(const std::string& cell, const std::string& route, int code, double seconds);
  // One connection (tcp) or request (http) to `cell`'s declared host service
  // `service`, ended with `outcome` after moving these bytes (in: to the cell).
  void host_service(const std::string& cell, const std::string& service, Outcome outcome, std::uint64_t bytes_in,
                    std::uint64_t bytes_out);

  std::string render() const;

 private:
  struct IngressCounts {
    std::map<std::pair<std::string, int>, std::uint64_t> requests;  // (route, code)
    CellMetrics timing;                                              // its duration histogram only
  };
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<CellMetrics>> cells_;
  std::map<std::string, IngressCounts> ingress_;
  struct HostServiceCounts {
    std::array<std::uint64_t, kOutcomes> connections{};
    std::uint64_t bytes_in = 0, bytes_out = 0;
  };
  std::map<std::pair<std::string, std::string>, HostServiceCounts> host_services_;  // (cell, service)
};

}  // namespace brig::warden
