// brig on this host: init, up (warden image + container, nftables), down,
// doctor, verify, prune, lifecycle events.
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/system.h"
#include "brig/engine/images.h"
#include "brig/engine/nft.h"
#include "brig/engine/secrets.h"
#include "brig/engine/subnets.h"
#include "brig/engine/workspace.h"
#include "brig/state/cell_logs.h"
#include "brig/state/cell_policy.h"
#include "brig/state/host_services.h"
#include "brig/state/lock.h"
#include "brig/state/ingress_routes.h"
#include "brig/state/warden_runtime.h"
#include "brig/state/secret_injections.h"
#include "cell_files.h"
#include "cell_network.h"
#include "daemon.h"
#include "host_services.h"

namespace brig::engine {
namespace {

namespace stdfs = std::filesystem;

using state::kWardenUid;

std::string warden_image_name() { return std::string("localhost/brig-warden:") + BRIG_VERSION; }

std::string trimmed(const std::string& s) { return std::string(str::trim(s)); }

// Shared libraries `ldd` names for `binary` ("/lib/x.so" paths only).
std::vector<std::string> parse_ldd(const std::string& text) {
  std::vector<std::string> libs;
  for (const auto& line : str::split(text, '\n')) {
    for (const auto& tok : str::split(std::string(str::trim(line)), ' ')) {
      if (!tok.empty() && tok[0] == '/') {
        libs.push_back(tok);
        break;
      }
    }
  }
  return libs;
}

proc::Command quick_cmd(std::vector<std::string> argv) {
  proc::Command c;
  c.argv = std::move(argv);
  c.timeout = std::chrono::seconds(10);
  return c;
}

// " VERSION from URL SUITE/COMPONENT": the installed version's first source
// in `apt-cache policy PKG` output ("" when it names none).
std::string apt_origin(const std::string& policy) {
  std::string version;
  for (const auto& raw : str::split(policy, '\n')) {
    auto tok = str::split(std::string(str::trim(raw)), ' ');
    std::erase(tok, "");
    if (!tok.empty() && tok[0] == "***" && tok.size() >= 2) {
      version = tok[1];
    } else if (!version.empty() && tok.size() >= 3 && tok[1].find("://") != std::string::npos) {
      return " " + version + " from " + tok[1] + " " + tok[2];
    } else if (!version.empty() && (tok.size() < 2 || tok[1] != "/var/lib/dpkg/status")) {
      break;  // the next version: the installed one has no source left
    }
  }
  return version.empty() ? "" : " " + version + " (no apt source lists it any more)";
}

// The runsc on PATH for doctor: "VERSION at PATH, ORIGIN". VERSION is the
// first line of `runsc --version` (else `fallback_version`); ORIGIN is the
// dpkg package that owns it and the apt source it came from, "not from a
// package", or nothing where dpkg is absent.
std::string describe_runsc(proc::Runner& runner, const std::string& path, const std::string& fallback_version) {
  std::string version = fallback_version;
  if (auto v = runner.run(quick_cmd({path, "--version"})); v && v->success() && !trimmed(v->out).empty()) {
    version = trimmed(str::split(v->out, '\n').front());
  }
  std::string out = (version.empty() ? "runsc" : version) + " at " + path;
  std::error_code ec;
  auto real = stdfs::canonical(path, ec);
  auto owner = runner.run(quick_cmd({"dpkg-query", "-S", ec ? path : real.string()}));
  if (!owner) return out;  // no dpkg here
  if (!owner->success()) return out + ", not from a package";
  auto line = trimmed(str::split(owner->out, '\n').front());
  auto colon = line.find(": ");
  if (colon == std::string::npos || colon == 0) return out;
  const std::string pkg = line.substr(0, colon);
  out += ", package " + pkg;
  if (auto policy = runner.run(quick_cmd({"apt-cache", "policy", pkg})); policy && policy->success()) {
    out += apt_origin(policy->out);
  }
  return out;
}

// brig api serve, as system up starts it.
daemon::Spec api_daemon(const Paths& p) {
  // 35 s: requests in flight finish (the server gives them 30).
  return {"the API", " api serve ", p.api_pidfile(), p.api_socket(), p.api_log(), "api", 35000};
}
std::vector<std::string> api_args(const std::string& brig_binary, const Paths& p) {
  return {brig_binary, "api", "serve", "--socket", p.api_socket(), "--pidfile", p.api_pidfile()};
}

// The runsc quirks init found, and whether their workarounds are in place.
std::vector<Check> runsc_quirks(const Paths& paths, const HostConfig& cfg) {
  using L = Check::Level;
  std::vector<Check> c;
  if (!cfg.runsc_exec_tty) {
    auto have = fs::read_file(paths.runsc_shim(), 1 << 16);
    if (have && *have == runsc_shim_script(cfg.runsc)) {
      c.push_back({L::ok, "runsc exec -t", "runsc's exec has no --tty; cells run through " + paths.runsc_shim(), ""});
    } else {
      c.push_back({L::warn, "runsc exec -t",
                   "runsc's exec has no --tty and " + paths.runsc_shim() + " is missing or stale (written at the next run)",
                   "brig system init"});
    }
  }
  if (!cfg.runsc_stat_ok) {
    c.push_back({L::ok, "runsc stat",
                 "runsc refuses AT_NO_AUTOMOUNT (glibc's ls, stat); cells and image builds preload brig's stat shim (/etc/ld.so.preload)", ""});
  }
  // podman's builder cannot run runsc as it comes (docs/reference/images.md):
  // builds go through brig's runsc-build, written at each build.
  c.push_back({L::ok, "image builds",
               "RUN steps run under gVisor (" + paths.runsc_build() + "), without network unless --use-warden", ""});
  return c;
}

// Whether this runsc lets cells reach host sockets, asked again (runsc may
// have changed since init) and compared with what init recorded.
Check host_socket_support(proc::Runner& runner, const std::string& runsc, const HostConfig& cfg) {
  using L = Check::Level;
  const std::string live = probe_runsc_host_uds(runner, runsc);
  if (live.empty()) {
    return {L::warn, "host sockets",
            "this runsc has neither -host-uds nor -fsgofer-host-uds: cells that declare host_sockets are refused",
            "upgrade runsc, then brig system init"};
  }
  if (live != cfg.runsc_host_uds) {
    return {L::warn, "host sockets",
            "this runsc takes --" + live + ", but config.json records " +
                (cfg.runsc_host_uds.empty() ? std::string("none") : "--" + cfg.runsc_host_uds) +
                ": cells that declare host_sockets use what config.json says",
            "brig system init (probes runsc again)"};
  }
  return {L::ok, "host sockets", "cells that declare host_sockets start with --runtime-flag " + live, ""};
}

}  // namespace

Result<HostConfig> System::init(bool accept_weaker_network) {
  BRIG_TRY(make_layout(ctx_.paths));
  auto cfg = probe_host(ctx_.runner, accept_weaker_network);
  if (!cfg) return cfg.error();
  if (auto old = load_host_config(ctx_.paths)) {
    // Keep the user's settings across re-inits.
    cfg->ops_port = old->ops_port;
    cfg->warden_threads = old->warden_threads;
    cfg->spare_networks = old->spare_networks;
    cfg->ingress_publish = old->ingress_publish;
    cfg->ingress_domain = old->ingress_domain;
    cfg->ingress_cert = old->ingress_cert;
    cfg->ingress_key = old->ingress_key;
    cfg->ingress_max_body = old->ingress_max_body;
    cfg->warn_unpinned_images = old->warn_unpinned_images;
    cfg->api_group = old->api_group;
    if (cfg->runsc_network.empty() && old->runsc_network == "host") cfg->runsc_network = "host";
  }
  BRIG_TRY(save_host_config(ctx_.paths, *cfg));
  BRIG_TRY(write_runsc_shim(ctx_.paths, *cfg));
  return cfg;
}

Status System::ensure_warden_image(const std::string& binary, std::string& image) {
  image = warden_image_name();
  auto sum = ctx_.runner.run({{"sha256sum", binary}, std::nullopt, "", "", std::chrono::seconds(60)});
  if (!sum || !sum->success()) return Error(Errc::failed, "cannot checksum " + binary);
  const std::string digest = str::split(trimmed(sum->out), ' ').front();
  auto have = ctx_.podman.run({"image", "inspect", "--format", "{{index .Labels \"brig.binary\"}}", image});
  if (have && have->success() && trimmed(have->out) == digest) return {};

  // A minimal root: the brig binary, the shared libraries it loads, CA roots.
  const std::string stage = ctx_.paths.run_dir() + "/warden-image";
  std::error_code ec;
  stdfs::remove_all(stage, ec);
  BRIG_TRY(fs::make_dirs(stage + "/usr/local/bin", 0755));
  auto ldd = ctx_.runner.run({{"ldd", binary}, std::nullopt, "", "", std::chrono::seconds(30)});
  if (!ldd || !ldd->success()) return Error(Errc::failed, "ldd " + binary + " failed");
  stdfs::copy_file(binary, stage + "/usr/local/bin/brig", stdfs::copy_options::overwrite_existing, ec);
  if (ec) return Error(Errc::io, "copying " + binary + ": " + ec.message());
  std::vector<std::string> files = parse_ldd(ldd->out);
  files.push_back("/etc/ssl/certs/ca-certificates.crt");
  for (const auto& f : files) {
    const std::string dst = stage + f;
    BRIG_TRY(fs::make_dirs(stdfs::path(dst).parent_path().string(), 0755));
    stdfs::copy_file(stdfs::canonical(f, ec), dst, stdfs::copy_options::overwrite_existing, ec);
    if (ec) return Error(Errc::io, "copying " + f + " into the warden image: " + ec.message());
  }
  for (const char* d : {"/tmp", "/brig/policy", "/brig/state/system", "/brig/ca", "/brig/logs/cells", "/brig/run", kIngressTlsDir}) {
    BRIG_TRY(fs::make_dirs(stage + d, 0755));
  }
  ::chmod((stage + "/tmp").c_str(), 01777);
  ::chmod((stage + "/brig/run").c_str(), 01777);  // the tmpfs there copies this mode up
  BRIG_TRY(fs::write_atomic(stage + "/etc/passwd", "root:x:0:0::/:/nonexistent\nnobody:x:65534:65534::/:/nonexistent\n"));
  BRIG_TRY(fs::write_atomic(stage + "/etc/group", "root:x:0:\nnogroup:x:65534:\n"));
  const std::string tar = stage + ".tar";
  auto t = ctx_.runner.run({{"tar", "--numeric-owner", "--owner=0", "--group=0", "-C", stage, "-cf", tar, "."},
                        std::nullopt, "", "", std::chrono::seconds(120)});
  stdfs::remove_all(stage, ec);
  if (!t || !t->success()) return Error(Errc::failed, "packing the warden image failed");
  auto imp = ctx_.podman.run({"import", "--change", "ENTRYPOINT [\"/usr/local/bin/brig\"]", "--change", "USER 65534:65534",
                     "--change", "LABEL brig.binary=" + digest, "--change", "LABEL brig.role=warden", tar, image},
                    std::chrono::seconds(300));
  ::unlink(tar.c_str());
  if (!imp) return imp.error();
  if (!imp->success()) return Error(Errc::failed, "building " + image + ": " + trimmed(imp->err));
  ctx_.event("warden_image", "", {{"image", image}, {"binary", digest}});
  return {};
}

Status System::wait_healthy(std::chrono::milliseconds timeout) {
  auto cfg = load_host_config(ctx_.paths);
  const int port = cfg ? cfg->ops_port : 9464;
  const auto deadline = ctx_.clock.now() + timeout;
  std::string last;
  while (ctx_.clock.now() < deadline) {
    auto out = ctx_.runner.run({{"curl", "-sf", "--max-time", "1", "http://127.0.0.1:" + std::to_string(port) + "/healthz"},
                            std::nullopt, "", "", std::chrono::seconds(3)});
    if (out && out->success()) return {};
    last = out ? trimmed(out->err) : out.error().message();
    ctx_.clock.sleep_for(std::chrono::milliseconds(200));
  }
  auto logs = ctx_.podman.run({"logs", "--tail", "5", kWardenContainer});
  return Error(Errc::timeout,
               "warden did not become healthy on 127.0.0.1:" + std::to_string(port) + " (" + last + ")" +
                   (logs && !logs->err.empty() ? "; its log: " + trimmed(logs->err) : ""),
               "brig system doctor; podman logs brig-warden");
}

Result<std::vector<std::string>> System::nft_problems() {
  auto problems = nft::check(ctx_.runner);
  if (!problems) return problems;
  if (const long pid = warden_pid(); pid > 0) {
    auto inside = nft::check_in_warden(ctx_.runner, pid);
    if (!inside) return inside.error();
    for (auto& p : *inside) problems->push_back("inside warden: " + p);
  }
  return problems;
}

long System::warden_pid() { return host_services::warden_pid(ctx_.podman); }

Status System::write_runtime_file() {
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) return cfg.error();
  state::WardenRuntime info;
  info.proxy = std::string(kWardenExternalIp) + ":" + std::to_string(kProxyPort);
  info.ops = "127.0.0.1:" + std::to_string(cfg->ops_port);
  info.pid = warden_pid();
  info.container = kWardenContainer;
  return state::store_warden_runtime(ctx_.paths, info);
}

Result<std::string> System::stage_ingress_tls(const HostConfig& cfg) {
  for (const char* key : {"ingress_publish", "ingress_domain", "ingress_cert", "ingress_key", "ingress_tls", "ingress_max_body"}) {
    BRIG_TRY(check_setting(cfg, key));
  }
  const std::string dir = ctx_.paths.run_dir() + "/warden-ingress";
  std::error_code ec;
  if (cfg.ingress_cert.empty()) {
    stdfs::remove_all(dir, ec);  // no stale copy of an old key stays behind
    return std::string();
  }
  // Warden's copy, owned by its uid (the user's files may be readable by
  // root only), like run/warden-ca.
  BRIG_TRY(fs::make_dirs(dir, 0700));
  std::string digests;
  for (const auto& [from, to] : {std::pair{cfg.ingress_cert, std::string("/cert.pem")}, std::pair{cfg.ingress_key, std::string("/key.pem")}}) {
    auto text = fs::read_file(from, 1 << 20);
    if (!text) return text.error().with_fix("brig config set " + std::string(to == "/cert.pem" ? "ingress_cert" : "ingress_key") + " FILE");
    if (text->find("-----BEGIN ") == std::string::npos) {
      return Error(Errc::invalid, from + " is not a PEM file (no -----BEGIN line)",
                   "brig config set " + std::string(to == "/cert.pem" ? "ingress_cert" : "ingress_key") + " FILE.pem");
    }
    BRIG_TRY(fs::write_atomic(dir + to, *text, 0400));
    if (::chown((dir + to).c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + dir + to, errno);
    digests += sha256_hex(*text);
  }
  if (::chown(dir.c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + dir, errno);
  return digests;
}

Status System::up(const std::string& brig_binary, const std::vector<std::string>& warden_files,
                  const std::string& host_address) {
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) return cfg.error();
  BRIG_TRY(make_layout(ctx_.paths));
  for (const auto& f : warden_files) {
    if (!fs::exists(f)) return Error(Errc::not_found, "warden.yaml names " + f + ", which does not exist", "fix " + ctx_.paths.warden_yaml());
  }
  if (!fs::exists(ctx_.paths.ca_cert())) return Error(Errc::not_found, "brig's CA is missing", "brig system init");
  std::string image;
  BRIG_TRY(ensure_warden_image(brig_binary, image));

  // Warden's copy of the CA and its log directory belong to its uid.
  const std::string ca = ctx_.paths.run_dir() + "/warden-ca";
  BRIG_TRY(fs::make_dirs(ca, 0700));
  for (const char* f : {"/ca.crt", "/ca.key"}) {
    auto text = fs::read_file(ctx_.paths.ca_dir() + f, 1 << 20);
    if (!text) return text.error();
    BRIG_TRY(fs::write_atomic(ca + f, *text, std::string(f) == "/ca.key" ? 0400 : 0444));
    if (::chown((ca + f).c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + ca + f, errno);
  }
  if (::chown(ca.c_str(), kWardenUid, kWardenUid) != 0) return errno_error("chown " + ca, errno);
  if (::chown((ctx_.paths.logs_dir() + "/cells").c_str(), kWardenUid, kWardenUid) != 0) {
    return errno_error("chown " + ctx_.paths.logs_dir() + "/cells", errno);
  }

  // Host services: the relay first, so warden finds its socket. Without it
  // only host services fail (warden refuses them, saying why; doctor too).
  if (auto st = host_services::start_relay(ctx_, brig_binary, host_address); !st) {
    std::fprintf(stderr, "warning: %s; host services are unreachable\nfix: %s\n", st.error().message().c_str(),
                 st.error().fix().c_str());
  }

  if (!ctx_.podman.network_exists(kExternalNetwork)) {
    auto out = ctx_.podman.run(external_network_create_args());
    if (!out || !out->success()) {
      return Error(Errc::failed, "creating network brig-ext: " + (out ? trimmed(out->err) : out.error().message()));
    }
  }
  auto ingress_tls = stage_ingress_tls(*cfg);
  if (!ingress_tls) return ingress_tls.error();
  const auto publish = parse_publish_address(cfg->ingress_publish);  // checked by stage_ingress_tls
  // Warden reads warden.yaml and its flags at start: a changed file or
  // setting (the ingress certificate's bytes included) means a new container.
  auto yaml = fs::read_file(ctx_.paths.warden_yaml(), 1 << 20);
  const std::string config_id =
      std::to_string(std::hash<std::string>{}((yaml ? *yaml : std::string()) + ctx_.paths.home() + std::to_string(cfg->ops_port) +
                                              std::to_string(cfg->warden_threads) + "|" + cfg->ingress_publish + "|" +
                                              cfg->ingress_domain + "|" + std::to_string(cfg->ingress_max_body) + "|" +
                                              *ingress_tls));
  auto running = ctx_.podman.run({"container", "inspect", "--format",
                         "{{.State.Running}} {{.ImageName}} {{index .Config.Labels \"brig.config\"}}", kWardenContainer});
  const bool ok = running && running->success() && trimmed(running->out) == "true " + image + " " + config_id;
  if (!ok) {
    (void)ctx_.podman.run({"rm", "--force", "--time", "5", kWardenContainer});
    WardenPlan plan;
    plan.image = image;
    plan.home = ctx_.paths.home();
    plan.ops_port = cfg->ops_port;
    plan.threads = cfg->warden_threads;
    plan.ulimits = cfg->ulimits;
    plan.config_id = config_id;
    plan.ingress_publish = publish->podman_host();
    plan.ingress_domain = cfg->ingress_domain;
    plan.ingress_max_body = cfg->ingress_max_body;
    plan.ingress_tls = !ingress_tls->empty();
    // Files warden.yaml names must exist inside the container at the same path.
    plan.extra_ro_files = warden_files;
    auto out = ctx_.podman.run(warden_run_args(plan));
    if (!out) return out.error();
    if (!out->success()) return Error(Errc::failed, "starting warden: " + trimmed(out->err), "podman logs brig-warden");
    ctx_.event("warden_start", "", {{"image", image}});
  }
  // After a restart warden has lost its cell networks: attach it again.
  for (const auto& name : cell_files::cell_names(ctx_.paths)) {
    auto rec = cells_.load_record(name);
    if (!rec) continue;
    if (ctx_.podman.network_exists(network_of(*rec))) (void)connect_warden(ctx_.podman, *rec);
  }
  BRIG_TRY(wait_healthy(std::chrono::seconds(15)));
  // Spare networks, so a run need not make its own (a warning: runs make one).
  if (auto st = cells_.fill_spares(); !st) {
    std::fprintf(stderr, "warning: spare networks: %s\nfix: brig system prune --subnets\n", st.error().message().c_str());
  }
  BRIG_TRY(write_runtime_file());
  BRIG_TRY(nft::install(ctx_.runner));
  const long pid = warden_pid();
  if (pid <= 0) return Error(Errc::failed, "warden is not running after start", "podman logs brig-warden");
  // With the grants of the cells' tcp host services: the table is new after a restart.
  // Under the state lock: no edit of the table slips between its read and the install.
  BRIG_TRY(state::with_state_lock(ctx_.paths, [&]() -> Status {
    auto services = state::load_host_services(ctx_.paths);
    if (!services) return services.error();
    return nft::install_in_warden(ctx_.runner, pid, host_services::tcp_grants(*services));
  }));
  // The API last: what it serves is up. Without it only programs using the
  // API fail (doctor says so).
  // A running API will do when its socket is shared as api_group says now.
  auto shared_as_configured = [&](long) {
    struct stat st {};
    if (::stat(ctx_.paths.api_socket().c_str(), &st) != 0) return false;
    if (cfg->api_group.empty()) return (st.st_mode & 0777) == 0600;
    const struct group* g = ::getgrnam(cfg->api_group.c_str());
    return g && (st.st_mode & 0777) == 0660 && st.st_gid == g->gr_gid;
  };
  if (auto st = daemon::start(ctx_, api_daemon(ctx_.paths), api_args(brig_binary, ctx_.paths), brig_binary,
                              shared_as_configured);
      !st) {
    std::fprintf(stderr, "warning: %s; the API is not served\nfix: %s\n", st.error().message().c_str(),
                 st.error().fix().c_str());
  }
  // Warm pools fill again (system down emptied them).
  if (auto st = pools_.start_refillers(brig_binary); !st) {
    std::fprintf(stderr, "warning: %s\nfix: %s\n", st.error().message().c_str(), st.error().fix().c_str());
  }
  return {};
}

Result<std::vector<std::string>> System::down() {
  // The API first: no request starts a cell while the others stop.
  BRIG_TRY(daemon::stop(ctx_, api_daemon(ctx_.paths)));
  // Warm pools' cells go (system up makes them again): nothing survives as idle.
  BRIG_TRY(pools_.stop_all());
  std::vector<std::string> stopped;
  for (const auto& name : cell_files::cell_names(ctx_.paths)) {
    auto st = cells_.status(name);
    if (st && st->state == "running") {
      BRIG_TRY(cells_.stop(name));
      stopped.push_back(name);
    }
  }
  auto out = ctx_.podman.run({"rm", "--force", "--time", "10", kWardenContainer});
  if (!out) return out.error();
  // Spare networks are warden's attachments made ahead: they go with it.
  BRIG_TRY(cells_.remove_spares());
  state::remove_warden_runtime(ctx_.paths);
  ctx_.event("warden_stop", "");
  BRIG_TRY(host_services::stop_relay(ctx_));
  BRIG_TRY(nft::remove(ctx_.runner));
  return stopped;
}

std::vector<Check> System::doctor(bool quick) {
  using L = Check::Level;
  std::vector<Check> c;
  c.push_back({L::warn, "boundary", "native mode: cells run on this host's kernel under gVisor; no VM (hardware) boundary",
               "for a hardware boundary run brig inside a VM"});
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) {
    c.push_back({L::fail, "config", cfg.error().message(), "brig system init"});
  } else {
    // The values `brig config set` would refuse (a hand edit, an older brig):
    // doctor checks what every run will use.
    bool ok = true;
    for (const auto& key : checked_settings()) {
      if (auto st = check_setting(*cfg, key); !st) {
        c.push_back({L::fail, "config", st.error().message(), st.error().fix()});
        ok = false;
      }
    }
    if (ok) c.push_back({L::ok, "config", ctx_.paths.config_json(), ""});
    if (auto w = ingress_exposure_warning(*cfg)) {
      c.push_back({L::warn, "ingress", *w, "brig config set ingress_publish 127.0.0.1:8443"});
    }
  }
  c.push_back(proc::find_executable("podman") ? Check{L::ok, "podman", *proc::find_executable("podman"), ""}
                                              : Check{L::fail, "podman", "not installed", "sudo apt-get install podman"});
  if (!proc::find_executable("runsc")) {
    c.push_back({L::fail, "runsc", "not installed", "sudo apt-get install runsc"});
  } else if (!cfg || !check_setting(*cfg, "runsc_network")) {  // a bad value is reported under config above
    c.push_back({L::ok, "runsc", describe_runsc(ctx_.runner, *proc::find_executable("runsc"), cfg ? cfg->runsc_version : ""), ""});
  } else {
    const auto runsc = describe_runsc(ctx_.runner, *proc::find_executable("runsc"), cfg->runsc_version);
    if (cfg->runsc_network == "sandbox") {
      c.push_back({L::ok, "runsc", runsc + "; gVisor netstack", ""});
    } else if (cfg->runsc_network == "host") {
      c.push_back({L::warn, "runsc", runsc + "; network=host (weaker: the netstack of the cell's netns is the kernel's)",
                   "upgrade runsc; then brig system init"});
    } else {
      c.push_back({L::fail, "runsc", runsc + "; gVisor's netstack does not work here and network=host was not accepted",
                   "brig system init --accept-weaker-network"});
    }
    if (!cfg->cap_sys_resource) {
      c.push_back({L::warn, "rlimits", "no CAP_SYS_RESOURCE: brig passes --ulimit " + str::join(cfg->ulimits, " "), ""});
    }
    for (const auto& q : runsc_quirks(ctx_.paths, *cfg)) c.push_back(q);
    c.push_back(host_socket_support(ctx_.runner, *proc::find_executable("runsc"), *cfg));
  }
  c.push_back(fs::exists(ctx_.paths.ca_cert()) ? Check{L::ok, "ca", ctx_.paths.ca_cert(), ""}
                                           : Check{L::fail, "ca", "missing", "brig system init"});
  auto map = read_subnet_map(ctx_.paths);
  if (!map) c.push_back({L::fail, "subnets", map.error().message(), map.error().fix()});
  if (quick) return c;

  auto w = ctx_.podman.is_warden_running();
  const bool warden_up = w && *w;
  if (!warden_up) {
    c.push_back({L::fail, "warden", "not running", "brig system up"});
  } else if (auto h = wait_healthy(std::chrono::milliseconds(1500)); !h) {
    c.push_back({L::fail, "warden", "running but unhealthy: " + h.error().message(), "brig system restart"});
  } else {
    c.push_back({L::ok, "warden", "running and healthy", ""});
  }
  if (const long api = daemon::pid(api_daemon(ctx_.paths)); api <= 0 || !daemon::is_socket(ctx_.paths.api_socket())) {
    c.push_back({L::fail, "api", "brig api serve is not running (" + ctx_.paths.api_socket() + ")", "brig system up"});
  } else {
    c.push_back({L::ok, "api", "pid " + std::to_string(api) + ", socket " + ctx_.paths.api_socket(), ""});
  }
  if (const auto relay = host_services::relay_problem(ctx_.paths); !relay.empty()) {
    c.push_back({L::fail, "host relay", relay, "brig system up"});
  } else {
    c.push_back({L::ok, "host relay", "pid " + std::to_string(host_services::relay_pid(ctx_.paths)) + ", socket " +
                                          ctx_.paths.host_relay_socket(), ""});
  }
  auto missing = nft_problems();
  if (!missing) {
    c.push_back({L::fail, "nftables", missing.error().message(), "brig system up"});
  } else if (!missing->empty()) {
    c.push_back({L::fail, "nftables", (*missing)[0], "brig system up"});
  } else {
    c.push_back({L::ok, "nftables", std::string("tables bridge brig and inet brig intact") +
                                        (warden_up ? ", and warden's inet brig_warden" : ""), ""});
  }
  auto ca = fs::read_file(ctx_.paths.ca_cert(), 1 << 20);
  for (const auto& name : cell_files::cell_names(ctx_.paths)) {
    auto rec = cells_.load_record(name);
    if (!rec) {
      c.push_back({L::warn, "cell " + name, rec.error().message(), "brig cell rm " + name});
      continue;
    }
    if (map && (!map->count(rec->subnet.cidr()) || map->at(rec->subnet.cidr()) != name)) {
      c.push_back({L::fail, "cell " + name, "subnet " + rec->subnet.cidr() + " is not mapped to it (warden denies it)",
                   "brig cell rm " + name + " and run it again"});
    }
    if (!ctx_.podman.network_exists(network_of(*rec))) {
      c.push_back({L::warn, "cell " + name, "network " + network_of(*rec) + " is missing", "brig cell start " + name});
    }
    auto bundle = fs::read_file(ctx_.paths.cell_state(name) + "/brig/ca-bundle.crt", 16 << 20);
    if (bundle && ca && bundle->find(*ca) == std::string::npos) {
      c.push_back({L::warn, "cell " + name, "CA bundle is stale (the CA changed)", "brig cell restart " + name});
    }
  }
  if (map) {
    for (const auto& [cidr, owner] : *map) {
      if (!fs::exists(cell_files::record_path(ctx_.paths, owner))) {
        c.push_back({L::warn, "subnets", cidr + " is held by " + owner + ", which no longer exists", "brig system prune --subnets"});
      }
    }
  }
  // Spare networks: each there (a run taking a missing one fails and undoes).
  if (auto spares = list_spares(ctx_.paths); !spares) {
    c.push_back({L::fail, "spare networks", spares.error().message(), spares.error().fix()});
  } else {
    std::vector<std::string> gone;
    for (const auto& s : *spares) {
      if (!quick && s.since_ms != kSpareBeingMade && !ctx_.podman.network_exists(s.network)) gone.push_back(s.network);
    }
    if (!gone.empty()) {
      c.push_back({L::warn, "spare networks", str::join(gone, ", ") + " listed but gone from podman", "brig system prune --subnets"});
    } else {
      c.push_back({L::ok, "spare networks", std::to_string(spares->size()) + " of " +
                                                std::to_string(cfg ? cfg->spare_networks : 0) +
                                                " ready (spare_networks; brig system up makes them)", ""});
    }
  }
  return c;
}

Result<std::vector<std::string>> System::verify() {
  // The runsc shim (quirk workaround) counts as runsc only while it is
  // exactly the script brig writes for this host's runsc.
  auto shim_is_runsc = [this] {
    auto cfg = load_host_config(ctx_.paths);
    auto have = fs::read_file(ctx_.paths.runsc_shim(), 1 << 16);
    return cfg && have && *have == runsc_shim_script(cfg->runsc);
  };
  std::vector<std::string> v;
  auto cells = cells_.list(true);
  if (!cells) return cells.error();
  auto digests = SecretDigests::load(ctx_.paths);
  if (!digests) return digests.error();
  for (const auto& cs : *cells) {
    const auto& name = cs.record.name;
    if (cs.state == "missing") continue;
    auto out = ctx_.podman.run({"container", "inspect", cell_container(name)});
    if (!out || !out->success()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(out->out).at(0);
    } catch (...) {
      v.push_back("cell " + name + ": podman inspect is unreadable");
      continue;
    }
    // 3: gVisor unless the spec named another runtime.
    const std::string runtime = j.value("OCIRuntime", "");
    const std::string declared = cs.record.spec.value("runtime", "runsc");
    if (runtime != "runsc" && runtime != declared && !(runtime == ctx_.paths.runsc_shim() && shim_is_runsc())) {
      v.push_back("cell " + name + ": runs under " + runtime + ", not runsc (invariant 3)");
    }
    // 5: single-homed, on its own network.
    auto nets = j["NetworkSettings"].value("Networks", nlohmann::json::object());
    if (nets.size() != 1 || !nets.contains(network_of(cs.record))) {
      v.push_back("cell " + name + ": attached to " + std::to_string(nets.size()) + " networks (invariant 5)");
    }
    // 4: no stored secret's value in the environment, whether or not the cell
    // mounts that secret (compared by digest; names, never values).
    for (const auto& e : j["Config"].value("Env", std::vector<std::string>{})) {
      const std::size_t eq = e.find('=');
      const std::string key = e.substr(0, eq);
      const std::string_view value = eq == std::string::npos ? std::string_view() : std::string_view(e).substr(eq + 1);
      for (const auto& sec : digests->found_in(value)) {
        v.push_back("cell " + name + ": env " + key + " holds the value of secret " + sec + " (invariant 4)");
      }
    }
    // 2: warden is the resolver (it answers only names the policy allows; any
    // other would answer the rest, and carry data out in the queries).
    if (cs.state == "running") {
      if (auto bad = resolver_problem(j.value("ResolvConfPath", ""), cs.record.subnet.warden_ip())) {
        v.push_back("cell " + name + ": " + *bad + " (invariant 2)");
      }
    }
    // 1, 5: nothing but the cell and warden on the cell's network.
    const std::string network = network_of(cs.record);
    if (auto others = others_on(ctx_.podman, network, cell_container(name))) {
      for (const auto& m : *others) v.push_back("network " + network + ": foreign container " + m + " attached (invariants 1, 5)");
    }
  }
  // 1, 5: nothing but warden on a spare network (a cell taking it would share it).
  if (auto spares = list_spares(ctx_.paths)) {
    for (const auto& s : *spares) {
      auto others = others_on(ctx_.podman, s.network);
      for (const auto& m : others ? *others : std::vector<std::string>{}) {
        v.push_back("spare network " + s.network + ": foreign container " + m + " attached (invariants 1, 5)");
      }
    }
  }
  // 1, 2: the nftables tables.
  auto missing = nft_problems();
  if (!missing) return missing.error();
  for (const auto& m : *missing) v.push_back("nftables: " + m + " (invariants 1, 2)");
  // 8: warden admits each cell to the tcp host services it declared, no others.
  if (const long pid = warden_pid(); pid > 0) {
    auto table = state::load_host_services(ctx_.paths);
    if (!table) return table.error();
    auto live = nft::live_host_tcp(ctx_.runner, pid);
    if (live) {
      auto want = host_services::tcp_grants(*table);
      for (const auto& g : *live) {
        if (std::find(want.begin(), want.end(), g) == want.end()) {
          v.push_back("nftables: warden admits " + g.address + " to port " + std::to_string(g.port) +
                      ", which no running cell declares as a tcp host service (invariant 8)");
        }
      }
      for (const auto& g : want) {
        if (std::find(live->begin(), live->end(), g) == live->end()) {
          v.push_back("nftables: warden does not admit " + g.address + " to its declared tcp host service port " +
                      std::to_string(g.port));
        }
      }
    }
  }
  // 8 (and 2): warden up, so every cell's egress has its one way out.
  if (auto w = ctx_.podman.is_warden_running(); !w || !*w) v.push_back("warden is not running");
  return v;
}

Result<PruneReport> System::prune(const PruneOptions& o) {
  const bool everything = !o.cells && !o.logs && !o.subnets;
  PruneReport report;
  std::vector<std::string>& done = report.removed;
  auto cells = cells_.list(true);
  if (!cells) return cells.error();
  if (everything || o.cells) {
    for (const auto& c : *cells) {
      if (c.state == "running") continue;
      // `brig cell rm`'s rule, with no terminal to ask on: a workspace that
      // holds files stays, and so does its cell (a damaged record's
      // workspace is the default one, as Cells::remove assumes).
      const std::string& name = c.record.name;
      const std::string own = ctx_.paths.workspace(name);
      WorkspaceRemoval in;
      in.cell = name;
      auto d = decide_workspace_removal(in, c.record.workspace.empty() ? own : c.record.workspace, own);
      if (d.action != WorkspaceDecision::Action::remove) {
        report.kept.push_back({name, d.message, d.fix});
        continue;
      }
      done.push_back("cell " + name + " (" + c.state + ")");
      if (!o.dry_run) BRIG_TRY(cells_.remove(name, false));
    }
    // State directories without a record (a crash mid-run).
    for (const auto& n : fs::list_names(ctx_.paths.state_dir(), "")) {
      if (n == "system" || fs::exists(cell_files::record_path(ctx_.paths, n))) continue;
      done.push_back("orphan state " + ctx_.paths.cell_state(n));
      std::error_code ec;
      if (!o.dry_run) std::filesystem::remove_all(ctx_.paths.cell_state(n), ec);
    }
    // Ingress routes of cells that no longer exist (a crash mid-run).
    if (auto routes = state::load_ingress_routes(ctx_.paths)) {
      for (const auto& [n, entry] : *routes) {
        if (fs::exists(cell_files::record_path(ctx_.paths, n))) continue;
        done.push_back("ingress routes of " + n);
        if (!o.dry_run) BRIG_TRY(state::remove_ingress_cell(ctx_.paths, n));
      }
    }
    // Injected secrets' values of cells that no longer exist (a crash mid-run).
    for (const auto& n : fs::list_names(state::secret_injections_dir(ctx_.paths), ".json")) {
      if (fs::exists(cell_files::record_path(ctx_.paths, n))) continue;
      done.push_back("injected secrets of " + n);
      if (!o.dry_run) BRIG_TRY(state::remove_secret_injections(ctx_.paths, n));
    }
    // What an image build that died left (a running one holds its lock).
    for (const auto& n : fs::list_names(ctx_.paths.run_dir() + "/builds", "")) {
      if (image_build_running(ctx_.paths, n)) continue;
      done.push_back("files of an ended image build " + ctx_.paths.build_dir(n));
      std::error_code ec;
      if (!o.dry_run) std::filesystem::remove_all(ctx_.paths.build_dir(n), ec);
      if (!o.dry_run) (void)state::remove_cell_policy(ctx_.paths, n);
    }
    // Networks named like a cell's without a cell (a cell claimed from a
    // warm pool keeps its member's network).
    // Spares are in use; so is the network of a subnet a run holds while
    // its record is not written yet.
    std::set<std::string> in_use;
    for (const auto& c : *cells) in_use.insert(network_of(c.record));
    auto spares = list_spares(ctx_.paths);
    if (!spares) return spares.error();
    for (const auto& s : *spares) in_use.insert(s.network);
    auto map = read_subnet_map(ctx_.paths);
    if (!map) return map.error();
    for (const auto& [cidr, owner] : *map) {
      auto s = subnet_of_cidr(cidr);
      if (s && fs::exists(ctx_.paths.cell_state(owner))) in_use.insert(subnet_network(*s));
    }
    auto nets = ctx_.podman.run({"network", "ls", "--filter", std::string("label=") + kCellLabel, "--format", "{{.Name}}"});
    if (nets && nets->success()) {
      for (const auto& n : str::split(trimmed(nets->out), '\n')) {
        if (n.size() <= 5 || in_use.count(n)) continue;
        if (!is_subnet_network(n) && (fs::exists(cell_files::record_path(ctx_.paths, n.substr(5))) ||
                                      image_build_running(ctx_.paths, n.substr(5)))) {
          continue;
        }
        done.push_back("orphan network " + n);
        if (!o.dry_run) (void)teardown_network(ctx_.podman, n);
      }
    }
  }
  if (everything || o.subnets) {
    // Spares whose network is gone (one being made is `system up`'s).
    auto spares = list_spares(ctx_.paths);
    if (!spares) return spares.error();
    for (const auto& s : *spares) {
      if (s.since_ms == kSpareBeingMade || ctx_.podman.network_exists(s.network)) continue;
      done.push_back("spare network " + s.network + " (gone from podman)");
      if (!o.dry_run) {
        if (auto st = drop_spare(ctx_.paths, s.network); !st) return st.error();
      }
    }
    auto map = read_subnet_map(ctx_.paths);
    if (!map) return map.error();
    for (const auto& [cidr, owner] : *map) {
      // A run still setting up has its state directory, not yet its record.
      if (fs::exists(ctx_.paths.cell_state(owner)) || image_build_running(ctx_.paths, owner)) continue;
      done.push_back("stale subnet " + cidr + " (" + owner + ")");
      if (!o.dry_run) BRIG_TRY(release_subnet(ctx_.paths, owner));
    }
  }
  if (everything || o.logs) {
    for (const auto& n : fs::list_names(ctx_.paths.logs_dir() + "/cells", ".jsonl")) {
      if (fs::exists(cell_files::record_path(ctx_.paths, n))) continue;
      done.push_back("logs of removed cell " + n);
      if (!o.dry_run) state::remove_cell_logs(ctx_.paths, n);
    }
  }
  if (!o.dry_run && !done.empty()) ctx_.event("prune", "", {{"removed", done}});
  return report;
}

}  // namespace brig::engine
