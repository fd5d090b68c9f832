#include "brig/spec/merge.h"

#include <algorithm>

namespace brig::spec {
namespace {

struct ProfileValues {
  const char* name;
  const char* memory;
  const char* cpus;
  std::int64_t pids;
  bool writable_rootfs;
  bool trust_ca;
  const char* timeout;  // empty: none
};

// Numbers chosen for an agent workload; pids stay >= 1000 because under gVisor
// pids_limit counts the sandbox's own threads too (SPEC §9).
constexpr ProfileValues kProfiles[] = {
    {"untrusted", "1g", "1", 1000, false, true, "4h"},
    {"supervised", "2g", "2", 1024, false, true, ""},
    {"dev", "4g", "4", 4096, true, true, ""},
    {"airgapped", "2g", "2", 1024, false, false, ""},
};

template <class T>
void pick(Field<T>& out, const Field<T>& low, const Field<T>& high) {
  out = high.has() ? high : low;
}

template <class V>
void union_into(std::vector<V>& dst, const std::vector<V>& src) {
  dst.insert(dst.end(), src.begin(), src.end());
}

void merge_map(Field<StringMap>& out, const Field<StringMap>& low, const Field<StringMap>& high) {
  if (!high.has()) { out = low; return; }
  if (!low.has()) { out = high; return; }
  StringMap m = *low;
  for (const auto& [k, v] : *high) m[k] = v;
  out.set(std::move(m), high.origin);
}

}  // namespace

const std::vector<std::string>& builtin_profiles() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& p : kProfiles) v.emplace_back(p.name);
    return v;
  }();
  return names;
}

std::optional<CellSpec> builtin_profile(const std::string& name) {
  for (const auto& p : kProfiles) {
    if (name != p.name) continue;
    const Origin o = Origin::profile(name);
    CellSpec s;
    s.profile.set(name, o);
    s.memory.set(p.memory, o);
    s.cpus.set(p.cpus, o);
    s.pids_limit.set(p.pids, o);
    s.writable_rootfs.set(p.writable_rootfs, o);
    s.trust_warden_ca.set(p.trust_ca, o);
    if (*p.timeout) s.timeout.set(p.timeout, o);
    s.labels.set({{"brig.profile", name}}, o);
    return s;
  }
  return std::nullopt;
}

CellSpec defaults() {
  const Origin o = Origin::builtin();
  CellSpec s;
  s.profile.set("supervised", o);
  s.runtime.set("runsc", o);
  s.workspace_mount.set("/work", o);
  s.writable_rootfs.set(false, o);
  s.trust_warden_ca.set(true, o);
  // Under runsc the limit counts sandbox threads (SPEC §9): never below ~1000,
  // and never off, even under a user profile that names no limit.
  s.pids_limit.set(1024, o);
  return s;
}

CellSpec merge(const CellSpec& low, const CellSpec& high) {
  CellSpec out;
#define BRIG_PICK(f) pick(out.f, low.f, high.f);
  BRIG_CELL_SPEC_FIELDS(BRIG_PICK)
#undef BRIG_PICK
  merge_map(out.env, low.env, high.env);
  merge_map(out.labels, low.labels, high.labels);

  if (low.secrets.has() && high.secrets.has()) {
    // By name: the higher layer's entry replaces the lower's in place. Two
    // entries of one layer with a name stay two (validate reports them).
    SecretList all = *low.secrets;
    const std::size_t lows = all.size();
    std::vector<bool> replaced(lows, false);
    for (const auto& h : *high.secrets) {
      auto it = std::find_if(all.begin(), all.begin() + static_cast<long>(lows),
                             [&](const SecretRef& l) { return l.name == h.name; });
      const auto i = static_cast<std::size_t>(it - all.begin());
      if (i < lows && !replaced[i]) {
        *it = h;
        replaced[i] = true;
      } else {
        all.push_back(h);
      }
    }
    out.secrets.set(std::move(all), high.secrets.origin);
  }
  if (low.policy.has() && high.policy.has()) {
    PolicyBlock b = *low.policy;
    const PolicyBlock& h = *high.policy;
    union_into(b.allow, h.allow);
    union_into(b.deny, h.deny);
    union_into(b.tls_passthrough, h.tls_passthrough);
    if (h.rate_default) b.rate_default = h.rate_default;
    for (const auto& [k, v] : h.rate_cells) b.rate_cells[k] = v;
    b.airgapped = b.airgapped || h.airgapped;
    out.policy.set(std::move(b), high.policy.origin);
  }
  return out;
}

bool profile_is_untrusted(const std::string& name, const CellSpec& layer) {
  if (name == "untrusted") return true;
  if (!layer.labels.has()) return false;
  auto it = layer.labels->find("brig.profile");
  return it != layer.labels->end() && it->second == "untrusted";
}

}  // namespace brig::spec
