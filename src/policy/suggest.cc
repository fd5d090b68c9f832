#include "brig/policy/suggest.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "brig/core/hostname.h"
#include "brig/core/timefmt.h"
#include "brig/policy/path.h"
#include "brig/spec/validate.h"

namespace brig::policy {
namespace {

constexpr Reason kSuggestible[] = {Reason::no_rule, Reason::port_not_allowed, Reason::method_not_allowed,
                                   Reason::path_not_allowed};
constexpr Reason kAll[] = {Reason::allowed,       Reason::denied_by_rule, Reason::no_rule,
                           Reason::port_not_allowed, Reason::method_not_allowed, Reason::path_not_allowed,
                           Reason::ip_literal,    Reason::invalid_host,   Reason::invalid_path,
                           Reason::airgapped};

bool connect_level(const Denial& d) { return d.method == "CONNECT" || d.path.empty(); }

bool valid_method(std::string_view m) {
  return !m.empty() && std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// The directory a path or "DIR/*" glob sits in: "/v1/users/1" and
// "/v1/users/*" -> "/v1/users/" and "/v1/"; "/x" -> "/".
std::string parent(std::string s) {
  if (!s.empty() && s.back() == '*') s.pop_back();
  if (s.size() > 1 && s.back() == '/') s.pop_back();
  const auto slash = s.rfind('/');
  return slash == std::string::npos ? std::string() : s.substr(0, slash + 1);
}

// Three or more items directly in one directory (not "/") become "DIR/*",
// until none do; an item under a new glob is dropped.
std::set<std::string> collapse(std::set<std::string> items) {
  for (bool changed = true; changed;) {
    changed = false;
    std::map<std::string, std::vector<std::string>> by_dir;
    for (const auto& i : items) {
      if (auto dir = parent(i); dir.size() > 1) by_dir[dir].push_back(i);
    }
    for (const auto& [dir, members] : by_dir) {
      if (members.size() < 3) continue;
      for (auto it = items.begin(); it != items.end();) it = it->starts_with(dir) ? items.erase(it) : std::next(it);
      items.insert(dir + "*");
      changed = true;
      break;  // recompute the directories from the new set
    }
  }
  return items;
}

// The rule for one host and port.
struct Group {
  bool whole = false;       // a CONNECT-level denial: no paths, no methods
  bool any_method = false;  // a method no rule can name
  bool any_path = false;    // a path no glob can hold
  std::set<std::string> methods, paths;
  std::set<std::string> exact;  // paths kept as they are (a glob did not hold them)
};

spec::AllowEntry entry_for(const std::string& host, std::uint16_t port, const Group& g) {
  spec::AllowEntry e;
  e.domain = host;
  if (port != 80 && port != 443) e.port = port;
  if (g.whole) return e;
  if (!g.any_method) e.methods.assign(g.methods.begin(), g.methods.end());
  if (!g.any_path) {
    auto paths = collapse(g.paths);
    paths.insert(g.exact.begin(), g.exact.end());
    e.paths.assign(paths.begin(), paths.end());
  }
  return e;
}

// A scalar YAML reads as written: a host or a method plainly, the rest quoted
// (JSON's double-quoted strings are YAML's).
std::string yaml_scalar(const std::string& s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  }) && s.front() != '-' && s.front() != '.';
  return plain ? s : nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string yaml_flow(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + yaml_scalar(items[i]);
  return out + "]";
}

}  // namespace

bool suggestible(std::string_view code) {
  return std::any_of(std::begin(kSuggestible), std::end(kSuggestible),
                     [&](Reason r) { return reason_code(r) == code; });
}

std::optional<Denial> denial_from_record(const nlohmann::json& rec) {
  if (!rec.is_object()) return std::nullopt;
  auto s = [&](const char* k) {
    const auto it = rec.find(k);
    return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (s("decision") != "deny" || s("kind") == "ingress" || s("host").empty()) return std::nullopt;
  Denial d;
  d.host = s("host");
  if (const auto p = rec.find("port"); p != rec.end() && p->is_number_integer()) {
    const auto port = p->get<std::int64_t>();
    if (port > 0 && port <= 65535) d.port = static_cast<std::uint16_t>(port);
  }
  d.method = s("method");
  d.path = s("path");
  d.code = s("code");
  if (d.code.empty()) {
    const std::string reason = s("reason");
    for (Reason r : kAll) {
      if (reason_text(r) == reason) d.code = std::string(reason_code(r));
    }
  }
  return d;
}

std::optional<std::int64_t> record_time(const nlohmann::json& rec) {
  if (!rec.is_object()) return std::nullopt;
  const auto it = rec.find("ts");
  if (it == rec.end() || !it->is_string()) return std::nullopt;
  std::string ts = it->get<std::string>();
  // "2026-12-01T10:00:00.123Z": whole seconds are enough here.
  if (ts.size() > 20 && ts[19] == '.' && ts.back() == 'Z') ts = ts.substr(0, 19) + "Z";
  return timefmt::parse_rfc3339(ts);
}

Suggestion suggest(const std::vector<Denial>& denials, const Policy* current) {
  Suggestion out;
  using Key = std::pair<std::string, std::uint16_t>;  // canonical host; port (443 for 80 and 443)
  std::map<Key, Group> groups;
  struct Kept {
    const Denial* d;
    Key key;
    std::string path;  // normalised; "" when the group's rule holds any path
  };
  std::vector<Kept> kept;
  std::string host, path, decoded;
  for (const auto& d : denials) {
    if (!suggestible(d.code)) continue;
    // A host no rule can name (an IP literal, a public suffix) gets none.
    if (!hostname::normalize_into(d.host, host) || hostname::is_ip_literal(host)) continue;
    if (spec::check_policy_host(host, spec::PolicyList::allow)) continue;
    if (current && current->evaluate({d.host, d.port, connect_level(d) ? "" : d.method, connect_level(d) ? "" : d.path})
                       .allowed()) {
      ++out.already_allowed;
      continue;
    }
    ++out.denials;
    const Key key{host, d.port == 80 ? std::uint16_t{443} : d.port};
    Group& g = groups[key];
    Kept k{&d, key, ""};
    if (connect_level(d)) {
      g.whole = true;
    } else {
      // Rules name methods in uppercase and match them exactly: a request
      // sent as "get" needs a rule without methods.
      if (valid_method(d.method)) g.methods.insert(d.method);
      else g.any_method = true;
      if (normalize_path(d.path, path) && decode_path(path, decoded)) {
        g.paths.insert(path);
        k.path = path;
      } else {
        g.any_path = true;
      }
    }
    kept.push_back(std::move(k));
  }
  if (groups.empty()) return out;

  // Build, then check every denial against the rules; a path a glob does not
  // hold (an escape that decodes outside it) is kept as it is, and should
  // even that fail, the host is allowed whole.
  for (int round = 0;; ++round) {
    out.policy.allow.clear();
    for (const auto& [key, g] : groups) out.policy.allow.push_back(entry_for(key.first, key.second, g));
    auto compiled = Policy::compile(out.policy, nullptr);
    bool all = compiled.ok();
    for (const auto& k : kept) {
      const Denial& d = *k.d;
      const bool ok = compiled.ok() && compiled->evaluate({d.host, d.port, connect_level(d) ? "" : d.method,
                                                           connect_level(d) ? "" : d.path})
                                           .allowed();
      if (ok) continue;
      all = false;
      Group& g = groups[k.key];
      if (round == 0 && compiled.ok() && !k.path.empty()) g.exact.insert(k.path);
      else g.whole = true;
    }
    if (all || round == 2) break;
  }
  return out;
}

std::string suggestion_yaml(const spec::PolicyBlock& policy) {
  std::string out = "allow:\n";
  if (policy.allow.empty()) return "allow: []\n";
  for (const auto& a : policy.allow) {
    const std::string domain = a.domain + (a.port ? ":" + std::to_string(*a.port) : "");
    if (a.paths.empty() && a.methods.empty()) {
      out += "  - " + yaml_scalar(domain) + "\n";
      continue;
    }
    out += "  - domain: " + yaml_scalar(domain) + "\n";
    if (!a.paths.empty()) out += "    paths: " + yaml_flow(a.paths) + "\n";
    if (!a.methods.empty()) out += "    methods: " + yaml_flow(a.methods) + "\n";
  }
  return out;
}

}  // namespace brig::policy
