#include "brig/engine/host.h"

#include <arpa/inet.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/hostname.h"
#include "brig/core/strings.h"
#include "brig/spec/validate.h"

namespace brig::engine {
namespace {

constexpr const char* kDefaultPolicy = R"({
  "allow": [],
  "deny": [],
  "rate_limits": {"default": {"rate": 50, "burst": 200}}
}
)";

constexpr const char* kDefaultWardenYaml =
    "# warden's settings (all optional); see docs/reference/warden.md\n"
    "# resolve_overrides: [\"mirror.internal:443:10.0.0.5\"]\n"
    "# upstream_ca: /etc/brig/upstream-ca.pem\n";

bool has_cap_sys_resource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long caps = std::stoull(std::string(str::trim(line.substr(7))), nullptr, 16);
    return (caps >> 24) & 1;  // CAP_SYS_RESOURCE
  }
  return false;
}

std::string cgroup_mode() {
  struct statfs st {};
  if (::statfs("/sys/fs/cgroup", &st) != 0) return "unknown";
  if (st.f_type == 0x63677270) return "v2";  // CGROUP2_SUPER_MAGIC
  struct stat u {};
  return ::stat("/sys/fs/cgroup/unified", &u) == 0 ? "hybrid" : "v1";
}

proc::Command cmd(std::vector<std::string> argv, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  proc::Command c;
  c.argv = std::move(argv);
  c.timeout = timeout;
  return c;
}

}  // namespace

std::vector<std::string> ulimits_within_hard_limits() {
  std::vector<std::string> out;
  auto add = [&](const char* name, int resource, rlim_t cap) {
    rlimit r{};
    if (::getrlimit(resource, &r) != 0) return;
    rlim_t v = r.rlim_max == RLIM_INFINITY ? cap : std::min(r.rlim_max, cap);
    out.push_back(std::string(name) + "=" + std::to_string(v) + ":" + std::to_string(v));
  };
  add("nofile", RLIMIT_NOFILE, 1 << 20);
  add("nproc", RLIMIT_NPROC, 32768);
  return out;
}

Result<HostConfig> probe_host(proc::Runner& runner, bool accept_weaker_network) {
  HostConfig c;
  if (auto p = proc::find_executable("podman")) c.podman = *p;
  if (auto p = proc::find_executable("runsc")) c.runsc = *p;
  if (auto p = proc::find_executable("nft")) c.nft = true;
  c.cgroup = cgroup_mode();
  c.cap_sys_resource = has_cap_sys_resource();
  if (!c.cap_sys_resource) c.ulimits = ulimits_within_hard_limits();
  if (!c.runsc.empty()) {
    auto v = runner.run(cmd({c.runsc, "--version"}));
    if (v && v->success()) c.runsc_version = std::string(str::trim(str::split(v->out, '\n').front()));
    // gVisor's own netstack: `runsc do` builds a sandbox with it in a fresh
    // network namespace. Debian's 2022 runsc fails here on newer kernels.
    auto probe = runner.run(cmd({c.runsc, "--network=sandbox", "do", "true"}, std::chrono::seconds(60)));
    c.sandbox_network_works = probe && probe->success();
    // runsc 2022's `exec` has no --tty flag, which podman passes for exec -t.
    auto help = runner.run(cmd({c.runsc, "exec", "--help"}));
    c.runsc_exec_tty = help && (help->out + help->err).find("-tty") != std::string::npos;
    // ... and its stat calls refuse AT_NO_AUTOMOUNT, which glibc's `stat`
    // (coreutils) passes: run the host's own `stat` in a sandbox.
    if (auto stat = proc::find_executable("stat")) {
      auto st = runner.run(cmd({c.runsc, "--network=none", "do", *stat, "/"}, std::chrono::seconds(60)));
      c.runsc_stat_ok = st && st->success();
    }
    c.runsc_host_uds = probe_runsc_host_uds(runner, c.runsc);
  }
  if (c.sandbox_network_works) {
    c.runsc_network = "sandbox";
  } else if (accept_weaker_network) {
    c.runsc_network = "host";
  }
  return c;
}

std::string runsc_host_uds_flag(std::string_view help) {
  // A flag as Go's flag package lists it: "-name" (or "--name") at the start
  // of a line's text, so "-fsgofer-host-uds" never counts as "-host-uds".
  auto lists = [&](std::string_view flag) {
    for (const auto& line : str::split(help, '\n')) {
      std::string_view t = str::trim(line);
      if (t.rfind("--", 0) == 0) t.remove_prefix(1);
      if (t.rfind(flag, 0) != 0) continue;
      t.remove_prefix(flag.size());
      if (t.empty() || t.front() == ' ' || t.front() == '\t' || t.front() == '=') return true;
    }
    return false;
  };
  if (lists("-host-uds")) return "host-uds=open";  // open: connect to existing sockets, never create
  if (lists("-fsgofer-host-uds")) return "fsgofer-host-uds";
  return "";
}

std::string probe_runsc_host_uds(proc::Runner& runner, const std::string& runsc) {
  // `--help` may list only runsc's important flags; `runsc flags` lists them all.
  for (const char* ask : {"--help", "flags"}) {
    auto help = runner.run(cmd({runsc, ask}));
    if (!help) continue;
    if (auto flag = runsc_host_uds_flag(help->out + help->err); !flag.empty()) return flag;
  }
  return "";
}

namespace {
std::string sh_quote(const std::string& s) {
  std::string quoted = "'";
  for (char ch : s) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return quoted + "'";
}
}  // namespace

std::string runsc_shim_script(const std::string& runsc) {
  const std::string quoted = sh_quote(runsc);
  return "#!/bin/sh\n"
         "# Written by brig (system init / run): this runsc's exec has no --tty flag,\n"
         "# which podman passes for `exec -t`; the terminal comes from process.json.\n"
         "for a do\n"
         "  shift\n"
         "  [ \"$a\" = --tty ] || set -- \"$@\" \"$a\"\n"
         "done\n"
         "exec " + quoted + " \"$@\"\n";
}

Status write_runsc_shim(const Paths& paths, const HostConfig& cfg) {
  if (cfg.runsc.empty() || cfg.runsc_exec_tty) return {};
  const std::string want = runsc_shim_script(cfg.runsc);
  auto have = fs::read_file(paths.runsc_shim(), 1 << 16);
  if (have && *have == want) return {};
  BRIG_TRY(fs::make_dirs(paths.run_dir() + "/bin", 0755));
  return fs::write_atomic(paths.runsc_shim(), want, 0755);
}

std::string runsc_build_script(const std::string& runsc) {
  const std::string quoted = sh_quote(runsc);
  return "#!/bin/sh\n"
         "# Written by brig (image build): buildah's monitor reaps runsc's gofer only\n"
         "# after `runsc delete` returns, and delete waits for the gofer to be gone.\n"
         "# So delete returns at once and runs again once the monitor has gone.\n"
         "for a do\n"
         "  if [ \"$a\" = delete ]; then\n"
         "    (sleep 2; exec " + quoted + " \"$@\") </dev/null >/dev/null 2>&1 &\n"
         "    exit 0\n"
         "  fi\n"
         "done\n"
         "exec " + quoted + " \"$@\"\n";
}

Result<std::string> write_runsc_build(const Paths& paths, const HostConfig& cfg) {
  if (cfg.runsc.empty()) return Error(Errc::unavailable, "runsc is not installed", "scripts/bootstrap.sh");
  const std::string path = paths.runsc_build();
  const std::string want = runsc_build_script(cfg.runsc);
  auto have = fs::read_file(path, 1 << 16);
  if (have && *have == want) return path;
  BRIG_TRY(fs::make_dirs(paths.run_dir() + "/bin", 0755));
  BRIG_TRY(fs::write_atomic(path, want, 0755));
  return path;
}

Result<HostConfig> load_host_config(const Paths& paths) {
  auto text = fs::read_file(paths.config_json(), 1 << 20);
  if (!text) {
    return Error(Errc::not_found, "brig is not initialised here (" + paths.config_json() + " is missing)",
                 "brig system init");
  }
  try {
    auto j = nlohmann::json::parse(*text);
    HostConfig c;
    c.podman = j.value("podman", "");
    c.runsc = j.value("runsc", "");
    c.runsc_version = j.value("runsc_version", "");
    c.runsc_network = j.value("runsc_network", "");
    c.sandbox_network_works = j.value("sandbox_network_works", false);
    c.runsc_exec_tty = j.value("runsc_exec_tty", false);
    c.runsc_stat_ok = j.value("runsc_stat_ok", false);
    c.runsc_host_uds = j.value("runsc_host_uds", "");
    c.cgroup = j.value("cgroup", "");
    c.cap_sys_resource = j.value("cap_sys_resource", false);
    c.ulimits = j.value("ulimits", std::vector<std::string>{});
    c.nft = j.value("nft", false);
    c.ops_port = j.value("ops_port", 9464);
    c.warden_threads = j.value("warden_threads", 2);
    c.spare_networks = j.value("spare_networks", 4);
    c.ingress_publish = j.value("ingress_publish", c.ingress_publish);
    c.ingress_domain = j.value("ingress_domain", c.ingress_domain);
    c.ingress_cert = j.value("ingress_cert", "");
    c.ingress_key = j.value("ingress_key", "");
    c.ingress_max_body = j.value("ingress_max_body", c.ingress_max_body);
    c.warn_unpinned_images = j.value("warn_unpinned_images", true);
    c.api_group = j.value("api_group", "");
    return c;
  } catch (const std::exception& e) {
    return Error(Errc::invalid, paths.config_json() + " is not valid JSON: " + e.what(),
                 "rerun brig system init to rewrite it");
  }
}

Status save_host_config(const Paths& paths, const HostConfig& c) {
  nlohmann::json j = {{"podman", c.podman},
                      {"runsc", c.runsc},
                      {"runsc_version", c.runsc_version},
                      {"runsc_network", c.runsc_network},
                      {"sandbox_network_works", c.sandbox_network_works},
                      {"runsc_exec_tty", c.runsc_exec_tty},
                      {"runsc_stat_ok", c.runsc_stat_ok},
                      {"runsc_host_uds", c.runsc_host_uds},
                      {"cgroup", c.cgroup},
                      {"cap_sys_resource", c.cap_sys_resource},
                      {"ulimits", c.ulimits},
                      {"nft", c.nft},
                      {"ops_port", c.ops_port},
                      {"warden_threads", c.warden_threads},
                      {"spare_networks", c.spare_networks},
                      {"ingress_publish", c.ingress_publish},
                      {"ingress_domain", c.ingress_domain},
                      {"ingress_cert", c.ingress_cert},
                      {"ingress_key", c.ingress_key},
                      {"ingress_max_body", c.ingress_max_body},
                      {"warn_unpinned_images", c.warn_unpinned_images},
                      {"api_group", c.api_group}};
  return fs::write_atomic(paths.config_json(), j.dump(2) + "\n", 0644);
}

std::string PublishAddress::podman_host() const {
  return (ipv6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::optional<PublishAddress> parse_publish_address(const std::string& text) {
  auto parts = hostname::split_authority(text);
  if (!parts || !parts->port) return std::nullopt;
  PublishAddress a;
  a.ip = std::string(parts->bare());
  a.port = *parts->port;
  a.ipv6 = parts->bracketed;
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(a.ipv6 ? AF_INET6 : AF_INET, a.ip.c_str(), buf) != 1) return std::nullopt;
  return a;
}

std::optional<std::string> ingress_exposure_warning(const HostConfig& cfg) {
  auto a = parse_publish_address(cfg.ingress_publish);
  if (!a) return std::nullopt;  // check_setting reports it
  const bool loopback = a->ipv6 ? a->ip == "::1" : a->ip.rfind("127.", 0) == 0;
  if (loopback) return std::nullopt;
  return "ingress is published on " + cfg.ingress_publish + ": reachable beyond this machine (bearer token only)";
}

std::vector<std::pair<std::string, std::string>> config_items(const HostConfig& c) {
  return {{"runsc_network", c.runsc_network},
          {"ops_port", std::to_string(c.ops_port)},
          {"warden_threads", std::to_string(c.warden_threads)},
          {"spare_networks", std::to_string(c.spare_networks)},
          {"ulimits", str::join(c.ulimits, ",")},
          {"ingress_publish", c.ingress_publish},
          {"ingress_domain", c.ingress_domain},
          {"ingress_cert", c.ingress_cert},
          {"ingress_key", c.ingress_key},
          {"ingress_max_body", std::to_string(c.ingress_max_body)},
          {"warn_unpinned_images", c.warn_unpinned_images ? "true" : "false"},
          {"api_group", c.api_group},
          {"cgroup", c.cgroup},
          {"runsc_version", c.runsc_version}};
}

namespace {

// podman's --ulimit names and the resource each one limits.
constexpr std::pair<const char*, int> kUlimitNames[] = {
    {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},     {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE},
    {"nice", RLIMIT_NICE},       {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},   {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

std::optional<std::uint64_t> whole_number(std::string_view s) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// The reason one "NAME=SOFT:HARD" (or "NAME=N") is not a ulimit brig can pass, or nullopt.
std::optional<std::string> ulimit_problem(const std::string& u) {
  const auto eq = u.find('=');
  if (eq == std::string::npos) return str::quote(u) + " is not NAME=SOFT:HARD";
  const std::string name = u.substr(0, eq), value = u.substr(eq + 1);
  const auto* known = std::find_if(std::begin(kUlimitNames), std::end(kUlimitNames),
                                   [&](const auto& k) { return name == k.first; });
  if (known == std::end(kUlimitNames)) {
    std::vector<std::string> names;
    for (const auto& k : kUlimitNames) names.emplace_back(k.first);
    std::string msg = str::quote(name) + " is not a ulimit podman knows";
    if (auto s = str::closest(name, names)) msg += "; did you mean " + str::quote(*s) + "?";
    return msg + " (known: " + str::join(names, ", ") + ")";
  }
  const auto colon = value.find(':');
  auto soft = whole_number(std::string_view(value).substr(0, colon));
  auto hard = colon == std::string::npos ? soft : whole_number(std::string_view(value).substr(colon + 1));
  if (!soft || !hard) return str::quote(u) + ": SOFT and HARD must be whole numbers (" + name + "=1024:1024)";
  if (*soft > *hard) return str::quote(u) + ": the soft limit is above the hard limit";
  rlimit r{};
  if (::getrlimit(known->second, &r) == 0 && r.rlim_max != RLIM_INFINITY && *hard > r.rlim_max) {
    return str::quote(u) + ": " + std::to_string(*hard) + " is above this host's hard limit of " +
           std::to_string(r.rlim_max) + " for " + name;
  }
  return std::nullopt;
}

// `brig config set ulimits ...` with values that pass check_setting here.
std::string ulimits_fix() {
  const auto good = ulimits_within_hard_limits();
  return "brig config set ulimits " + (good.empty() ? std::string("''") : str::join(good, ","));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> settable_keys() {
  return {{"runsc_network", "sandbox | host (host is weaker: the kernel's network stack in the cell's netns)"},
          {"ops_port", "1-65535 (warden's ops endpoint on 127.0.0.1)"},
          {"warden_threads", "1-64"},
          {"spare_networks", "0-32: cell networks kept ready, attached to warden, so a run need not make one (default 4; system up makes them)"},
          {"ulimits", "comma list of NAME=SOFT:HARD, e.g. nofile=4096:4096,nproc=4096:4096 ('' for none)"},
          {"ingress_publish", "IP:PORT where the host publishes warden's ingress (default 127.0.0.1:8443)"},
          {"ingress_domain", "DNS name: cells answer at https://<cell>.<domain>:<port>/ (default localhost)"},
          {"ingress_cert", "absolute path of a PEM certificate for *.<ingress_domain> ('' for brig's CA; with ingress_key)"},
          {"ingress_key", "absolute path of its PEM private key ('' for none; with ingress_cert)"},
          {"ingress_max_body", "largest request body ingress forwards, e.g. 64m or 1048576 (default 64m)"},
          {"warn_unpinned_images", "true | false: brig run warns about a remote image not pinned by digest (default true)"},
          {"api_group", "a group whose members may use the API's socket ('' for root only; applies at the next system up)"}};
}

std::vector<std::string> checked_settings() {
  return {"runsc_network", "ulimits", "ops_port", "warden_threads", "spare_networks", "ingress_publish", "ingress_domain",
          "ingress_cert", "ingress_key", "ingress_tls", "ingress_max_body", "api_group"};
}

Status check_setting(const HostConfig& c, const std::string& key) {
  if (key == "runsc_network") {
    if (c.runsc_network != "" && c.runsc_network != "sandbox" && c.runsc_network != "host") {
      return Error(Errc::invalid, "runsc_network " + str::quote(c.runsc_network) + " is not sandbox or host",
                   "brig system init");
    }
    if (c.runsc_network == "sandbox" && !c.sandbox_network_works) {
      return Error(Errc::invalid,
                   "runsc_network sandbox: gVisor's own network stack did not work on this host when brig system "
                   "init probed it (config.json: sandbox_network_works false), so every cell would fail to start; "
                   "upgrade runsc and probe again",
                   "brig system init");
    }
    return {};
  }
  auto in_range = [&](int v, int lo, int hi) -> Status {
    if (v >= lo && v <= hi) return {};
    return Error(Errc::invalid, key + " " + std::to_string(v) + " is not a number from " + std::to_string(lo) + " to " +
                                    std::to_string(hi),
                 "brig config set " + key + " " + std::to_string(key == "ops_port" ? 9464 : key == "spare_networks" ? 4 : 2));
  };
  if (key == "ops_port") return in_range(c.ops_port, 1, 65535);
  if (key == "warden_threads") return in_range(c.warden_threads, 1, 64);
  if (key == "spare_networks") return in_range(c.spare_networks, 0, 32);
  if (key == "ulimits") {
    std::string msg;
    std::vector<std::string> seen;
    for (const auto& u : c.ulimits) {
      auto why = ulimit_problem(u);
      const std::string name = u.substr(0, u.find('='));
      if (!why && std::find(seen.begin(), seen.end(), name) != seen.end()) why = name + " is given twice";
      seen.push_back(name);
      if (why) msg += (msg.empty() ? "ulimits: " : "; ") + *why;
    }
    if (msg.empty()) return {};
    return Error(Errc::invalid, msg, ulimits_fix());
  }
  if (key == "ingress_publish") {
    if (parse_publish_address(c.ingress_publish)) return {};
    return Error(Errc::invalid,
                 "ingress_publish " + str::quote(c.ingress_publish) +
                     " is not IP:PORT (an IP address of this host and a port 1-65535; IPv6 as [::1]:8443)",
                 "brig config set ingress_publish 127.0.0.1:8443");
  }
  if (key == "ingress_domain") {
    const std::string fix = "brig config set ingress_domain localhost";
    auto canonical = hostname::normalize(c.ingress_domain);
    if (!canonical) {
      return Error(Errc::invalid, "ingress_domain " + str::quote(c.ingress_domain) + ": " + canonical.error().message(), fix);
    }
    if (hostname::is_ip_literal(c.ingress_domain)) {
      return Error(Errc::invalid,
                   "ingress_domain " + str::quote(c.ingress_domain) +
                       " is an IP address; cells are named in it (https://<cell>.<domain>), so it must be a DNS name",
                   fix);
    }
    if (*canonical != c.ingress_domain) {
      return Error(Errc::invalid, "ingress_domain " + str::quote(c.ingress_domain) + " is not in canonical form",
                   "brig config set ingress_domain " + *canonical);
    }
    if (canonical->size() > 189) {  // "<63-character cell>." in front stays within 253
      return Error(Errc::invalid, "ingress_domain is longer than 189 characters (a cell name goes in front of it)", fix);
    }
    return {};
  }
  if (key == "ingress_cert" || key == "ingress_key") {
    const std::string& path = key == "ingress_cert" ? c.ingress_cert : c.ingress_key;
    const std::string fix = "brig config set " + key + " /ABSOLUTE/PATH/" + (key == "ingress_cert" ? "cert.pem" : "key.pem");
    if (path.empty()) return {};
    if (path.front() != '/') return Error(Errc::invalid, key + " " + str::quote(path) + " is not an absolute path", fix);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Error(Errc::invalid, key + " " + path + ": " + std::strerror(errno), fix);
    if (!S_ISREG(st.st_mode)) return Error(Errc::invalid, key + " " + path + " is not a regular file", fix);
    return {};
  }
  if (key == "ingress_tls") {
    if (c.ingress_cert.empty() == c.ingress_key.empty()) return {};
    const bool cert = !c.ingress_cert.empty();
    return Error(Errc::invalid,
                 std::string(cert ? "ingress_cert is set but ingress_key is not" : "ingress_key is set but ingress_cert is not") +
                     ": warden needs both, or neither (then brig's CA signs the ingress certificate)",
                 cert ? "brig config set ingress_key /ABSOLUTE/PATH/key.pem" : "brig config set ingress_cert /ABSOLUTE/PATH/cert.pem");
  }
  if (key == "warn_unpinned_images") return {};
  if (key == "api_group") {
    if (c.api_group.empty() || ::getgrnam(c.api_group.c_str()) != nullptr) return {};
    return Error(Errc::invalid, "api_group " + str::quote(c.api_group) + " is not a group on this host",
                 "sudo groupadd " + c.api_group + ", or brig config set api_group ''");
  }
  if (key == "ingress_max_body") {
    if (c.ingress_max_body >= 1) return {};
    return Error(Errc::invalid, "ingress_max_body must be at least 1 byte", "brig config set ingress_max_body 64m");
  }
  std::string settable;
  for (const auto& [k, form] : settable_keys()) settable += (settable.empty() ? "" : ", ") + k;
  return Error(Errc::invalid, "unknown or read-only setting " + str::quote(key), "settable: " + settable);
}

Status config_set(HostConfig& c, const std::string& key, const std::string& value) {
  HostConfig next = c;
  if (key == "runsc_network") {
    if (value != "sandbox" && value != "host") {
      return Error(Errc::invalid, "runsc_network must be sandbox or host", "brig config set runsc_network host");
    }
    next.runsc_network = value;
  } else if (key == "ops_port" || key == "warden_threads" || key == "spare_networks") {
    const int lo = key == "spare_networks" ? 0 : 1;
    const int hi = key == "ops_port" ? 65535 : key == "spare_networks" ? 32 : 64;
    auto v = whole_number(value);
    if (!v || *v < static_cast<std::uint64_t>(lo) || *v > static_cast<std::uint64_t>(hi)) {
      return Error(Errc::invalid, key + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi),
                   "brig config set " + key + " " + std::to_string(key == "ops_port" ? 9464 : key == "spare_networks" ? 4 : 2));
    }
    (key == "ops_port" ? next.ops_port : key == "spare_networks" ? next.spare_networks : next.warden_threads) =
        static_cast<int>(*v);
  } else if (key == "ulimits") {
    next.ulimits = value.empty() ? std::vector<std::string>{} : str::split(value, ',');
  } else if (key == "ingress_publish") {
    next.ingress_publish = value;
  } else if (key == "ingress_domain") {
    // Stored canonical (lowercase, no trailing dot): the form URLs and warden use.
    auto canonical = hostname::normalize(value);
    next.ingress_domain = canonical ? *canonical : value;
  } else if (key == "ingress_cert" || key == "ingress_key") {
    (key == "ingress_cert" ? next.ingress_cert : next.ingress_key) = value;
  } else if (key == "ingress_max_body") {
    auto bytes = spec::parse_size(value);
    if (!bytes || *bytes < 1) {
      return Error(Errc::invalid, "ingress_max_body " + str::quote(value) + " is not a size (e.g. 64m, 1g or 1048576)",
                   "brig config set ingress_max_body 64m");
    }
    next.ingress_max_body = *bytes;
  } else if (key == "api_group") {
    next.api_group = value;
  } else if (key == "warn_unpinned_images") {
    if (value != "true" && value != "false") {
      return Error(Errc::invalid, "warn_unpinned_images must be true or false", "brig config set warn_unpinned_images false");
    }
    next.warn_unpinned_images = value == "true";
  }
  BRIG_TRY(check_setting(next, key));
  c = std::move(next);
  return {};
}

Status make_layout(const Paths& p) {
  for (const auto& d : {p.home(), p.system_state(), p.policy_dir() + "/cells", p.logs_dir() + "/cells", p.profiles_dir()}) {
    BRIG_TRY(fs::make_dirs(d, 0755));
  }
  BRIG_TRY(fs::make_dirs(p.secrets_dir(), 0700));
  BRIG_TRY(fs::make_dirs(p.run_dir(), 0700));
  ::chmod(p.secrets_dir().c_str(), 0700);
  ::chmod(p.run_dir().c_str(), 0700);
  if (!fs::exists(p.global_policy())) BRIG_TRY(fs::write_atomic(p.global_policy(), kDefaultPolicy, 0644));
  if (!fs::exists(p.warden_yaml())) BRIG_TRY(fs::write_atomic(p.warden_yaml(), kDefaultWardenYaml, 0644));
  if (!fs::exists(p.subnet_map())) BRIG_TRY(fs::write_atomic(p.subnet_map(), "{}\n", 0644));
  return {};
}

}  // namespace brig::engine
