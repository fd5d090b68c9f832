// YAML -> CellSpec. Shape only: types, known keys, line numbers. The rules
// about values live in validate.cc so every source is checked the same way.
#include "brig/spec/parse.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <functional>
#include <unordered_map>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"

namespace brig::spec {
namespace {

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  // An implicit null ("key:" with nothing after it) is marked at the next
  // token, often the next key; report it on its own key's line instead.
  Origin at(const YAML::Node& n) const {
    if (n.IsNull() && key_line_ > 0) return Origin::file(file_, key_line_);
    return Origin::file(file_, n.Mark().line + 1);
  }
  void error(const YAML::Node& n, std::string field, std::string msg) {
    diags_.push_back({at(n), std::move(field), std::move(msg)});
  }
  Diagnostics& diags() { return diags_; }
  const std::string& file() const { return file_; }

  static std::string kind(const YAML::Node& n) {
    if (n.IsMap()) return "a mapping";
    if (n.IsSequence()) return "a list";
    if (n.IsNull()) return "nothing";
    return "a scalar";
  }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& field, const char* want) {
    if (!n.IsScalar()) {
      error(n, field, std::string("expected ") + want + ", got " + kind(n));
      return std::nullopt;
    }
    return n.Scalar();
  }

  // A number written bare or quoted, normalised to its shortest decimal form
  // ("2" for 2, 2.0 and "2"; "1.5" for 1.50).
  std::optional<std::string> number_or_string(const YAML::Node& n, const std::string& field, const char* want) {
    auto s = scalar(n, field, want);
    if (!s) return s;
    double d = 0;
    auto t = std::string(str::trim(*s));
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec == std::errc() && p == t.data() + t.size() && std::isfinite(d)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.15g", d);
      return std::string(buf);
    }
    return t;
  }

  std::optional<std::int64_t> integer(const YAML::Node& n, const std::string& field) {
    auto s = scalar(n, field, "an integer");
    if (!s) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || p != s->data() + s->size()) {
      error(n, field, "expected an integer, got " + str::quote(*s));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const YAML::Node& n, const std::string& field) {
    auto s = scalar(n, field, "true or false");
    if (!s) return std::nullopt;
    if (*s == "true") return true;
    if (*s == "false") return false;
    error(n, field, "expected true or false, got " + str::quote(*s));
    return std::nullopt;
  }

  std::optional<StringList> string_list(const YAML::Node& n, const std::string& field) {
    if (!n.IsSequence()) {
      error(n, field, "expected a list, got " + kind(n));
      return std::nullopt;
    }
    StringList out;
    bool ok = true;
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto s = scalar(n[i], field + "[" + std::to_string(i) + "]", "a string");
      if (s) out.push_back(*s); else ok = false;
    }
    return ok ? std::optional(out) : std::nullopt;
  }

  std::optional<StringMap> string_map(const YAML::Node& n, const std::string& field) {
    if (!n.IsMap()) {
      error(n, field, "expected a mapping of names to values, got " + kind(n));
      return std::nullopt;
    }
    StringMap out;
    bool ok = true;
    for (const auto& kv : n) {
      auto key = kv.first.Scalar();
      auto v = scalar(kv.second, field + "." + key, "a string value");
      if (!v) { ok = false; continue; }
      if (out.count(key)) error(kv.first, field, "duplicate key " + str::quote(key));
      out[key] = *v;
    }
    return ok ? std::optional(out) : std::nullopt;
  }

  // Visits each key of a mapping, reporting unknown keys with a did-you-mean.
  using Handler = std::function<void(const YAML::Node& value, const std::string& field)>;
  bool each_key(const YAML::Node& map, const std::string& prefix,
                const std::vector<std::pair<std::string, Handler>>& handlers) {
    if (!map.IsMap()) {
      error(map, prefix, "expected a mapping, got " + kind(map));
      return false;
    }
    std::vector<std::string> names;
    for (const auto& h : handlers) names.push_back(h.first);
    std::vector<std::string> seen;
    for (const auto& kv : map) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      const std::string field = prefix.empty() ? key : prefix + "." + key;
      auto it = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h.first == key; });
      if (it == handlers.end()) {
        std::string msg = "unknown key " + str::quote(key);
        if (auto s = str::closest(key, names)) msg += "; did you mean " + str::quote(*s) + "?";
        else msg += "; known keys: " + str::join(names, ", ");
        error(kv.first, prefix, msg);
        continue;
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        error(kv.first, field, "key appears twice");
        continue;
      }
      seen.push_back(key);
      const int saved = key_line_;
      key_line_ = kv.first.Mark().line + 1;
      it->second(kv.second, field);
      key_line_ = saved;
    }
    return true;
  }

  // Field<T> setter bound to a node's line.
  template <class T>
  void put(Field<T>& f, std::optional<T> v, const YAML::Node& n) {
    if (v) f.set(std::move(*v), at(n));
  }

 private:
  std::string file_;
  Diagnostics diags_;
  int key_line_ = 0;  // line of the key whose value is being read
};

// "host", "host:port", "[v6]:port" (hostname::split_authority); the host is
// kept as written ("*.x.com") for validate() to judge.
bool split_host_port(Reader& r, const YAML::Node& n, const std::string& field, const std::string& text,
                     AllowEntry& e) {
  auto a = hostname::split_authority(text);
  if (!a) {
    r.error(n, field, a.error().message() + "; write host or host:port with a port from 1 to 65535");
    return false;
  }
  e.domain = std::string(a->host);
  e.port = a->port;
  return true;
}

void parse_allow(Reader& r, const YAML::Node& n, const std::string& field, PolicyBlock& out) {
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
    r.each_key(item, f, {
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
    });
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

// `document`: a policy file (global or a cell's file written by the engine),
// which may also say `airgapped: true`; a cell spec's `policy:` may not (the
// profile decides that).
void parse_policy_block(Reader& r, const YAML::Node& n, const std::string& prefix, PolicyBlock& out,
                        bool document = false) {
  std::vector<std::pair<std::string, Reader::Handler>> keys = {
      {"allow", [&](const YAML::Node& v, const std::string& ff) { parse_allow(r, v, ff, out); }},
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

template <class T>
std::optional<std::vector<T>> parse_entries(
    Reader& r, const YAML::Node& n, const std::string& field,
    const std::function<std::vector<std::pair<std::string, Reader::Handler>>(T&)>& keys,
    const std::vector<std::string>& required) {
  if (!n.IsSequence()) {
    r.error(n, field, "expected a list, got " + Reader::kind(n));
    return std::nullopt;
  }
  std::vector<T> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    T e;
    e.origin = r.at(n[i]);
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!r.each_key(n[i], f, keys(e))) continue;
    bool ok = true;
    for (const auto& k : required) {
      if (!n[i][k]) {
        r.error(n[i], f, "missing key " + str::quote(k));
        ok = false;
      }
    }
    if (ok) out.push_back(std::move(e));
  }
  return out;
}

void parse_into(Reader& r, const YAML::Node& root, CellSpec& s, bool profile) {
  using H = Reader::Handler;
  auto str_field = [&](Field<std::string>& f, const char* want) -> H {
    return [&r, &f, want](const YAML::Node& v, const std::string& ff) { r.put(f, r.scalar(v, ff, want), v); };
  };
  auto num_field = [&](Field<std::string>& f, const char* want) -> H {
    return [&r, &f, want](const YAML::Node& v, const std::string& ff) { r.put(f, r.number_or_string(v, ff, want), v); };
  };
  auto int_ = [&](auto& e) {
    return [&r, &e](const YAML::Node& v, const std::string& ff) {
      auto i = r.integer(v, ff);
      if (!i) return;
      // Never wrap: 2^32 + 8080 must not become port 8080.
      if (*i < INT_MIN || *i > INT_MAX) r.error(v, ff, std::to_string(*i) + " is out of range");
      else e = static_cast<int>(*i);
    };
  };
  auto text = [&](std::string& e, const char* want) {
    return [&r, &e, want](const YAML::Node& v, const std::string& ff) { if (auto x = r.scalar(v, ff, want)) e = *x; };
  };

  std::vector<std::pair<std::string, H>> handlers = {
      {"name", str_field(s.name, "a cell name")},
      {"image", str_field(s.image, "an image reference")},
      {"image_digest", str_field(s.image_digest, "a digest like sha256:...")},
      {"command", [&](const YAML::Node& v, const std::string& f) {
         if (v.IsScalar()) r.error(v, f, "expected a list like [\"sh\", \"-c\", \"...\"], got a string");
         else r.put(s.command, r.string_list(v, f), v);
       }},
      {"env", [&](const YAML::Node& v, const std::string& f) { r.put(s.env, r.string_map(v, f), v); }},
      {"profile", str_field(s.profile, "a profile name")},
      {"runtime", str_field(s.runtime, "runsc or runc")},
      {"memory", num_field(s.memory, "a size like 2g")},
      {"cpus", num_field(s.cpus, "a number of CPUs")},
      {"pids_limit", [&](const YAML::Node& v, const std::string& f) { r.put(s.pids_limit, r.integer(v, f), v); }},
      {"workspace", str_field(s.workspace, "a host directory")},
      {"workspace_mount", str_field(s.workspace_mount, "an absolute path")},
      {"workspace_quota", num_field(s.workspace_quota, "a size like 10g")},
      {"writable_rootfs", [&](const YAML::Node& v, const std::string& f) { r.put(s.writable_rootfs, r.boolean(v, f), v); }},
      {"trust_warden_ca", [&](const YAML::Node& v, const std::string& f) { r.put(s.trust_warden_ca, r.boolean(v, f), v); }},
      {"secrets", [&](const YAML::Node& v, const std::string& f) { r.put(s.secrets, r.string_list(v, f), v); }},
      {"timeout", str_field(s.timeout, "a duration like 2h")},
      {"labels", [&](const YAML::Node& v, const std::string& f) { r.put(s.labels, r.string_map(v, f), v); }},
      {"policy", [&](const YAML::Node& v, const std::string& f) {
         PolicyBlock b;
         auto before = r.diags().size();
         parse_policy_block(r, v, f, b);
         if (r.diags().size() == before) s.policy.set(std::move(b), r.at(v));
       }},
      {"ingress", [&](const YAML::Node& v, const std::string& f) {
         r.put(s.ingress, parse_entries<Ingress>(r, v, f, [&](Ingress& e) -> std::vector<std::pair<std::string, H>> {
           return {{"name", text(e.name, "a name")}, {"port", int_(e.port)},
                   {"path_prefix", text(e.path_prefix, "a path")}, {"auth", text(e.auth, "bearer")}};
         }, {"name", "port"}), v);
       }},
      {"host_services", [&](const YAML::Node& v, const std::string& f) {
         r.put(s.host_services, parse_entries<HostService>(r, v, f, [&](HostService& e) -> std::vector<std::pair<std::string, H>> {
           return {{"name", text(e.name, "a name")}, {"port", int_(e.port)}, {"protocol", text(e.protocol, "http or tcp")}};
         }, {"name", "port"}), v);
       }},
      {"host_sockets", [&](const YAML::Node& v, const std::string& f) {
         r.put(s.host_sockets, parse_entries<HostSocket>(r, v, f, [&](HostSocket& e) -> std::vector<std::pair<std::string, H>> {
           return {{"name", text(e.name, "a name")}, {"host_path", text(e.host_path, "an absolute path")},
                   {"mount_point", text(e.mount_point, "a path under /run/host/")}, {"mode", text(e.mode, "ro or rw")}};
         }, {"name", "host_path", "mount_point"}), v);
       }},
  };
  if (profile) {
    // A profile sets limits and hardening, not what runs.
    for (const char* k : {"name", "image", "image_digest", "command", "profile"}) {
      if (root.IsMap() && root[k]) r.error(root[k], k, "a profile cannot set this key; put it in the cell yaml");
    }
    // Reported above; skip them rather than also calling them unknown keys.
    for (auto& h : handlers) {
      if (h.first == "name" || h.first == "image" || h.first == "image_digest" || h.first == "command" ||
          h.first == "profile") {
        h.second = [](const YAML::Node&, const std::string&) {};
      }
    }
  }
  r.each_key(root, "", handlers);
}

Result<YAML::Node> load(std::string_view text, const std::string& filename) {
  try {
    auto docs = YAML::LoadAll(std::string(text));
    if (docs.size() > 1) {
      return Error(Errc::invalid, filename + ":" + std::to_string(docs[1].Mark().line + 1) +
                                      ": a second YAML document ('---'); one file holds one document");
    }
    return docs.empty() ? YAML::Node() : docs.front();
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid, filename + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<YAML::Node> load_map(std::string_view text, const std::string& filename, const char* what) {
  auto doc = load(text, filename);
  if (!doc) return doc;
  if (doc->IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!doc->IsMap()) {
    return Error(Errc::invalid, filename + ":" + std::to_string(doc->Mark().line + 1) + ": expected " + what +
                                    " (a mapping of keys), got " + Reader::kind(*doc));
  }
  return doc;
}

}  // namespace

Result<CellSpec> parse_cell(std::string_view text, const std::string& filename) {
  auto doc = load_map(text, filename, "a cell spec");
  if (!doc) return doc.error();
  Reader r(filename);
  CellSpec s;
  parse_into(r, *doc, s, /*profile=*/false);
  if (!r.diags().empty()) return to_error(r.diags());
  return s;
}

Result<CellSpec> parse_profile(std::string_view text, const std::string& filename, const std::string& profile_name) {
  auto doc = load_map(text, filename, "a profile");
  if (!doc) return doc.error();
  Reader r(filename);
  CellSpec s;
  parse_into(r, *doc, s, /*profile=*/true);
  if (!r.diags().empty()) return to_error(r.diags());
  s.profile.set(profile_name, Origin::file(filename, 1));
  return s;
}

Result<PolicyBlock> parse_policy(std::string_view text, const std::string& filename) {
  auto doc = load_map(text, filename, "a policy");
  if (!doc) return doc.error();
  Reader r(filename);
  PolicyBlock b;
  parse_policy_block(r, *doc, "", b, /*document=*/true);
  if (!r.diags().empty()) return to_error(r.diags());
  return b;
}

}  // namespace brig::spec
