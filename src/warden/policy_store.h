// Warden's policy store: reads the subnet map and the policy files (through
// their owners in brig/state), builds a Snapshot from them (snapshot.h, pure)
// and publishes it for handlers to read without locks. A reloader thread
// rebuilds it when a file changes (nanosecond mtime); build_snapshot keeps
// the last good version of any file that became invalid.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "brig/core/paths.h"
#include "metrics.h"
#include "snapshot.h"

namespace brig::warden {

class PolicyStore {
 public:
  PolicyStore(Paths paths, Metrics& metrics);
  ~PolicyStore();

  std::shared_ptr<const Snapshot> current() const { return snap_.load(std::memory_order_acquire); }

  // Rebuilds now if any file changed or a time-boxed grant lapsed; returns
  // true if a new snapshot was published.
  bool reload();
  // Called (on the reloader's thread) after each new snapshot is published,
  // with the grants that lapsed in it. Set before start().
  using Listener = std::function<void(const Snapshot&, const std::vector<LapsedGrant>&)>;
  void on_publish(Listener l) { listener_ = std::move(l); }
  // Polls every `period` on a background thread until destruction, and
  // wakes when the next time-boxed grant lapses.
  void start(std::chrono::milliseconds period);
  void request_reload();  // SIGHUP

 private:
  std::string fingerprint() const;
  SnapshotSources read_sources() const;

  Paths paths_;
  Metrics& metrics_;
  std::atomic<std::shared_ptr<const Snapshot>> snap_;
  std::string last_fp_;
  Listener listener_;
  std::mutex reload_mu_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, kick_ = false;
};

}  // namespace brig::warden
