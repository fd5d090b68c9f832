#include "policy_store.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "brig/core/fs.h"
#include "brig/core/timefmt.h"
#include "brig/state/cell_policy.h"
#include "brig/state/host_services.h"
#include "brig/state/ingress_routes.h"
#include "brig/state/secret_injections.h"
#include "brig/state/subnet_map.h"

namespace brig::warden {
namespace {

std::string stat_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ":-;";
  return path + ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_ino) + ";";
}

std::vector<std::string> cell_policy_names(const Paths& paths) {
  return fs::list_names(paths.policy_dir() + "/cells", ".json");
}

std::vector<std::string> cell_secret_names(const Paths& paths) {
  return fs::list_names(state::secret_injections_dir(paths), ".json");
}

// How long until `t` (seconds since the epoch), at least 1 ms.
std::chrono::milliseconds until(std::int64_t t) {
  using namespace std::chrono;
  const auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
  return std::max(milliseconds(1), milliseconds(t * 1000) - now);
}

}  // namespace

PolicyStore::PolicyStore(Paths paths, Metrics& metrics) : paths_(std::move(paths)), metrics_(metrics) {
  snap_.store(std::make_shared<Snapshot>());
}

PolicyStore::~PolicyStore() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string PolicyStore::fingerprint() const {
  std::string fp = stat_key(paths_.subnet_map()) + stat_key(paths_.global_policy()) +
                   stat_key(state::ingress_routes_path(paths_)) + stat_key(state::host_services_path(paths_));
  for (const auto& c : cell_policy_names(paths_)) fp += stat_key(paths_.cell_policy(c));
  for (const auto& c : cell_secret_names(paths_)) fp += stat_key(state::secret_injections_path(paths_, c));
  return fp;
}

SnapshotSources PolicyStore::read_sources() const {
  // The subnet map's text with its owner's size cap; build_snapshot parses it
  // with its owner's parser (state::parse_subnet_map).
  SnapshotSources in;
  in.subnet_map = {paths_.subnet_map(), fs::read_file(paths_.subnet_map(), state::kMaxSubnetMapBytes)};
  in.global_policy = {paths_.global_policy(), fs::read_file(paths_.global_policy(), policy::kMaxPolicyBytes)};
  const std::string routes = state::ingress_routes_path(paths_);
  in.ingress_routes = SourceFile{routes, fs::read_file(routes, state::kMaxIngressRoutesBytes)};
  const std::string services = state::host_services_path(paths_);
  in.host_services = SourceFile{services, fs::read_file(services, state::kMaxHostServicesBytes)};
  for (const auto& c : cell_policy_names(paths_)) {
    in.cell_policies.emplace(c, SourceFile{paths_.cell_policy(c), state::read_cell_policy(paths_, c)});
  }
  for (const auto& c : cell_secret_names(paths_)) {
    const std::string path = state::secret_injections_path(paths_, c);
    in.cell_secrets.emplace(c, SourceFile{path, fs::read_file(path, state::kMaxSecretInjectionsBytes)});
  }
  in.now = timefmt::now_seconds();
  return in;
}

bool PolicyStore::reload() {
  std::lock_guard guard(reload_mu_);
  const std::string fp = fingerprint();
  // A time-boxed grant lapsing is a change too.
  const auto next = current()->next_expiry;
  const bool lapsed = next && timefmt::now_seconds() >= next;
  if (fp == last_fp_ && !lapsed) return false;
  last_fp_ = fp;
  auto built = build_snapshot(read_sources(), *current(), metrics_);
  for (const auto& e : built.errors) spdlog::warn("{}", e);
  const bool errors = !built.errors.empty();
  const auto generation = built.snapshot->generation;
  const auto subnets = built.snapshot->subnets.size();
  const auto ingress = built.snapshot->ingress.size();
  const std::shared_ptr<const Snapshot> published = built.snapshot;
  snap_.store(std::move(built.snapshot), std::memory_order_release);
  for (const auto& l : built.lapsed) spdlog::info("cell {}: time-boxed grant lapsed: {}", l.cell, l.rule);
  if (listener_) listener_(*published, built.lapsed);
  (errors ? metrics_.reloads_error : metrics_.reloads_ok).fetch_add(1);
  spdlog::info("policy generation {} loaded: {} cell subnets, {} ingress cells{}", generation, subnets,
               ingress, errors ? " (with errors)" : "");
  return true;
}

void PolicyStore::start(std::chrono::milliseconds period) {
  thread_ = std::thread([this, period] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      const auto next = current()->next_expiry;
      cv_.wait_for(lock, next ? std::min(period, until(next)) : period, [&] { return stop_ || kick_; });
      if (stop_) break;
      const bool forced = kick_;
      kick_ = false;
      lock.unlock();
      if (forced) {
        std::lock_guard g(reload_mu_);
        last_fp_.clear();
      }
      reload();
      lock.lock();
    }
  });
}

void PolicyStore::request_reload() {
  {
    std::lock_guard lock(mu_);
    kick_ = true;
  }
  cv_.notify_all();
}

}  // namespace brig::warden
