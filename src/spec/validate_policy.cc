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

// The authority of something written as a URL: "https://u@example.com:8443/x"
// -> "example.com:8443", "example.com/x" -> "example.com"; nullopt when `text`
// has neither "://" nor a '/'.
std::optional<std::string> url_authority(std::string_view text) {
  std::string_view rest = text;
  if (auto scheme = text.find("://"); scheme != std::string_view::npos) {
    rest = text.substr(scheme + 3);
  } else if (text.find('/') == std::string_view::npos) {
    return std::nullopt;
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  return std::string(rest);
}

}  // namespace

std::optional<HostEntryProblem> check_policy_host(std::string_view entry, PolicyList list, std::string_view flag) {
  const std::string give = flag.empty() ? "" : std::string(flag) + " ";
  const bool allow = list == PolicyList::allow;
  if (auto auth = url_authority(entry)) {
    std::string host = *auth;
    if (!allow) {
      if (auto a = hostname::split_authority(host)) host = std::string(a->host);
    }
    if (host.empty() || !hostname::split_authority(host)) {
      return HostEntryProblem{str::quote(entry) + " is a URL; give a host, not a URL: " + give + "HOST", ""};
    }
    return HostEntryProblem{str::quote(entry) + " is a URL; give a host, not a URL: " + give + host, host};
  }
  if (!allow) {
    // "example.com:443": without the port the rest must be a host (an
    // unbracketed IPv6 address has more than one ':').
    const auto colon = entry.find(':');
    if (!entry.empty() && entry.front() != '[' && colon != std::string_view::npos && colon > 0 &&
        entry.find(':', colon + 1) == std::string_view::npos) {
      const std::string host(entry.substr(0, colon));
      const std::string why = list == PolicyList::deny ? "a deny rule blocks a host on every port"
                                                       : "TLS passthrough is for port 443 only";
      return HostEntryProblem{str::quote(entry) + " has a port, but " + why + "; give the host: " + give + host, host};
    }
    if (auto p = hostname::Pattern::parse(entry); !p) {
      return HostEntryProblem{str::quote(entry) + ": " + p.error().message(), ""};
    }
    return std::nullopt;
  }
  auto parts = hostname::split_authority(entry);
  if (!parts) {
    const std::string hint = flag.empty() ? "; write host or host:port with a port from 1 to 65535"
                                          : "; write " + give + "HOST or " + give + "HOST:PORT";
    return HostEntryProblem{parts.error().message() + hint, ""};
  }
  if (auto p = hostname::Pattern::parse(parts->host); !p) {
    return HostEntryProblem{str::quote(parts->host) + ": " + p.error().message(), ""};
  }
  return std::nullopt;
}

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
    if (auto why = check_policy_host(a.domain, PolicyList::allow)) err(a.origin, field("allow", i), why->message);
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
  auto domains = [&](const std::vector<DomainEntry>& list, const char* k, PolicyList which) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (auto why = check_policy_host(list[i].domain, which)) err(list[i].origin, field(k, i), why->message);
    }
  };
  domains(b.deny, "deny", PolicyList::deny);
  domains(b.tls_passthrough, "tls_passthrough", PolicyList::tls_passthrough);
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
