// The rules about the host a cell touches: its workspace paths, the host
// services it may reach and the host sockets mounted into it.
#include <algorithm>
#include <charconv>
#include <set>

#include "brig/core/strings.h"
#include "brig/spec/validate.h"
#include "checks.h"

namespace brig::spec::detail {
namespace {

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

}  // namespace

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
    if (auto p = host_service_problem(e, opts.untrusted)) {
      err(e.origin, f + p->field, p->message);
    } else if (!names.insert(e.name).second) {
      err(e.origin, f + ".name", "duplicate host service " + str::quote(e.name));
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
  if (opts.from_mac) {
    // host_path names a file on the Mac: the VM can use it only through the
    // thin client's bridge.
    const bool bridged = std::all_of(list.begin(), list.end(), [&](const HostSocket& e) {
      return opts.host_socket_bridges.count(e.name) > 0;
    });
    if (!bridged) {
      err(s.host_sockets.origin, "host_sockets",
          "not supported yet on macOS (brig cannot bridge a socket on the Mac into its VM today); remove it, or run "
          "brig on a Linux host");
      return;
    }
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

    // From the Mac the file is not here to probe: the thin client judged it.
    if (auto why = host_socket_path_problem(e.host_path, opts.from_mac ? nullptr : opts.probe)) {
      err(e.origin, f + ".host_path", *why);
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

}  // namespace brig::spec::detail

namespace brig::spec {
namespace {

// Sockets that hand out control of a container engine or VM: root on the host.
const std::vector<std::string> kEngineSocketWords = {"docker", "podman", "containerd", "crio", "cri-o",
                                                     "firecracker", "lima"};

}  // namespace

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

std::optional<std::string> host_socket_path_problem(const std::string& host_path, const Probe* probe) {
  auto hp = detail::normalize_abs(host_path);
  if (!hp) return str::quote(host_path) + " must be an absolute path without '..'";
  if (auto w = engine_socket(*hp)) {
    return host_path + " looks like a " + *w + " engine socket, which gives control of the host; it is never allowed";
  }
  if (!probe) return std::nullopt;
  switch (probe->kind(*hp)) {
    case Probe::Kind::missing:
      return host_path + " does not exist; start the service that provides it, or correct host_path";
    case Probe::Kind::symlink:
      return host_path + " is a symlink; give the socket's real path";
    case Probe::Kind::socket: {
      auto real = probe->realpath(*hp);
      if (!real) return host_path + " cannot be resolved";
      if (auto w = engine_socket(*real)) {
        return host_path + " resolves to " + *real + ", a " + *w + " engine socket; it is never allowed";
      }
      return std::nullopt;
    }
    default:
      return host_path + " is not a unix socket";
  }
}

}  // namespace brig::spec

namespace brig::spec {

std::optional<FieldProblem> host_service_problem(const HostService& e, bool untrusted) {
  if (!detail::valid_label(e.name, 31)) {
    return FieldProblem{".name", "invalid name " + str::quote(e.name) + "; use 1-31 lowercase letters, digits and '-' (it becomes <name>.host.brig)"};
  }
  if (e.port < 1 || e.port > 65535) return FieldProblem{".port", std::to_string(e.port) + " is not a port (1-65535)"};
  auto in = [&](const auto& ports) { return std::find(std::begin(ports), std::end(ports), e.port) != std::end(ports); };
  if (in(kWardenReservedPorts) || (e.protocol == "tcp" && in(kWardenCellPorts))) {
    return FieldProblem{".port", std::to_string(e.port) + " is reserved by warden; expose the service on another host port"};
  }
  if (e.protocol != "http" && e.protocol != "tcp") {
    std::string msg = "unknown protocol " + str::quote(e.protocol) + "; use http or tcp";
    if (str::iequals(e.protocol, "http") || str::iequals(e.protocol, "tcp")) msg += " (lowercase)";
    return FieldProblem{".protocol", msg};
  }
  if (e.protocol == "tcp" && untrusted) {
    return FieldProblem{".protocol", "the untrusted profile forbids tcp host services (warden cannot inspect them); use protocol: http"};
  }
  return std::nullopt;
}

Result<HostService> parse_host_service_flag(std::string_view text, bool untrusted) {
  const std::string flag = "--host-service " + std::string(text);
  const std::string fix = "e.g. --host-service db:5432/tcp or --host-service llm:4000";
  HostService e;
  std::string_view rest = text;
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    e.protocol = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) return Error(Errc::usage, flag + ": give NAME:PORT[/tcp]", fix);
  e.name = std::string(rest.substr(0, colon));
  const std::string_view digits = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), e.port);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return Error(Errc::usage, flag + ": " + str::quote(digits) + " is not a port", fix);
  }
  if (auto p = host_service_problem(e, untrusted)) return Error(Errc::usage, flag + ": " + p->message, fix);
  return e;
}

}  // namespace brig::spec
