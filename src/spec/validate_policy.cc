// The rules of a policy block: a cell spec's `policy:`, the global policy
// file and `brig policy set` all go through validate_policy and check_passthrough.
#include <algorithm>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/spec/validate.h"
#include "checks.h"

namespace brig::spec {
namespace {

bool valid_method(std::string_view m) {
  return !m.empty() && std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

using detail::Checker;
using detail::has_control;

Diagnostics check_passthrough(const PolicyBlock& b, const std::string& prefix, bool untrusted) {
  Diagnostics out;
  Checker err(out);
  const std::string pt = prefix.empty() ? "tls_passthrough" : prefix + ".tls_passthrough";
  const std::string allow = prefix.empty() ? "allow" : prefix + ".allow";
  if (untrusted && !b.tls_passthrough.empty()) {
    err(b.tls_passthrough.front().origin, pt, "the untrusted profile forbids TLS passthrough (uninspected egress)");
    return out;
  }
  // Each passthrough host must be allowed by the cell's own policy, for every
  // path and method, since warden cannot see inside a passthrough tunnel.
  for (std::size_t i = 0; i < b.tls_passthrough.size(); ++i) {
    const auto& p = b.tls_passthrough[i];
    auto pat = hostname::Pattern::parse(p.domain);
    if (!pat) continue;  // reported by validate_policy
    const AllowEntry* cover = nullptr;
    for (const auto& a : b.allow) {
      auto ap = hostname::Pattern::parse(a.domain);
      if (ap && ap->covers(*pat) && (!a.port || *a.port == 443)) {
        cover = &a;
        if (a.paths.empty() && a.methods.empty()) break;
      }
    }
    const std::string f = pt + "[" + std::to_string(i) + "]";
    if (!cover) {
      err(p.origin, f, p.domain + " is not covered by any " + allow + " entry; add it (or a wildcard covering it) to " + allow);
    } else if (!cover->paths.empty() || !cover->methods.empty()) {
      err(p.origin, f, p.domain + " is allowed only for some paths or methods, which passthrough cannot enforce; allow the whole host or drop the passthrough");
    }
  }
  return out;
}

Diagnostics validate_policy(const PolicyBlock& b, const std::string& prefix) {
  Diagnostics out;
  Checker err(out);
  auto field = [&](const char* k, std::size_t i) {
    return (prefix.empty() ? std::string(k) : prefix + "." + k) + "[" + std::to_string(i) + "]";
  };
  for (std::size_t i = 0; i < b.allow.size(); ++i) {
    const auto& a = b.allow[i];
    if (auto p = hostname::Pattern::parse(a.domain); !p) {
      err(a.origin, field("allow", i), str::quote(a.domain) + ": " + p.error().message());
    }
    for (const auto& path : a.paths) {
      if (path.empty() || path.front() != '/' || has_control(path) || path.find(' ') != std::string::npos) {
        err(a.origin, field("allow", i) + ".paths", str::quote(path) + " must start with '/' (globs use '*', e.g. /v1/*)");
      }
    }
    for (const auto& m : a.methods) {
      if (!valid_method(m)) {
        std::string msg = "invalid method " + str::quote(m) + "; methods are uppercase, e.g. GET";
        err(a.origin, field("allow", i) + ".methods", msg);
      }
    }
  }
  auto domains = [&](const std::vector<DomainEntry>& list, const char* k) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (auto p = hostname::Pattern::parse(list[i].domain); !p) {
        err(list[i].origin, field(k, i), str::quote(list[i].domain) + ": " + p.error().message());
      }
    }
  };
  domains(b.deny, "deny");
  domains(b.tls_passthrough, "tls_passthrough");
  auto rate = [&](const RateLimit& r, const std::string& f) {
    if (!(r.rate > 0)) err(r.origin, f, "rate must be a positive number of requests per second");
    if (r.burst < 1 || r.burst < r.rate) err(r.origin, f, "burst must be at least 1 and at least rate");
  };
  const std::string rl = prefix.empty() ? "rate_limits" : prefix + ".rate_limits";
  if (b.rate_default) rate(*b.rate_default, rl + ".default");
  for (const auto& [cell, r] : b.rate_cells) {
    if (auto why = check_cell_name(cell)) err(r.origin, rl + ".cells", *why);
    rate(r, rl + ".cells." + cell);
  }
  return out;
}

namespace detail {

void check_policy(Checker& err, const CellSpec& s, const ValidateOptions& opts, Diagnostics& out) {
  if (!s.policy.has()) return;
  const PolicyBlock& b = *s.policy;
  auto d = validate_policy(b, "policy");
  out.insert(out.end(), d.begin(), d.end());
  if (opts.airgapped && !b.allow.empty()) {
    err(b.allow.front().origin, "policy.allow", "the airgapped profile allows no egress; remove policy.allow or choose another profile");
  }
  auto p = check_passthrough(b, "policy", opts.untrusted);
  out.insert(out.end(), p.begin(), p.end());
}


}  // namespace detail
}  // namespace brig::spec
