// What warden knows about cells: the subnet map and each cell's compiled
// policy, rate bucket and counters, published as an immutable snapshot that
// handlers read without locks. A reloader thread rebuilds it when a file
// changes (nanosecond mtime), keeping the last good version of any file that
// became invalid.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "brig/core/paths.h"
#include "brig/policy/policy.h"
#include "brig/state/subnet_map.h"
#include "brig/warden/netaddr.h"
#include "metrics.h"

namespace brig::warden {

// A token bucket; one per cell, its own lock (no global one on the hot path).
class TokenBucket {
 public:
  void configure(double rate, double burst);  // rate <= 0: unlimited
  // Takes a token; false (and the seconds until one is available) when empty.
  bool take(double* retry_after);

 private:
  std::mutex mu_;
  double rate_ = 0, burst_ = 0, tokens_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

struct CellState {
  std::string name;
  std::shared_ptr<const policy::Policy> policy;
  std::shared_ptr<TokenBucket> bucket;
  std::shared_ptr<CellMetrics> metrics;
  std::shared_ptr<std::atomic<int>> tunnels;  // open CONNECT tunnels
};

struct Snapshot {
  std::uint64_t generation = 0;
  std::vector<std::pair<Cidr, std::shared_ptr<CellState>>> subnets;
  // The cell whose subnet holds `addr` (v4-mapped v6 unwrapped), or null.
  const CellState* cell_for(const IpAddr& addr) const;
};

class PolicyStore {
 public:
  PolicyStore(Paths paths, Metrics& metrics);
  ~PolicyStore();

  std::shared_ptr<const Snapshot> current() const { return snap_.load(std::memory_order_acquire); }

  // Rebuilds now if any file changed; returns true if a new snapshot was published.
  bool reload();
  // Polls every `period` on a background thread until destruction.
  void start(std::chrono::milliseconds period);
  void request_reload();  // SIGHUP

 private:
  std::string fingerprint() const;

  Paths paths_;
  Metrics& metrics_;
  std::atomic<std::shared_ptr<const Snapshot>> snap_;
  std::string last_fp_;
  std::uint64_t generation_ = 0;
  // Last good parse of each file, kept when a new version is invalid.
  std::map<std::string, spec::PolicyBlock> good_;
  state::SubnetMap good_subnets_;  // CIDR -> cell
  std::map<std::string, std::shared_ptr<CellState>> cells_;  // long-lived buckets, counters
  std::mutex reload_mu_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, kick_ = false;
};

}  // namespace brig::warden
