#include "state.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>

#include "brig/core/fs.h"
#include "brig/state/cell_policy.h"
#include "brig/state/subnet_map.h"

namespace brig::warden {
namespace {

std::string stat_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ":-;";
  return path + ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_ino) + ";";
}


}  // namespace

void TokenBucket::configure(double rate, double burst) {
  std::lock_guard lock(mu_);
  if (rate == rate_ && burst == burst_) return;
  rate_ = rate;
  burst_ = burst;
  tokens_ = burst;
  last_ = std::chrono::steady_clock::now();
}

bool TokenBucket::take(double* retry_after) {
  std::lock_guard lock(mu_);
  if (rate_ <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
  last_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  if (retry_after) *retry_after = (1 - tokens_) / rate_;
  return false;
}

const CellState* Snapshot::cell_for(const IpAddr& addr) const {
  IpAddr a = addr;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.v6 && std::equal(kMapped, kMapped + 12, a.bytes.begin())) {
    IpAddr v4;
    std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
    a = v4;
  }
  const CellState* best = nullptr;
  int best_prefix = -1;
  for (const auto& [net, cell] : subnets) {
    if (net.prefix > best_prefix && net.contains(a)) {
      best = cell.get();
      best_prefix = net.prefix;
    }
  }
  return best;
}

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
  std::string fp = stat_key(paths_.subnet_map()) + stat_key(paths_.global_policy());
  for (const auto& c : fs::list_names(paths_.policy_dir() + "/cells", ".json")) fp += stat_key(paths_.cell_policy(c));
  return fp;
}

bool PolicyStore::reload() {
  std::lock_guard guard(reload_mu_);
  const std::string fp = fingerprint();
  if (fp == last_fp_) return false;
  last_fp_ = fp;
  bool errors = false;

  // Parses a policy file's text (as read), falling back to its last good
  // version when it is invalid or unreadable.
  auto block = [&](const std::string& path, const Result<std::string>& text) -> std::optional<spec::PolicyBlock> {
    if (!text && text.error().code() == Errc::not_found) {
      good_.erase(path);
      return std::nullopt;
    }
    auto parsed = text ? policy::parse_document(*text, path) : Result<spec::PolicyBlock>(text.error());
    if (parsed) {
      good_[path] = *parsed;
      return *parsed;
    }
    errors = true;
    spdlog::warn("policy reload: {}; keeping the previous version", parsed.error().message());
    auto it = good_.find(path);
    if (it != good_.end()) return it->second;
    return spec::PolicyBlock{};  // never valid: nothing allowed
  };

  // The subnet map, validated by its owner (state/subnet_map.h); an absent
  // file means no cells.
  brig::state::SubnetMap subnets = good_subnets_;
  if (auto loaded = brig::state::load_subnet_map(paths_); loaded) {
    subnets = std::move(*loaded);
    good_subnets_ = subnets;
  } else {
    errors = true;
    spdlog::warn("subnet map reload: {}; keeping the previous version", loaded.error().message());
  }

  const spec::PolicyBlock global =
      block(paths_.global_policy(), fs::read_file(paths_.global_policy(), policy::kMaxPolicyBytes))
          .value_or(spec::PolicyBlock{});
  auto snap = std::make_shared<Snapshot>();
  snap->generation = ++generation_;
  std::map<std::string, std::shared_ptr<CellState>> cells;
  for (const auto& [cidr, name] : subnets) {
    auto& state = cells[name];
    if (!state) {
      auto& old = cells_[name];
      state = std::make_shared<CellState>();
      state->name = name;
      state->bucket = old ? old->bucket : std::make_shared<TokenBucket>();
      state->tunnels = old ? old->tunnels : std::make_shared<std::atomic<int>>(0);
      state->metrics = metrics_.cell(name);
      auto cell_block = block(paths_.cell_policy(name), brig::state::read_cell_policy(paths_, name));
      auto compiled = policy::Policy::compile(global, cell_block ? &*cell_block : nullptr,
                                              {cell_block && cell_block->airgapped});
      if (!compiled) {
        errors = true;
        spdlog::warn("policy for cell {}: {}; denying everything for it", name, compiled.error().message());
        compiled = policy::Policy::compile({}, nullptr);
      }
      state->policy = std::make_shared<const policy::Policy>(std::move(*compiled));
      // Rate: the cell's own default, else the global per-cell entry, else the global default.
      std::optional<spec::RateLimit> rl;
      if (cell_block && cell_block->rate_default) rl = cell_block->rate_default;
      else if (auto it = global.rate_cells.find(name); it != global.rate_cells.end()) rl = it->second;
      else rl = global.rate_default;
      state->bucket->configure(rl ? rl->rate : 0, rl ? rl->burst : 0);
    }
    snap->subnets.emplace_back(*Cidr::parse(cidr), state);
  }
  for (auto& [name, state] : cells) cells_[name] = state;
  snap_.store(std::move(snap), std::memory_order_release);
  (errors ? metrics_.reloads_error : metrics_.reloads_ok).fetch_add(1);
  spdlog::info("policy generation {} loaded: {} cell subnets{}", generation_, subnets.size(), errors ? " (with errors)" : "");
  return true;
}

void PolicyStore::start(std::chrono::milliseconds period) {
  thread_ = std::thread([this, period] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, period, [&] { return stop_ || kick_; });
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
