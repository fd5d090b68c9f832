// Every rule a merged cell spec must satisfy. Each check reports where the
// offending value came from (file:line, flag, or profile) and how to fix it.
// The host-facing rules are in validate_host.cc, the policy rules in
// validate_policy.cc and the value grammars in validate_values.cc.
#include "brig/spec/validate.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "checks.h"

namespace brig::spec {
namespace {

using detail::Checker;
using detail::check_host_services;
using detail::check_host_sockets;
using detail::check_paths;
using detail::check_policy;
using detail::has_control;
using detail::parse_number;
using detail::valid_label;

bool valid_env_key(std::string_view k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

std::optional<std::string> digest_problem(std::string_view d) {
  auto colon = d.find(':');
  std::string_view algo = d.substr(0, colon), hex = colon == std::string_view::npos ? "" : d.substr(colon + 1);
  std::size_t want = algo == "sha256" ? 64 : algo == "sha512" ? 128 : 0;
  bool ok = want != 0 && hex.size() == want && std::all_of(hex.begin(), hex.end(), [](char c) {
              return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c));
            });
  if (ok) return std::nullopt;
  return "invalid digest " + str::quote(d) + "; expected sha256: followed by 64 lowercase hex digits";
}

std::string local_image_name(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (auto slash = dir.rfind('/'); slash != std::string_view::npos) dir.remove_prefix(slash + 1);
  std::string name;
  for (char c : dir) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' || l == '.';
    name += ok ? l : '-';
  }
  while (!name.empty() && !std::isalnum(static_cast<unsigned char>(name.back()))) name.pop_back();
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name.front()))) name = "cell";
  return "localhost/" + name;
}

namespace {

void check_image(Checker& err, const CellSpec& s, const Probe* probe) {
  if (!s.image.has() || s.image->empty()) {
    err(s.image.has() ? s.image.origin : Origin{}, "image",
        "no image given; pass IMAGE to brig run or set image: in the cell yaml");
    return;
  }
  const std::string& img = *s.image;
  if (has_control(img) || img.find(' ') != std::string::npos || img.front() == '-') {
    err(s.image.origin, "image", "invalid image reference " + str::quote(img));
    return;
  }
  if (probe && (img.front() == '.' || img.front() == '/' || img.find('/') != std::string::npos) &&
      probe->kind(img) == Probe::Kind::directory) {
    err(s.image.origin, "image",
        img + " is a directory, not an image; build it first with: brig image build " + img +
            " (then brig run " + local_image_name(img) + ":latest)");
    return;
  }
  auto check_digest = [&](std::string_view d, const Origin& o, const char* field) {
    auto problem = digest_problem(d);
    if (problem) err(o, field, *problem);
    return !problem;
  };
  auto at = img.find('@');
  std::optional<std::string> inline_digest;
  if (at != std::string::npos) {
    inline_digest = img.substr(at + 1);
    check_digest(*inline_digest, s.image.origin, "image");
  }
  if (s.image_digest.has()) {
    if (check_digest(*s.image_digest, s.image_digest.origin, "image_digest") && inline_digest &&
        *inline_digest != *s.image_digest) {
      err(s.image_digest.origin, "image_digest",
          "does not match the digest in image (" + *inline_digest + "); keep one of them");
    }
  }
}

void check_resources(Checker& err, const CellSpec& s) {
  if (s.memory.has()) {
    auto b = parse_size(*s.memory);
    if (!b) {
      err(s.memory.origin, "memory", "invalid size " + str::quote(*s.memory) + "; use a number with a unit, e.g. 512m or 2g");
    } else if (*b < (6u << 20)) {
      // The hint only fits a bare number ("2" is 2 bytes); "5m" needs none.
      const bool bare = std::all_of(s.memory->begin(), s.memory->end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
      err(s.memory.origin, "memory", str::quote(*s.memory) + " is below the 6m minimum" +
                                         (bare ? " (a bare number is bytes; did you mean " + *s.memory + "g?)" : ""));
    }
  }
  if (s.cpus.has()) {
    auto c = parse_number(*s.cpus);
    // How many the host has is a host check (engine/host_checks.cc).
    if (!c || *c <= 0) err(s.cpus.origin, "cpus", "invalid CPU count " + str::quote(*s.cpus) + "; use a positive number such as 1, 2 or 0.5");
  }
  if (s.pids_limit.has()) {
    const bool gvisor = s.runtime.value_or("runsc") == "runsc";
    const std::int64_t min = gvisor ? 1000 : 16;
    if (*s.pids_limit < min || *s.pids_limit > 4194304) {
      err(s.pids_limit.origin, "pids_limit",
          std::to_string(*s.pids_limit) + " is out of range; use " + std::to_string(min) + " to 4194304" +
              (gvisor ? " (under gVisor the limit also counts the sandbox's own threads)" : ""));
    }
  }
  if (s.workspace_quota.has()) {
    auto b = parse_size(*s.workspace_quota);
    if (!b || *b < (1u << 20)) err(s.workspace_quota.origin, "workspace_quota", "invalid size " + str::quote(*s.workspace_quota) + "; use e.g. 10g (at least 1m)");
  }
  if (s.timeout.has()) {
    auto t = parse_duration(*s.timeout);
    if (!t || *t == 0) err(s.timeout.origin, "timeout", "invalid duration " + str::quote(*s.timeout) + "; use e.g. 90s, 30m, 2h or 1h30m");
  }
}

void check_names_and_maps(Checker& err, const CellSpec& s, const ValidateOptions& opts) {
  if (s.name.has()) {
    if (auto why = check_cell_name(*s.name)) err(s.name.origin, "name", *why);
  }
  if (s.runtime.has() && *s.runtime != "runsc" && *s.runtime != "runc") {
    err(s.runtime.origin, "runtime", "unknown runtime " + str::quote(*s.runtime) + "; use runsc (gVisor) or, knowingly, runc");
  } else if (s.runtime.value_or("") == "runc" && opts.untrusted) {
    err(s.runtime.origin, "runtime", "the untrusted profile requires runsc (gVisor)");
  }
  if (s.command.has()) {
    if (s.command->empty()) err(s.command.origin, "command", "is empty; remove it to use the image's default command");
    for (const auto& a : *s.command) {
      if (a.find('\0') != std::string::npos) err(s.command.origin, "command", "contains a NUL byte");
    }
  }
  if (s.env.has()) {
    for (const auto& [k, v] : *s.env) {
      if (!valid_env_key(k)) err(s.env.origin, "env." + k, "invalid variable name; use letters, digits and '_' not starting with a digit");
      if (v.find('\0') != std::string::npos) err(s.env.origin, "env." + k, "value contains a NUL byte");
    }
  }
  if (s.labels.has()) {
    for (const auto& [k, v] : *s.labels) {
      if (k.empty() || k.find('=') != std::string::npos || has_control(k)) {
        err(s.labels.origin, "labels", "invalid label key " + str::quote(k));
      } else if (k.rfind("brig.", 0) == 0 && k != "brig.profile") {
        err(s.labels.origin, "labels." + k, "the brig. prefix is reserved for brig's own labels");
      }
      if (has_control(v)) err(s.labels.origin, "labels." + k, "value contains a control character");
    }
  }
  if (s.writable_rootfs.value_or(false) && (opts.untrusted || opts.airgapped)) {
    err(s.writable_rootfs.origin, "writable_rootfs",
        std::string("the ") + (opts.untrusted ? "untrusted" : "airgapped") +
            " profile keeps the root filesystem read-only; write to the workspace, /tmp or /run instead");
  }
}

// `secrets:`: the names, and for an injected secret its variable and hosts.
void check_secrets(Checker& err, const CellSpec& s) {
  if (!s.secrets.has()) return;
  std::set<std::string> seen;
  std::map<std::string, std::string> vars;  // env -> the secret whose placeholder it holds
  for (std::size_t i = 0; i < s.secrets->size(); ++i) {
    const SecretRef& e = (*s.secrets)[i];
    const Origin& o = e.origin.kind == Origin::Kind::none ? s.secrets.origin : e.origin;
    const std::string f = "secrets[" + std::to_string(i) + "]";
    const std::string name = str::quote(e.name);
    if (auto why = check_secret_name(e.name)) err(o, "secrets", "invalid secret name " + name + ": " + *why);
    else if (!seen.insert(e.name).second) err(o, "secrets", "secret " + name + " is listed twice");
    if (!e.injected()) continue;
    if (!valid_env_key(e.env)) {
      err(o, f + ".env", "invalid variable name " + str::quote(e.env) + "; use letters, digits and '_' not starting with a digit");
    } else if (brig_sets_env(e.env)) {
      err(o, f + ".env", e.env + " is set by brig in every cell; pick another variable for secret " + name);
    } else if (s.env.has() && s.env->count(e.env)) {
      err(o, f + ".env", e.env + " is also set in env (it would hide the placeholder); remove it from env or pick another variable");
    } else if (auto [it, fresh] = vars.emplace(e.env, e.name); !fresh) {
      err(o, f + ".env", e.env + " already holds the placeholder of secret " + str::quote(it->second) + "; pick another variable");
    }
    if (e.hosts.empty()) {
      err(o, f + ".hosts",
          "secret " + name + " is injected, so it needs the hosts warden may send it to, e.g. hosts: [api.openai.com]");
    }
    for (std::size_t j = 0; j < e.hosts.size(); ++j) {
      if (auto why = check_policy_host(e.hosts[j], PolicyList::allow)) {
        err(o, f + ".hosts[" + std::to_string(j) + "]", why->message);
      } else if (!hostname::Pattern::parse(e.hosts[j])) {
        // (warden matches the host alone: the policy already decides the port)
        err(o, f + ".hosts[" + std::to_string(j) + "]",
            str::quote(e.hosts[j]) + " names a port: list the host alone (the policy decides the ports)");
      }
    }
  }
}

// The routes warden's ingress serves (state/ingress_routes.h holds at most 16
// per cell).
void check_ingress(Checker& err, const CellSpec& s) {
  if (!s.ingress.has()) return;
  if (s.ingress->size() > 16) {
    err(s.ingress.origin, "ingress", std::to_string(s.ingress->size()) + " routes; a cell may declare at most 16");
  }
  std::set<std::string> names, prefixes;
  for (std::size_t i = 0; i < s.ingress->size(); ++i) {
    const auto& e = (*s.ingress)[i];
    const std::string f = "ingress[" + std::to_string(i) + "]";
    if (!valid_label(e.name, 31)) err(e.origin, f + ".name", "invalid name " + str::quote(e.name) + "; use 1-31 lowercase letters, digits and '-'");
    else if (!names.insert(e.name).second) err(e.origin, f + ".name", "duplicate ingress name " + str::quote(e.name));
    if (e.port < 1 || e.port > 65535) err(e.origin, f + ".port", std::to_string(e.port) + " is not a port (1-65535)");
    if (e.path_prefix.empty() || e.path_prefix.front() != '/' || has_control(e.path_prefix) ||
        e.path_prefix.find(' ') != std::string::npos || e.path_prefix.find("..") != std::string::npos) {
      err(e.origin, f + ".path_prefix", str::quote(e.path_prefix) + " must be a path starting with '/'");
    } else if (!prefixes.insert(e.path_prefix).second) {
      err(e.origin, f + ".path_prefix", "another ingress route already uses " + str::quote(e.path_prefix));
    }
    if (e.auth != "bearer") err(e.origin, f + ".auth", "unsupported auth " + str::quote(e.auth) + "; ingress always requires auth: bearer");
  }
}

// Fields the schema knows but brig does not implement yet. Setting one is an
// error, never a silent no-op; their detailed checks below still run so the
// rules are ready (and tested) when the feature lands.
void check_unsupported(Checker& err, const CellSpec& s) {
  auto refuse = [&](const Origin& o, const char* field, const char* why, const char* fix = "remove it") {
    err(o, field, std::string("not supported yet (") + why + "); " + fix);
  };
  if (s.workspace_quota.has()) {
    refuse(s.workspace_quota.origin, "workspace_quota", "brig cannot limit a workspace's size today");
  }
}

// Airgapped means no egress at all: no host access, no passthrough, no CA.
void check_airgapped(Checker& err, const CellSpec& s, const ValidateOptions& opts) {
  if (!opts.airgapped) return;
  const char* why = "the airgapped profile allows no egress at all";
  if (s.host_services.has() && !s.host_services->empty()) err(s.host_services.origin, "host_services", why);
  if (s.host_sockets.has() && !s.host_sockets->empty()) err(s.host_sockets.origin, "host_sockets", why);
  if (s.policy.has() && !s.policy->tls_passthrough.empty()) {
    err(s.policy->tls_passthrough.front().origin, "policy.tls_passthrough", why);
  }
  if (s.ingress.has() && !s.ingress->empty()) err(s.ingress.origin, "ingress", why);
  for (const auto& e : s.secrets.has() ? *s.secrets : SecretList{}) {
    if (!e.injected()) continue;
    err(e.origin.kind == Origin::Kind::none ? s.secrets.origin : e.origin, "secrets",
        "the airgapped profile allows no egress, so warden has no request to inject secret " + str::quote(e.name) +
            " into; list just its name to mount it at /run/secrets/" + e.name);
  }
  if (s.trust_warden_ca.value_or(false)) {
    err(s.trust_warden_ca.origin, "trust_warden_ca", "the airgapped profile mounts no CA (there is no egress to inspect)");
  }
}

}  // namespace

bool brig_sets_env(std::string_view name) {
  auto in = [&](const auto& list) { return std::find(std::begin(list), std::end(list), name) != std::end(list); };
  return in(kCellProxyEnv) || in(kCellNoProxyEnv) || in(kCellCaBundleEnv) || name == kCellNameEnv ||
         name == kCellNodeProxyEnv;
}

Diagnostics validate(const CellSpec& s, const ValidateOptions& opts) {
  Diagnostics out;
  Checker err(out);
  check_unsupported(err, s);
  check_names_and_maps(err, s, opts);
  check_image(err, s, opts.probe);
  check_resources(err, s);
  check_paths(err, s, opts.probe);
  check_policy(err, s, opts, out);
  check_secrets(err, s);
  check_ingress(err, s);
  check_host_services(err, s, opts);
  check_host_sockets(err, s, opts);
  check_airgapped(err, s, opts);
  return out;
}

}  // namespace brig::spec
