#include "cell_network.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/podman.h"

namespace brig::engine {
namespace {

// Writes `value` to the sysctl file `path` in place (sysctls cannot be
// replaced by a rename) and reads it back.
Status write_sysctl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno_error("opening " + path, errno);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  int write_errno = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) return errno_error("writing " + path, n < 0 ? write_errno : EIO);
  auto back = fs::read_file(path, 64);
  if (!back) return back.error();
  if (str::trim(*back) != str::trim(value)) {
    return Error(Errc::failed, path + " reads " + str::quote(std::string(str::trim(*back))) + " after writing " +
                                   str::quote(std::string(str::trim(value))));
  }
  return {};
}

}  // namespace

bool is_gone(const std::string& err) {
  return err.find("no such") != std::string::npos || err.find("not found") != std::string::npos ||
         err.find("unable to find") != std::string::npos;
}

Status ensure_bridge_ipv6_off(const Podman& podman, const std::string& proc_sys, const std::string& network) {
  // Cells and the host must not talk over IPv6 link-local addresses on the cell
  // bridge (the nft tables match the IPv4 pool only).
  // Warden is attached by now, so the bridge exists.
  const std::string what = "cannot switch IPv6 off on the bridge of " + network;
  const std::string look = "podman network inspect " + network;
  auto out = podman.run({"network", "inspect", "--format", "{{.NetworkInterface}}", network});
  if (!out) return out.error().context(what);
  if (!out->success()) {
    return Error(Errc::failed, what + ": podman network inspect failed: " + std::string(str::trim(out->err)), look);
  }
  std::string iface(str::trim(out->out));
  if (iface.empty() || iface.find('/') != std::string::npos || iface == "." || iface == "..") {
    return Error(Errc::failed, what + ": podman names no bridge interface for it (" + str::quote(iface) + ")", look);
  }
  // A kernel without IPv6 has no IPv6 to switch off.
  if (!fs::exists(proc_sys + "/net/ipv6")) return {};
  const std::string path = proc_sys + "/net/ipv6/conf/" + iface + "/disable_ipv6";
  if (!fs::exists(path)) return Error(Errc::failed, what + ": bridge " + iface + " does not exist", look);
  if (auto st = write_sysctl(path, "1\n"); !st) {
    return Error(Errc::failed, what + ": " + st.error().message(),
                 "sudo sysctl -w net.ipv6.conf." + iface + ".disable_ipv6=1");
  }
  return {};
}

Status connect_warden(const Podman& podman, const CellRecord& rec) {
  const std::string network = network_of(rec);
  auto out = podman.run(network_connect_args(network, kWardenContainer, rec.subnet.warden_ip()));
  if (!out) return out.error();
  if (!out->success() && out->err.find("already") == std::string::npos) {
    return Error(Errc::failed, "connecting warden to " + network + ": " + std::string(str::trim(out->err)),
                 "is warden running? brig system up");
  }
  return {};
}

Status teardown_network(const Podman& podman, const std::string& network) {
  (void)podman.run({"network", "disconnect", "--force", network, kWardenContainer});
  auto out = podman.run({"network", "rm", "--force", network});
  if (!out) return out.error();
  if (!out->success() && !is_gone(out->err)) {
    return Error(Errc::failed, "removing network " + network + ": " + std::string(str::trim(out->err)),
                 "podman network rm --force " + network);
  }
  return {};
}

Result<std::vector<std::string>> others_on(const Podman& podman, const std::string& network, const std::string& own) {
  auto out = podman.run({"ps", "--all", "--filter", "network=" + network, "--format", "{{.Names}}"});
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "podman cannot say what is on network " + network + ": " + std::string(str::trim(out->err)));
  std::vector<std::string> others;
  for (auto& c : str::split(std::string(str::trim(out->out)), '\n')) {
    if (!c.empty() && c != kWardenContainer && c != own) others.push_back(std::move(c));
  }
  return others;
}

std::vector<std::string> resolvers_of(std::string_view resolv_conf) {
  std::vector<std::string> out;
  for (auto line : str::split(resolv_conf, '\n')) {
    // "nameserver ADDR", spaces or tabs between; anything after ADDR ignored.
    std::replace(line.begin(), line.end(), '\t', ' ');
    std::vector<std::string> words;
    for (auto& w : str::split(line, ' ')) {
      if (!w.empty()) words.push_back(std::move(w));
    }
    if (words.size() >= 2 && words[0] == "nameserver") out.push_back(words[1]);
  }
  return out;
}

std::optional<std::string> resolver_problem(const std::string& resolv_conf_path, const std::string& warden_ip) {
  if (resolv_conf_path.empty()) return "no resolver configured";
  // Podman writes a few lines; anything near the cap is not its file.
  auto text = fs::read_file(resolv_conf_path, 64 << 10);
  if (!text) return "cannot read its resolv.conf: " + text.error().message();
  const auto servers = resolvers_of(*text);
  if (servers.empty()) return "no resolver configured";
  std::vector<std::string> others;
  for (const auto& s : servers) {
    if (s != warden_ip) others.push_back(s);
  }
  if (others.empty()) return std::nullopt;
  return "resolver is " + str::join(others, ", ") + ", not warden";
}

}  // namespace brig::engine
