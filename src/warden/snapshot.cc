#include "snapshot.h"

#include <algorithm>
#include <optional>

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

const CellState* Snapshot::cell_named(std::string_view name) const {
  for (const auto& [net, cell] : subnets)
    if (cell->name == name) return cell.get();
  return nullptr;
}

BuiltSnapshot build_snapshot(const SnapshotSources& in, const Snapshot& previous, Metrics& metrics) {
  auto snap = std::make_shared<Snapshot>();
  snap->generation = previous.generation + 1;
  std::vector<std::string> errors;

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

  // The subnet map and the ingress route table, each validated by its owner
  // (state/subnet_map.h, state/ingress_routes.h); an invalid one keeps the
  // previous version (routes to addresses the engine wrote, never worse).
  snap->good_subnets = parse_or_keep(in.subnet_map, previous.good_subnets, state::parse_subnet_map, "subnet map", errors);
  snap->ingress = parse_or_keep(in.ingress_routes, previous.ingress, state::parse_ingress_routes, "ingress routes", errors);

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
      std::optional<spec::PolicyBlock> cell_block;
      bool never_good = false;
      if (auto f = in.cell_policies.find(name); f != in.cell_policies.end()) cell_block = block(f->second, &never_good);
      auto eff = policy::effective(global, cell_block ? &*cell_block : nullptr, name);
      if (!eff) {
        errors.push_back("policy for cell " + name + ": " + eff.error().message() + "; denying everything for it");
      } else if (never_good) {
        // Its file may have said airgapped: the global rules alone could allow too much.
        errors.push_back("policy for cell " + name + ": no valid version yet; denying everything for it");
      }
      if (!eff || never_good) eff = policy::effective({}, nullptr, "");
      state->policy = std::make_shared<const policy::Policy>(std::move(eff->policy));
      state->bucket->configure(eff->rate ? eff->rate->rate : 0, eff->rate ? eff->rate->burst : 0);
    }
    const auto net = Cidr::parse(cidr);
    if (!net) {  // state::parse_subnet_map checked it; never here
      errors.push_back("subnet map: " + cidr + " is not a CIDR; ignoring it");
      continue;
    }
    snap->subnets.emplace_back(*net, state);
  }
  return {std::move(snap), std::move(errors)};
}

}  // namespace brig::warden
