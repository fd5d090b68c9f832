#include "brig/policy/policy.h"

#include <algorithm>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/policy/path.h"
#include "brig/spec/parse.h"
#include "brig/spec/validate.h"

namespace brig::policy {
namespace {

constexpr std::string_view kDefaultDeny = "default deny";

std::string display(const char* verb, const std::string& pattern, std::uint16_t port,
                    const std::vector<std::string>& paths, const std::vector<std::string>& methods,
                    const spec::Origin& origin) {
  std::string d = std::string(verb) + " " + pattern;
  if (port) d += ":" + std::to_string(port);
  if (!methods.empty()) d += " methods=[" + str::join(methods, ",") + "]";
  if (!paths.empty()) d += " paths=[" + str::join(paths, ",") + "]";
  if (origin.kind != spec::Origin::Kind::none) d += " (" + origin.str() + ")";
  return d;
}

}  // namespace

std::string_view reason_text(Reason r) {
  switch (r) {
    case Reason::allowed: return "allowed by rule";
    case Reason::denied_by_rule: return "denied by a deny rule";
    case Reason::no_rule: return "default deny: no allow rule matches the host";
    case Reason::port_not_allowed: return "the host is allowed, but not on this port";
    case Reason::method_not_allowed: return "the host is allowed, but not for this method";
    case Reason::path_not_allowed: return "the host is allowed, but not for this path";
    case Reason::ip_literal: return "IP addresses never match domain rules";
    case Reason::invalid_host: return "invalid host name";
    case Reason::invalid_path: return "invalid request path";
    case Reason::airgapped: return "the cell is airgapped: no egress at all";
  }
  return "denied";
}

std::string_view reason_code(Reason r) {
  switch (r) {
    case Reason::allowed: return "allowed";
    case Reason::denied_by_rule: return "denied_by_rule";
    case Reason::no_rule: return "no_rule";
    case Reason::port_not_allowed: return "port_not_allowed";
    case Reason::method_not_allowed: return "method_not_allowed";
    case Reason::path_not_allowed: return "path_not_allowed";
    case Reason::ip_literal: return "ip_literal";
    case Reason::invalid_host: return "invalid_host";
    case Reason::invalid_path: return "invalid_path";
    case Reason::airgapped: return "airgapped";
  }
  return "denied";
}

Result<Policy> Policy::compile(const spec::PolicyBlock& global, const spec::PolicyBlock* cell, const Options& opts) {
  Policy p;
  p.airgapped_ = opts.airgapped;
  std::vector<const spec::PolicyBlock*> blocks = {&global};
  if (cell) blocks.push_back(cell);

  auto add = [](Index& exact, Index& wild, const hostname::Pattern& pat, std::uint32_t idx) {
    (pat.wildcard ? wild : exact)[pat.domain].push_back(idx);
  };
  std::string scratch;
  for (const auto* b : blocks) {
    if (auto d = spec::validate_policy(*b, ""); !d.empty()) return spec::to_error(d);
    for (const auto& a : b->allow) {
      if (a.expires && opts.now && *a.expires <= opts.now) continue;  // a lapsed grant
      auto pat = hostname::Pattern::parse(a.domain);
      if (!pat) return pat.error();
      CompiledRule r;
      if (a.expires) {
        r.expires = *a.expires;
        if (!p.next_expiry_ || r.expires < p.next_expiry_) p.next_expiry_ = r.expires;
      }
      r.pattern = pat->str();
      r.port = a.port.value_or(0);
      for (const auto& path : a.paths) {
        // Rule paths are normalised like request paths, so "/v1/./x" and "/v1/x" agree.
        if (!normalize_path(path, scratch)) return Error(Errc::invalid, "invalid path glob " + str::quote(path));
        r.paths.push_back(path.back() == '/' && scratch.back() != '/' ? scratch + "/" : scratch);
        std::string decoded;
        if (!decode_path(r.paths.back(), decoded)) return Error(Errc::invalid, "invalid path glob " + str::quote(path));
        r.decoded_paths.push_back(std::move(decoded));
      }
      r.methods = a.methods;
      r.display = display("allow", r.pattern, r.port, r.paths, r.methods, a.origin);
      if (a.expires) r.display += " until " + timefmt::rfc3339(*a.expires);
      add(p.allow_exact_, p.allow_wild_, *pat, static_cast<std::uint32_t>(p.allow_.size()));
      p.allow_.push_back(std::move(r));
    }
    for (const auto& d : b->deny) {
      auto pat = hostname::Pattern::parse(d.domain);
      if (!pat) return pat.error();
      CompiledRule r;
      r.pattern = pat->str();
      r.display = display("deny", r.pattern, 0, {}, {}, d.origin);
      add(p.deny_exact_, p.deny_wild_, *pat, static_cast<std::uint32_t>(p.deny_.size()));
      p.deny_.push_back(std::move(r));
    }
  }
  if (cell) {
    for (const auto& t : cell->tls_passthrough) {
      auto pat = hostname::Pattern::parse(t.domain);
      if (!pat) return pat.error();
      (pat->wildcard ? p.passthrough_wild_ : p.passthrough_exact_).push_back(pat->domain);
    }
  }
  return p;
}

bool Policy::passthrough(std::string_view host) const {
  for (const auto& d : passthrough_exact_)
    if (d == host) return true;
  for (const auto& d : passthrough_wild_) {
    if (host.size() > d.size() + 1 && host.ends_with(d) && host[host.size() - d.size() - 1] == '.') return true;
  }
  return false;
}

template <class F>
bool Policy::visit(const Index& exact, const Index& wild, std::string_view host, F&& f) {
  if (auto it = exact.find(host); it != exact.end()) {
    for (auto i : it->second)
      if (f(i)) return true;
  }
  if (wild.empty()) return false;
  // "*.x.com" is indexed under "x.com": try every proper suffix of the host.
  for (auto dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
    if (auto it = wild.find(host.substr(dot + 1)); it != wild.end()) {
      for (auto i : it->second)
        if (f(i)) return true;
    }
  }
  return false;
}

// The checks every question starts with: airgapped, a host that is no
// hostname, an IP literal, a deny rule. Returns false with `v` set when one
// decides; else `host` holds the canonical host.
bool Policy::precheck(std::string_view raw, std::string& host, Verdict& v) const {
  v.rule = kDefaultDeny;
  if (airgapped_) {
    v.reason = Reason::airgapped;
    return false;
  }
  if (!hostname::normalize_into(raw, host)) {
    v.reason = Reason::invalid_host;
    return false;
  }
  if (hostname::is_ip_literal(host)) {
    v.reason = Reason::ip_literal;
    return false;
  }
  if (visit(deny_exact_, deny_wild_, host, [&](std::uint32_t i) {
        v.rule = deny_[i].display;
        return true;
      })) {
    v.reason = Reason::denied_by_rule;
    return false;
  }
  return true;
}

Verdict Policy::evaluate_name(std::string_view raw) const {
  Verdict v;
  thread_local std::string host;
  if (!precheck(raw, host, v)) return v;
  if (visit(allow_exact_, allow_wild_, host, [&](std::uint32_t i) {
        v.rule = allow_[i].display;
        return true;
      })) {
    v.decision = Decision::allow;
    v.reason = Reason::allowed;
  }
  return v;
}

Verdict Policy::evaluate(const Request& req) const {
  Verdict v;
  thread_local std::string host;
  if (!precheck(req.host, host, v)) return v;

  // Only a question with neither method nor path is CONNECT-level: a path
  // without a method must still meet the rule's paths (fail closed).
  const bool connect_level = req.method.empty() && req.path.empty();
  // A path glob must match the path both as sent (normalised) and as the
  // most-decoding upstream would read it (see decode_path): "/v1/..%2Fadmin"
  // is inside "/v1/*" only until someone decodes it.
  thread_local std::string path, decoded;
  bool path_ok = true;
  if (!connect_level) path_ok = normalize_path(req.path, path) && decode_path(path, decoded);

  // The most specific near-miss explains a denial best.
  Reason best = Reason::no_rule;
  auto worse = [](Reason a, Reason b) { return static_cast<int>(a) < static_cast<int>(b) ? b : a; };
  const bool found = visit(allow_exact_, allow_wild_, host, [&](std::uint32_t i) {
    const CompiledRule& r = allow_[i];
    const bool port_ok = r.port ? req.port == r.port : (req.port == 443 || req.port == 80);
    if (!port_ok) {
      best = worse(best, Reason::port_not_allowed);
      return false;
    }
    if (!connect_level) {
      if (!r.methods.empty() && std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end()) {
        best = worse(best, Reason::method_not_allowed);
        return false;
      }
      if (!r.paths.empty()) {
        if (!path_ok) {
          best = worse(best, Reason::invalid_path);
          return false;
        }
        bool inside = false;
        for (std::size_t g = 0; g < r.paths.size() && !inside; ++g) {
          inside = glob_match(r.paths[g], path) && glob_match(r.decoded_paths[g], decoded);
        }
        if (!inside) {
          best = worse(best, Reason::path_not_allowed);
          return false;
        }
      }
    }
    v.rule = r.display;
    return true;
  });
  if (found) {
    v.decision = Decision::allow;
    v.reason = Reason::allowed;
  } else {
    v.reason = best;
  }
  return v;
}

bool fixable(Reason r) {
  switch (r) {
    case Reason::no_rule:
    case Reason::port_not_allowed:
    case Reason::method_not_allowed:
    case Reason::path_not_allowed:
    case Reason::invalid_path:
      return true;
    case Reason::allowed:
    case Reason::denied_by_rule:
    case Reason::ip_literal:
    case Reason::invalid_host:
    case Reason::airgapped:
      return false;
  }
  return false;
}

std::optional<std::string> fix_for(const Verdict& v, std::string_view cell, std::string_view host,
                                   std::uint16_t port) {
  if (v.allowed() || !fixable(v.reason) || host.empty()) return std::nullopt;
  std::string fix = "brig policy set " + std::string(cell.empty() ? "CELL" : cell) + " --allow " + std::string(host);
  if (port != 80 && port != 443) fix += ":" + std::to_string(port);
  return fix;
}

Result<spec::PolicyBlock> parse_document(std::string_view text, const std::string& filename) {
  if (text.size() > kMaxPolicyBytes) {
    return Error(Errc::invalid, filename + ": policy file is larger than 1 MiB", "split it or remove unused rules");
  }
  auto block = spec::parse_policy(text, filename);
  if (!block) return block.error();
  if (auto d = spec::validate_policy(*block, ""); !d.empty()) return spec::to_error(d);
  return block;
}

Result<CheckedDocument> check_document(std::string_view text, const std::string& filename, std::int64_t now) {
  auto block = parse_document(text, filename);
  if (!block) return block.error();
  auto compiled = Policy::compile(*block, nullptr, {false, now});
  if (!compiled) return compiled.error();
  return CheckedDocument{std::move(*block), compiled->allow_count(), compiled->deny_count()};
}

}  // namespace brig::policy
