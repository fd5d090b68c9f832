// YAML -> PolicyBlock: allow, deny, tls_passthrough, rate_limits. Shape only;
// validate_policy judges the values.
#include <string>
#include <vector>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/core/timefmt.h"
#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "yaml_reader.h"

namespace brig::spec {
namespace detail {
namespace {

// "host", "host:port", "[v6]:port" (hostname::split_authority); the host is
// kept as written ("*.x.com") for validate() to judge.
bool split_host_port(Reader& r, const YAML::Node& n, const std::string& field, const std::string& text,
                     AllowEntry& e) {
  auto a = hostname::split_authority(text);
  if (!a) {
    // The one wording of a bad host entry (a URL is named as one).
    auto why = check_policy_host(text, PolicyList::allow);
    r.error(n, field, why ? why->message : a.error().message());
    return false;
  }
  e.domain = std::string(a->host);
  e.port = a->port;
  return true;
}

void parse_allow(Reader& r, const YAML::Node& n, const std::string& field, PolicyBlock& out, bool document) {
  if (!n.IsSequence()) {
    r.error(n, field, "expected a list of domains, got " + Reader::kind(n));
    return;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    const auto& item = n[i];
    const std::string f = field + "[" + std::to_string(i) + "]";
    AllowEntry e;
    e.origin = r.at(item);
    if (item.IsScalar()) {
      if (split_host_port(r, item, f, item.Scalar(), e)) out.allow.push_back(std::move(e));
      continue;
    }
    bool have_domain = false;
    bool ok = true;
    std::vector<std::pair<std::string, Reader::Handler>> keys = {
        {"domain", [&](const YAML::Node& v, const std::string& ff) {
           have_domain = true;  // present; a malformed value is reported by itself
           auto s = r.scalar(v, ff, "a domain");
           if (!s || !split_host_port(r, v, ff, *s, e)) ok = false;
         }},
        {"paths", [&](const YAML::Node& v, const std::string& ff) {
           if (auto l = r.string_list(v, ff)) e.paths = *l; else ok = false;
         }},
        {"methods", [&](const YAML::Node& v, const std::string& ff) {
           if (auto l = r.string_list(v, ff)) e.methods = *l; else ok = false;
         }},
    };
    if (document) {
      keys.emplace_back("expires", [&](const YAML::Node& v, const std::string& ff) {
        auto s = r.scalar(v, ff, "a time");
        auto t = s ? timefmt::parse_rfc3339(*s) : std::nullopt;
        if (s && !t) r.error(v, ff, "expected a UTC time like \"2026-12-01T10:00:00Z\", got " + str::quote(*s));
        if (t) e.expires = *t; else ok = false;
      });
    }
    r.each_key(item, f, keys);
    if (item.IsMap() && !have_domain && ok) r.error(item, f, "missing key \"domain\"");
    if (have_domain && ok) out.allow.push_back(std::move(e));
  }
}

void parse_domains(Reader& r, const YAML::Node& n, const std::string& field, std::vector<DomainEntry>& out) {
  if (!n.IsSequence()) {
    r.error(n, field, "expected a list of domains, got " + Reader::kind(n));
    return;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (auto s = r.scalar(n[i], field + "[" + std::to_string(i) + "]", "a domain")) {
      out.push_back({*s, r.at(n[i])});
    }
  }
}

std::optional<RateLimit> parse_rate(Reader& r, const YAML::Node& n, const std::string& field) {
  RateLimit rl;
  rl.origin = r.at(n);
  bool have_rate = false, have_burst = false;  // present, even if malformed (reported)
  auto number = [&](const YAML::Node& v, const std::string& ff, double& dst, bool& flag) {
    flag = true;
    auto s = r.scalar(v, ff, "a number");
    if (!s) return;
    double d = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), d);
    if (ec != std::errc() || p != s->data() + s->size() || !std::isfinite(d)) {
      r.error(v, ff, "expected a number, got " + str::quote(*s));
      return;
    }
    dst = d;
  };
  r.each_key(n, field, {
      {"rate", [&](const YAML::Node& v, const std::string& ff) { number(v, ff, rl.rate, have_rate); }},
      {"burst", [&](const YAML::Node& v, const std::string& ff) { number(v, ff, rl.burst, have_burst); }},
  });
  if (n.IsMap() && !have_rate) {
    r.error(n, field, "missing key \"rate\" (requests per second)");
    return std::nullopt;
  }
  if (!have_burst) rl.burst = rl.rate;
  return rl;
}

void parse_rate_limits(Reader& r, const YAML::Node& n, const std::string& field, PolicyBlock& out) {
  r.each_key(n, field, {
      {"default", [&](const YAML::Node& v, const std::string& f) { out.rate_default = parse_rate(r, v, f); }},
      {"cells", [&](const YAML::Node& v, const std::string& f) {
         if (!v.IsMap()) {
           r.error(v, f, "expected a mapping of cell names to {rate, burst}");
           return;
         }
         for (const auto& kv : v) {
           if (auto rl = parse_rate(r, kv.second, f + "." + kv.first.Scalar())) out.rate_cells[kv.first.Scalar()] = *rl;
         }
       }},
  });
}

}  // namespace

// `document`: a policy file (global or a cell's file written by the engine),
// which may also say `airgapped: true`; a cell spec's `policy:` may not (the
// profile decides that).
void parse_policy_block(Reader& r, const YAML::Node& n, const std::string& prefix, PolicyBlock& out, bool document) {
  std::vector<std::pair<std::string, Reader::Handler>> keys = {
      {"allow", [&](const YAML::Node& v, const std::string& ff) { parse_allow(r, v, ff, out, document); }},
      {"deny", [&](const YAML::Node& v, const std::string& ff) { parse_domains(r, v, ff, out.deny); }},
      {"tls_passthrough", [&](const YAML::Node& v, const std::string& ff) { parse_domains(r, v, ff, out.tls_passthrough); }},
      {"rate_limits", [&](const YAML::Node& v, const std::string& ff) { parse_rate_limits(r, v, ff, out); }},
  };
  if (document) {
    keys.emplace_back("airgapped", [&](const YAML::Node& v, const std::string& ff) {
      if (auto b = r.boolean(v, ff)) out.airgapped = *b;
    });
  }
  r.each_key(n, prefix, keys);
}

}  // namespace detail

using detail::load_map;
using detail::parse_policy_block;
using detail::Reader;

Result<PolicyBlock> parse_policy(std::string_view text, const std::string& filename) {
  auto doc = load_map(text, filename, "a policy");
  if (!doc) return doc.error();
  Reader r(filename);
  PolicyBlock b;
  parse_policy_block(r, *doc, "", b, /*document=*/true);
  if (r.diags().empty()) return b;
  // A shape error does not hide the rest: the rules of what did parse are
  // reported with it (the same check the policy module runs on success).
  Diagnostics all = std::move(r.diags());
  add_unreported(all, validate_policy(b, ""));
  return to_error(all);
}

}  // namespace brig::spec
