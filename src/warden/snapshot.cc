#include "snapshot.h"

#include <algorithm>
#include <optional>

#include "brig/core/timefmt.h"
#include "brig/policy/effective.h"

namespace brig::warden {
namespace {

// `f` parsed by its owner's `parse`; empty when the file is absent, and
// `previous` (reported in `errors`) when it is unreadable or invalid.
template <class T>
T parse_or_keep(const SourceFile& f, const T& previous, Result<T> (*parse)(std::string_view, const std::string&),
                const char* what, std::vector<std::string>& errors) {
  if (!f.text && f.text.error().code() == Errc::not_found) return T{};
  auto parsed = f.text ? parse(*f.text, f.path) : Result<T>(f.text.error());
  if (parsed) return std::move(*parsed);
  std::string msg = what;  // (not a chain of operator+: GCC 12 warns falsely about it here)
  msg += " reload: ";
  msg += parsed.error().message();
  msg += "; keeping the previous version";
  errors.push_back(std::move(msg));
  return previous;
}

const std::vector<state::InjectedSecret>& good_secrets_of(const Snapshot& s, const std::string& path) {
  static const std::vector<state::InjectedSecret> kNone;
  auto it = s.good_secrets.find(path);
  return it == s.good_secrets.end() ? kNone : it->second;
}

}  // namespace

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

bool CellSecret::for_host(std::string_view canonical_host) const {
  for (const auto& p : hosts)
    if (p.matches(canonical_host)) return true;
  return false;
}

const state::HostServiceEntry* CellState::host_service(std::string_view n) const {
  for (const auto& s : host_services)
    if (s.name == n) return &s;
  return nullptr;
}

const state::HostServiceEntry* CellState::tcp_service_on(int port) const {
  for (const auto& s : host_services)
    if (s.protocol == "tcp" && s.port == port) return &s;
  return nullptr;
}

std::vector<std::uint16_t> Snapshot::tcp_service_ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& [net, cell] : subnets)
    for (const auto& s : cell->host_services)
      if (s.protocol == "tcp") out.push_back(static_cast<std::uint16_t>(s.port));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const CellState* Snapshot::cell_named(std::string_view name) const {
  for (const auto& [net, cell] : subnets)
    if (cell->name == name) return cell.get();
  return nullptr;
}

BuiltSnapshot build_snapshot(const SnapshotSources& in, const Snapshot& previous, Metrics& metrics) {
  auto snap = std::make_shared<Snapshot>();
  snap->generation = previous.generation + 1;
  snap->now = in.now;
  std::vector<std::string> errors;
  std::vector<LapsedGrant> lapsed;
  // The grants of `b` that lapsed since the previous build, for `cell`.
  auto note_lapsed = [&](const spec::PolicyBlock& b, const std::string& cell) {
    if (!previous.now) return;
    for (const auto& a : b.allow) {
      if (!a.expires || *a.expires <= previous.now || *a.expires > in.now) continue;
      std::string rule = "allow " + a.domain;
      if (a.port) rule += ":" + std::to_string(*a.port);
      rule += " until " + timefmt::rfc3339(*a.expires);
      lapsed.push_back({cell, std::move(rule)});
    }
  };

  // A policy file's block, falling back to its last good version when it is
  // invalid or unreadable; nullopt when the file is absent.
  // `*never_good`: invalid with no good version to fall back to.
  auto block = [&](const SourceFile& f, bool* never_good = nullptr) -> std::optional<spec::PolicyBlock> {
    if (!f.text && f.text.error().code() == Errc::not_found) return std::nullopt;
    auto parsed = f.text ? policy::parse_document(*f.text, f.path) : Result<spec::PolicyBlock>(f.text.error());
    if (parsed) {
      snap->good_policies[f.path] = *parsed;
      return std::move(*parsed);
    }
    errors.push_back("policy reload: " + parsed.error().message() + "; keeping the previous version");
    if (auto it = previous.good_policies.find(f.path); it != previous.good_policies.end()) {
      snap->good_policies[f.path] = it->second;
      return it->second;
    }
    if (never_good) *never_good = true;
    return spec::PolicyBlock{};
  };

  // The subnet map, the ingress route table and the host services, each
  // validated by its owner (state/subnet_map.h, state/ingress_routes.h,
  // state/host_services.h); an invalid one keeps the previous version
  // (routes to addresses the engine wrote, never worse).
  snap->good_subnets = parse_or_keep(in.subnet_map, previous.good_subnets, state::parse_subnet_map, "subnet map", errors);
  snap->ingress = parse_or_keep(in.ingress_routes, previous.ingress, state::parse_ingress_routes, "ingress routes", errors);
  snap->host_services =
      parse_or_keep(in.host_services, previous.host_services, state::parse_host_services, "host services", errors);

  const spec::PolicyBlock global = block(in.global_policy).value_or(spec::PolicyBlock{});
  std::map<std::string, std::shared_ptr<CellState>> cells;
  for (const auto& [cidr, name] : snap->good_subnets) {
    auto& state = cells[name];
    if (!state) {
      const CellState* old = previous.cell_named(name);
      state = std::make_shared<CellState>();
      state->name = name;
      state->bucket = old ? old->bucket : std::make_shared<TokenBucket>();
      state->tunnels = old ? old->tunnels : std::make_shared<std::atomic<int>>(0);
      state->metrics = metrics.cell(name);
      if (auto h = snap->host_services.find(name); h != snap->host_services.end() && h->second.running) {
        state->host_services = h->second.services;
      }
      std::optional<spec::PolicyBlock> cell_block;
      bool never_good = false;
      if (auto f = in.cell_policies.find(name); f != in.cell_policies.end()) cell_block = block(f->second, &never_good);
      policy::Options opts;
      opts.now = in.now;
      auto eff = policy::effective(global, cell_block ? &*cell_block : nullptr, name, opts);
      note_lapsed(global, name);
      if (cell_block) note_lapsed(*cell_block, name);
      if (!eff) {
        errors.push_back("policy for cell " + name + ": " + eff.error().message() + "; denying everything for it");
      } else if (never_good) {
        // Its file may have said airgapped: the global rules alone could allow too much.
        errors.push_back("policy for cell " + name + ": no valid version yet; denying everything for it");
      }
      if (!eff || never_good) eff = policy::effective({}, nullptr, "");
      state->policy = std::make_shared<const policy::Policy>(std::move(eff->policy));
      if (const auto e = state->policy->next_expiry(); e && (!snap->next_expiry || e < snap->next_expiry)) {
        snap->next_expiry = e;
      }
      if (auto f = in.cell_secrets.find(name); f != in.cell_secrets.end()) {
        const auto list = parse_or_keep(f->second, good_secrets_of(previous, f->second.path),
                                        state::parse_secret_injections, "secrets", errors);
        if (!list.empty()) snap->good_secrets[f->second.path] = list;
        for (const auto& sec : list) {
          CellSecret cs{sec, {}};
          for (const auto& h : sec.hosts)
            if (auto p = hostname::Pattern::parse(h)) cs.hosts.push_back(*p);
          state->secrets.push_back(std::move(cs));
          state->placeholders.push_back(sec.placeholder);
        }
      }
      state->bucket->configure(eff->rate ? eff->rate->rate : 0, eff->rate ? eff->rate->burst : 0);
    }
    const auto net = Cidr::parse(cidr);
    if (!net) {  // state::parse_subnet_map checked it; never here
      errors.push_back("subnet map: " + cidr + " is not a CIDR; ignoring it");
      continue;
    }
    snap->subnets.emplace_back(*net, state);
  }
  return {std::move(snap), std::move(errors), std::move(lapsed)};
}

}  // namespace brig::warden
