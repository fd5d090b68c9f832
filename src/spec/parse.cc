// YAML -> CellSpec. Shape only: types, known keys, line numbers. The rules
// about values live in validate.cc so every source is checked the same way.
// The Reader is in yaml_reader.h, the policy block in parse_policy.cc.
#include "brig/spec/parse.h"

#include <climits>
#include <functional>

#include "brig/core/strings.h"
#include "yaml_reader.h"

namespace brig::spec {
namespace detail {
namespace {

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

// `secrets:`: each entry a name (the file form) or a mapping {name, env,
// hosts, allow_plaintext} (injected by warden). Shape only: the names, the
// variable and the hosts are judged by validate.cc.
std::optional<SecretList> parse_secrets(Reader& r, const YAML::Node& n, const std::string& field) {
  if (!n.IsSequence()) {
    r.error(n, field, "expected a list of secret names or {name, env, hosts} mappings, got " + Reader::kind(n));
    return std::nullopt;
  }
  SecretList out;
  bool ok = true;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const YAML::Node e = n[i];
    const std::string f = field + "[" + std::to_string(i) + "]";
    SecretRef ref;
    ref.origin = r.at(e);
    if (e.IsScalar()) {
      ref.name = e.Scalar();
      out.push_back(std::move(ref));
      continue;
    }
    if (!e.IsMap()) {
      r.error(e, f, "expected a secret name or a mapping {name, env, hosts}, got " + Reader::kind(e));
      ok = false;
      continue;
    }
    const std::size_t before = r.diags().size();
    bool has_env = false, has_hosts = false, has_plaintext = false;
    r.each_key(e, f, {
        {"name", [&](const YAML::Node& v, const std::string& ff) {
           if (auto x = r.scalar(v, ff, "a secret name")) ref.name = *x;
         }},
        {"env", [&](const YAML::Node& v, const std::string& ff) {
           has_env = true;
           auto x = r.scalar(v, ff, "a variable name");
           if (x && x->empty()) r.error(v, ff, "is empty; give the variable that holds the placeholder, e.g. env: OPENAI_API_KEY");
           else if (x) ref.env = *x;
         }},
        {"hosts", [&](const YAML::Node& v, const std::string& ff) {
           has_hosts = true;
           if (auto l = r.string_list(v, ff)) ref.hosts = *l;
         }},
        {"allow_plaintext", [&](const YAML::Node& v, const std::string& ff) {
           has_plaintext = true;
           if (auto b = r.boolean(v, ff)) ref.allow_plaintext = *b;
         }},
    });
    if (!e["name"]) r.error(e, f, "missing key \"name\"");
    if (!has_env && (has_hosts || has_plaintext)) {
      r.error(e, f,
              std::string(has_hosts ? "hosts" : "allow_plaintext") +
                  " only goes with env (warden injects such a secret into requests to its hosts); add env: VARIABLE, "
                  "or give just the name to mount it at /run/secrets/NAME");
    }
    if (r.diags().size() != before) ok = false;
    else out.push_back(std::move(ref));
  }
  return ok ? std::optional(std::move(out)) : std::nullopt;
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
      {"secrets", [&](const YAML::Node& v, const std::string& f) { r.put(s.secrets, parse_secrets(r, v, f), v); }},
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

}  // namespace

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

}  // namespace detail

using detail::load_map;
using detail::parse_into;
using detail::Reader;

Result<ParsedCell> parse_cell_all(std::string_view text, const std::string& filename) {
  auto doc = load_map(text, filename, "a cell spec");
  if (!doc) return doc.error();
  Reader r(filename);
  ParsedCell out;
  parse_into(r, *doc, out.spec, /*profile=*/false);
  out.diags = std::move(r.diags());
  return out;
}

Result<CellSpec> parse_cell(std::string_view text, const std::string& filename) {
  auto parsed = parse_cell_all(text, filename);
  if (!parsed) return parsed.error();
  if (!parsed->diags.empty()) return to_error(parsed->diags);
  return std::move(parsed->spec);
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

}  // namespace brig::spec
