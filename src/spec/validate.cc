// Every rule a merged cell spec must satisfy. Each check reports where the
// offending value came from (file:line, flag, or profile) and how to fix it.
#include "brig/spec/validate.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <set>

#include "brig/core/hostname.h"
#include "brig/core/strings.h"

namespace brig::spec {
namespace {

class Checker {
 public:
  explicit Checker(Diagnostics& d) : d_(d) {}
  void operator()(const Origin& o, std::string field, std::string msg) {
    d_.push_back({o, std::move(field), std::move(msg)});
  }

 private:
  Diagnostics& d_;
};

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// A DNS-label style name: [a-z0-9] then [a-z0-9-], at most `max` long, no trailing '-'.
bool valid_label(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max || s.back() == '-') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

// Resolves "." and ".." and repeated slashes in an absolute path. nullopt if it
// is relative or contains a ".." segment (never allowed in spec paths).
std::optional<std::string> normalize_abs(std::string_view p) {
  if (p.empty() || p.front() != '/') return std::nullopt;
  std::vector<std::string> parts;
  for (auto& seg : str::split(p, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return std::nullopt;
    parts.push_back(seg);
  }
  return "/" + str::join(parts, "/");
}

bool is_under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// Paths the workspace may not cover, be, or sit inside.
const std::vector<std::string> kBrigOwned = {"/run/secrets", "/run/host", "/run/brig"};
const std::vector<std::string> kSystemTrees = {"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64",
                                               "/libx32", "/proc", "/sbin", "/sys", "/usr"};
const std::vector<std::string> kSystemExact = {"/run", "/tmp", "/var", "/var/run", "/var/lib", "/root", "/home"};

std::optional<std::string> workspace_mount_problem(const std::string& p) {
  if (p == "/") return "cannot be / (it would hide the whole root filesystem)";
  for (const auto& owned : kBrigOwned) {
    if (p == owned) return "cannot be " + owned + ", which brig mounts itself";
    if (is_under(p, owned)) return "cannot be inside " + owned + ", which brig mounts itself";
    if (is_under(owned, p)) return "cannot be " + p + ": it would hide " + owned + ", which brig mounts itself";
  }
  for (const auto& sys : kSystemTrees) {
    if (p == sys) return "cannot be the system path " + sys;
    if (is_under(p, sys)) return "cannot be inside the system path " + sys;
    if (is_under(sys, p)) return "cannot be " + p + ": it would hide the system path " + sys;
  }
  for (const auto& sys : kSystemExact) {
    if (p == sys) return "cannot be the system path " + sys;
  }
  return std::nullopt;
}

// Sockets that hand out control of a container engine or VM: root on the host.
const std::vector<std::string> kEngineSocketWords = {"docker", "podman", "containerd", "crio", "cri-o",
                                                     "firecracker", "lima"};

std::optional<std::string> engine_socket(std::string_view path) {
  auto slash = path.rfind('/');
  std::string base = str::to_lower(slash == std::string_view::npos ? path : path.substr(slash + 1));
  for (const auto& w : kEngineSocketWords) {
    if (base.find(w) != std::string::npos) return w;
  }
  // Engine sockets also live under well-known directories with generic names,
  // hidden ones included (~/.lima/<vm>/ha.sock).
  std::string lower = str::to_lower(path);
  for (const auto& w : kEngineSocketWords) {
    if (lower.find("/" + w + "/") != std::string::npos || lower.find("/." + w + "/") != std::string::npos) return w;
  }
  return std::nullopt;
}

bool valid_env_key(std::string_view k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool valid_method(std::string_view m) {
  return !m.empty() && std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::optional<double> parse_number(std::string_view s) {
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

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
        img + " is a directory, not an image; build it first with: brig image build " + img);
    return;
  }
  auto check_digest = [&](std::string_view d, const Origin& o, const char* field) {
    auto colon = d.find(':');
    std::string_view algo = d.substr(0, colon), hex = colon == std::string_view::npos ? "" : d.substr(colon + 1);
    std::size_t want = algo == "sha256" ? 64 : algo == "sha512" ? 128 : 0;
    bool ok = want != 0 && hex.size() == want &&
              std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); });
    if (!ok) err(o, field, "invalid digest " + str::quote(d) + "; expected sha256: followed by 64 lowercase hex digits");
    return ok;
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
    if (!c || *c <= 0 || *c > 1024) err(s.cpus.origin, "cpus", "invalid CPU count " + str::quote(*s.cpus) + "; use a positive number such as 1, 2 or 0.5");
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

void check_paths(Checker& err, const CellSpec& s, const Probe* probe) {
  if (s.workspace_mount.has()) {
    const std::string& m = *s.workspace_mount;
    auto n = normalize_abs(m);
    if (!n) {
      err(s.workspace_mount.origin, "workspace_mount", str::quote(m) + " must be an absolute path without '..'");
    } else if (auto why = workspace_mount_problem(*n)) {
      err(s.workspace_mount.origin, "workspace_mount", *why + "; use a path such as /work");
    }
  }
  if (s.workspace.has()) {
    const std::string& w = *s.workspace;
    if (w.empty() || w.front() != '/') {
      err(s.workspace.origin, "workspace", str::quote(w) + " must be an absolute host path");
    } else if (probe) {
      auto k = probe->kind(w);
      if (k == Probe::Kind::missing) err(s.workspace.origin, "workspace", w + " does not exist; create it or leave workspace unset");
      else if (k != Probe::Kind::directory) err(s.workspace.origin, "workspace", w + " is not a directory");
    }
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
  if (s.secrets.has()) {
    std::set<std::string> seen;
    for (const auto& n : *s.secrets) {
      if (auto why = check_secret_name(n)) err(s.secrets.origin, "secrets", "invalid secret name " + str::quote(n) + ": " + *why);
      if (!seen.insert(n).second) err(s.secrets.origin, "secrets", "secret " + str::quote(n) + " is listed twice");
    }
  }
  if (s.writable_rootfs.value_or(false) && (opts.untrusted || opts.airgapped)) {
    err(s.writable_rootfs.origin, "writable_rootfs",
        std::string("the ") + (opts.untrusted ? "untrusted" : "airgapped") +
            " profile keeps the root filesystem read-only; write to the workspace, /tmp or /run instead");
  }
}

void check_ingress(Checker& err, const CellSpec& s) {
  if (!s.ingress.has()) return;
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
  if (s.image_digest.has()) {
    refuse(s.image_digest.origin, "image_digest", "brig does not pin an image by a separate digest today",
           "put the digest in image instead (image: NAME@sha256:...)");
  }
  if (s.workspace_quota.has()) {
    refuse(s.workspace_quota.origin, "workspace_quota", "brig cannot limit a workspace's size today");
  }
  if (s.ingress.has() && !s.ingress->empty()) {
    refuse(s.ingress.origin, "ingress", "brig cannot route ingress to a cell today");
  }
  if (s.host_services.has() && !s.host_services->empty()) {
    refuse(s.host_services.origin, "host_services", "brig cannot route a cell to host services today");
  }
  if (s.host_sockets.has() && !s.host_sockets->empty()) {
    refuse(s.host_sockets.origin, "host_sockets", "brig cannot mount host sockets into a cell today");
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
  if (s.trust_warden_ca.value_or(false)) {
    err(s.trust_warden_ca.origin, "trust_warden_ca", "the airgapped profile mounts no CA (there is no egress to inspect)");
  }
}

void check_host_services(Checker& err, const CellSpec& s, const ValidateOptions& opts) {
  if (!s.host_services.has()) return;
  const auto& list = *s.host_services;
  if (list.size() > kMaxHostServices) {
    err(s.host_services.origin, "host_services", std::to_string(list.size()) + " entries; at most " + std::to_string(kMaxHostServices) + " are allowed");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& e = list[i];
    const std::string f = "host_services[" + std::to_string(i) + "]";
    if (!valid_label(e.name, 31)) err(e.origin, f + ".name", "invalid name " + str::quote(e.name) + "; use 1-31 lowercase letters, digits and '-' (it becomes <name>.host.brig)");
    else if (!names.insert(e.name).second) err(e.origin, f + ".name", "duplicate host service " + str::quote(e.name));
    if (e.port < 1 || e.port > 65535) {
      err(e.origin, f + ".port", std::to_string(e.port) + " is not a port (1-65535)");
    } else if (std::find(std::begin(kWardenReservedPorts), std::end(kWardenReservedPorts), e.port) != std::end(kWardenReservedPorts)) {
      err(e.origin, f + ".port", std::to_string(e.port) + " is reserved by warden; expose the service on another host port");
    }
    if (e.protocol != "http" && e.protocol != "tcp") {
      std::string msg = "unknown protocol " + str::quote(e.protocol) + "; use http or tcp";
      if (str::iequals(e.protocol, "http") || str::iequals(e.protocol, "tcp")) msg += " (lowercase)";
      err(e.origin, f + ".protocol", msg);
    } else if (e.protocol == "tcp" && opts.untrusted) {
      err(e.origin, f + ".protocol", "the untrusted profile forbids tcp host services (warden cannot inspect them); use protocol: http");
    }
  }
}

void check_host_sockets(Checker& err, const CellSpec& s, const ValidateOptions& opts) {
  if (!s.host_sockets.has() || s.host_sockets->empty()) return;
  const auto& list = *s.host_sockets;
  if (opts.untrusted) {
    err(s.host_sockets.origin, "host_sockets", "the untrusted profile forbids host sockets (traffic over them bypasses warden)");
    return;
  }
  if (list.size() > kMaxHostSockets) {
    err(s.host_sockets.origin, "host_sockets", std::to_string(list.size()) + " entries; at most " + std::to_string(kMaxHostSockets) + " are allowed");
  }
  std::set<std::string> names, mounts;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& e = list[i];
    const std::string f = "host_sockets[" + std::to_string(i) + "]";
    if (!valid_label(e.name, 31)) err(e.origin, f + ".name", "invalid name " + str::quote(e.name) + "; use 1-31 lowercase letters, digits and '-'");
    else if (!names.insert(e.name).second) err(e.origin, f + ".name", "duplicate host socket " + str::quote(e.name));

    auto hp = normalize_abs(e.host_path);
    if (!hp) {
      err(e.origin, f + ".host_path", str::quote(e.host_path) + " must be an absolute path without '..'");
    } else if (auto w = engine_socket(*hp)) {
      err(e.origin, f + ".host_path", e.host_path + " looks like a " + *w + " engine socket, which gives control of the host; it is never allowed");
    } else if (opts.probe) {
      switch (opts.probe->kind(*hp)) {
        case Probe::Kind::missing:
          err(e.origin, f + ".host_path", e.host_path + " does not exist; start the service that provides it, or correct host_path");
          break;
        case Probe::Kind::symlink:
          err(e.origin, f + ".host_path", e.host_path + " is a symlink; give the socket's real path");
          break;
        case Probe::Kind::socket: {
          auto real = opts.probe->realpath(*hp);
          if (!real) {
            err(e.origin, f + ".host_path", e.host_path + " cannot be resolved");
          } else if (auto w2 = engine_socket(*real)) {
            err(e.origin, f + ".host_path", e.host_path + " resolves to " + *real + ", a " + *w2 + " engine socket; it is never allowed");
          }
          break;
        }
        default:
          err(e.origin, f + ".host_path", e.host_path + " is not a unix socket");
      }
    }

    auto mp = normalize_abs(e.mount_point);
    if (!mp || !is_under(*mp, "/run/host") || *mp == "/run/host") {
      err(e.origin, f + ".mount_point", str::quote(e.mount_point) + " must be a path inside /run/host/, without '..'");
    } else if (!mounts.insert(*mp).second) {
      err(e.origin, f + ".mount_point", "another host socket already mounts at " + *mp);
    }
    if (e.mode != "ro" && e.mode != "rw") err(e.origin, f + ".mode", "unknown mode " + str::quote(e.mode) + "; use ro or rw");
  }
}

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

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view s) {
  s = str::trim(s);
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  if (!s.empty() && lower(s.back()) == 'b') s.remove_suffix(1);  // "2gb", "512b"
  std::uint64_t mult = 1;
  if (!s.empty()) {
    switch (lower(s.back())) {
      case 'k': mult = 1ull << 10; break;
      case 'm': mult = 1ull << 20; break;
      case 'g': mult = 1ull << 30; break;
      case 't': mult = 1ull << 40; break;
      default: break;
    }
  }
  if (mult != 1) s.remove_suffix(1);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front()))) return std::nullopt;
  auto d = parse_number(s);
  if (!d) return std::nullopt;
  const double bytes = *d * static_cast<double>(mult);
  if (bytes > 1.8e19 || std::floor(bytes) != bytes) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::optional<std::uint64_t> parse_duration(std::string_view s) {
  s = str::trim(s);
  if (s.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!s.empty()) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p == s.data() || p == s.data() + s.size()) return std::nullopt;
    std::uint64_t unit = 0;
    switch (*p) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return std::nullopt;
    }
    if (n > (1ull << 40)) return std::nullopt;
    total += n * unit;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()) + 1);
  }
  return total;
}

std::optional<std::string> check_secret_name(std::string_view n) {
  if (n.empty()) return "it is empty";
  if (n.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  if (has_control(n)) return "it contains a control character";
  if (n.front() == '-') return "it starts with '-'";
  if (n.find('/') != std::string_view::npos) return "it contains '/'";
  if (n.find("..") != std::string_view::npos) return "it contains '..'";
  if (n == ".") return "it is '.'";
  if (n.size() > 255) return "it is longer than 255 characters";
  return std::nullopt;
}

bool reserved_cell_name(std::string_view n) {
  // Names brig's own state and infrastructure use (state/system, brig-warden, brig-ext).
  return n == "system" || n == "warden" || n == "ext";
}

std::optional<std::string> check_cell_name(std::string_view n) {
  if (reserved_cell_name(n)) return "cell name " + str::quote(n) + " is reserved for brig's own use; pick another name";
  if (!valid_cell_name(n)) {
    return "invalid cell name " + str::quote(n) + "; use 1-63 lowercase letters, digits and '-', starting with a letter or digit";
  }
  return std::nullopt;
}

bool valid_cell_name(std::string_view n) {
  if (n.empty() || n.size() > 63 || reserved_cell_name(n)) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

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

Diagnostics validate(const CellSpec& s, const ValidateOptions& opts) {
  Diagnostics out;
  Checker err(out);
  check_unsupported(err, s);
  check_names_and_maps(err, s, opts);
  check_image(err, s, opts.probe);
  check_resources(err, s);
  check_paths(err, s, opts.probe);
  check_policy(err, s, opts, out);
  check_ingress(err, s);
  check_host_services(err, s, opts);
  check_host_sockets(err, s, opts);
  check_airgapped(err, s, opts);
  return out;
}

}  // namespace brig::spec
