#include "host_checks.h"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <future>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/images.h"
#include "brig/engine/plan.h"
#include "brig/engine/podman.h"
#include "brig/engine/secrets.h"
#include "brig/state/warden_runtime.h"
#include "cell_files.h"
#include "daemon.h"
#include "host_sockets.h"
#include "ingress.h"

namespace brig::engine {
namespace {

// The CPUs this process may run on (what podman measures --cpus against).
int host_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// How to get an image that is not in local storage, with what works today
// (brig image build|pull, or brig's own build script).
std::string image_fix(const std::string& image) {
  for (const char* own : {"localhost/brig-busybox", "localhost/brig-debian", "localhost/brig-node"}) {
    if (image.rfind(own, 0) == 0) return "scripts/build-images.sh (in brig's source tree)";
  }
  if (image.rfind("localhost/", 0) == 0) return "brig image build DIR -t " + image + " (the directory with its Containerfile)";
  return "brig image pull " + image;
}

// Warden's runtime file names a live warden process (no podman asked).
bool warden_known_running(const Paths& paths) {
  auto w = state::load_warden_runtime(paths);
  return w && daemon::is_process(w->pid, "warden");
}

}  // namespace

Error image_missing(const std::string& image, const std::string& pinned) {
  const ImageRef ref = parse_image_ref(image);
  return Error(Errc::not_found, "image " + str::quote(ref.without_digest()) + " is not in local storage",
               image_fix(pinned.empty() ? image : pinned));
}

Error name_taken(const std::string& name) {
  return Error(Errc::exists, "a cell named " + str::quote(name) + " already exists",
               "remove it (brig cell rm " + name + ") or pick another name (--name)");
}

std::vector<HostCheck> check_host(const EngineContext& ctx, const spec::Resolved& resolved,
                                  const Result<HostConfig>& cfg, const std::string& name, bool for_run) {
  const bool stop_at_failure = for_run;
  const spec::CellSpec& s = resolved.spec;
  std::vector<HostCheck> checks;
  auto pass = [&](std::string n, std::string detail) {
    checks.push_back({std::move(n), std::move(detail), std::nullopt, "", std::nullopt});
  };
  auto fail = [&](std::string n, Error e) { checks.push_back({std::move(n), "", std::move(e), "", std::nullopt}); };

  if (auto st = check_concrete(s); !st) {
    fail("spec", st.error());
    return checks;  // nothing else can be judged on a spec the engine cannot read
  }
  pass("spec", "valid (profile " + *s.profile + ")");

  const std::string& runtime = *s.runtime;
  if (!cfg) {
    fail("host", cfg.error());
  } else if (runtime == "runsc" && cfg->runsc.empty()) {
    fail("runtime", Error(Errc::unavailable, "runsc is not installed", "sudo apt-get install runsc"));
  } else if (runtime == "runsc" && cfg->runsc_network.empty()) {
    fail("runtime", Error(Errc::unavailable,
                          "gVisor's own network stack does not work on this host, and the weaker runsc network=host "
                          "mode was not accepted",
                          "brig system init --accept-weaker-network (cells then use the kernel's stack in their own "
                          "netns)"));
  } else {
    pass("runtime", runtime + (runtime == "runsc" ? " (network " + cfg->runsc_network + ")" : ""));
  }
  if (s.cpus.has()) {
    const double want = std::strtod(s.cpus->c_str(), nullptr);  // a positive number (spec::validate)
    const int have = host_cpus();
    if (want > have) {
      const std::string n = std::to_string(have);
      const auto& o = s.cpus.origin;
      fail("cpus", Error(Errc::invalid,
                         o.str() + ": cpus: " + str::quote(*s.cpus) + " is more than this host's " + n + " CPUs",
                         o.kind == spec::Origin::Kind::flag ? "run it again with --cpus " + n + " or less"
                         : o.kind == spec::Origin::Kind::file ? "set cpus: " + n + " or less in " + o.where
                                                              : "set cpus to " + n + " or less"));
    } else {
      pass("cpus", *s.cpus + " of " + std::to_string(have));
    }
  }
  if (!s.image.has()) fail("image", Error(Errc::usage, "no image given", "brig run IMAGE [-- CMD...] or image: in --file"));

  for (const auto& sec : s.secrets.has() ? *s.secrets : spec::SecretList{}) {
    const std::string& n = sec.name;
    if (sec.injected()) {
      // Read and judged now (a value no header can carry is refused before
      // any change), then dropped: the run reads it again for warden.
      if (auto v = injectable_value(ctx.paths, n); !v) fail("secret " + n, v.error());
      else pass("secret " + n, "present, injected by warden into $" + sec.env + " for " + str::join(sec.hosts, ", "));
    } else if (fs::exists(ctx.paths.secret(n))) {
      pass("secret " + n, "present");
    } else {
      fail("secret " + n, Error(Errc::not_found, "secret " + str::quote(n) + " does not exist",
                                "brig secrets add " + n + " - < FILE"));
    }
  }

  // Invariant 4: no secret's value in the environment, compared by digest
  // against every stored secret (not only the ones this cell mounts).
  if (s.env.has() && !s.env->empty()) {
    auto digests = SecretDigests::load(ctx.paths);
    bool found = !digests;
    if (!digests) fail("env", digests.error());
    for (const auto& [key, value] : *s.env) {
      for (const auto& sec : digests ? digests->found_in(value) : std::vector<std::string>{}) {
        found = true;
        fail("env " + key, Error(Errc::invalid,
                                 "env " + key + " holds the value of secret " + sec +
                                     ": secrets never go in a cell's environment",
                                 "drop " + key + " from --env (or the file's env:) and mount the secret instead: --secret " +
                                     sec + " (the cell reads /run/secrets/" + sec + ")"));
      }
    }
    if (!found) pass("env", std::to_string(s.env->size()) + " variable(s), no secret's value");
  }

  // Ingress: the bearer token is the secret <name>-ingress-token, so the name
  // must be known before the run (a generated one has no token yet).
  if (s.ingress.has() && !s.ingress->empty()) {
    if (!s.name.has()) {
      fail("ingress token",
           Error(Errc::usage,
                 "this cell declares ingress but has no name: its bearer token is the secret NAME-ingress-token, so "
                 "the name must be chosen before the run",
                 "give it a name: brig run --name NAME ... (or name: in the file), after "
                 "openssl rand -hex 32 | brig secrets add NAME-ingress-token -"));
    } else if (auto token = ingress::read_token(ctx.paths, *s.name); !token) {
      fail("ingress token", token.error());
    } else {
      checks.push_back({"ingress token", ingress::token_secret(*s.name) + " present", std::nullopt,
                        ingress::short_token_warning(*s.name, *token).value_or(""), std::nullopt});
    }
  }

  // Host sockets: this runsc must let a cell connect to them, and each is
  // judged on the real file (validation judged the path).
  if (s.host_sockets.has() && !s.host_sockets->empty()) {
    if (runtime == "runsc" && cfg && cfg->runsc_host_uds.empty()) {
      fail("host sockets",
           Error(Errc::unavailable,
                 "this runsc cannot connect a cell to a host unix socket (it has neither -host-uds nor "
                 "-fsgofer-host-uds, or brig system init has not probed it yet)",
                 "upgrade runsc, then brig system init (it probes runsc again); or remove host_sockets")
               .with_exit_code(125));
    }
    for (const auto& h : *s.host_sockets) {
      // From the Mac: the socket the thin client bridged host_path to.
      auto bridged = resolved.host_socket_bridges.find(h.name);
      HostSocketRef ref{h.name, h.host_path, "", h.mount_point, h.mode != "rw",
                        bridged == resolved.host_socket_bridges.end() ? "" : bridged->second};
      auto real = check_host_socket(h.name, ref.checked_path(), ctx.paths.home());
      if (!real) {
        fail("host socket " + h.name, real.error());
        continue;
      }
      ref.source = *real;
      checks.push_back({"host socket " + h.name, *real + " -> " + h.mount_point + " (" + h.mode + ", bypasses warden)",
                        std::nullopt, "", ref});
    }
  }

  if (stop_at_failure) {
    for (const auto& c : checks) {
      if (c.failure) return checks;
    }
  }
  // Three independent podman questions, asked at once (each costs ~30 ms
  // and ~40 ms of CPU); a run asks fewer.
  const Podman& podman = ctx.podman;
  auto warden_q = std::async(std::launch::async, [&]() -> Result<bool> {
    if (for_run && warden_known_running(ctx.paths)) return true;
    return podman.is_warden_running();
  });
  // A pinned image is looked at (its digests); any other only looked for.
  const ImageRef image_ref = parse_image_ref(s.image.has() ? *s.image : std::string());
  const std::string pin = !image_ref.digest.empty() ? image_ref.digest : s.image_digest.has() ? *s.image_digest : "";
  auto image_q = std::async(std::launch::async, [&]() -> Result<std::optional<ImageInfo>> {
    if (!s.image.has()) return std::optional<ImageInfo>{};
    if (pin.empty() && for_run) return std::optional<ImageInfo>(ImageInfo{});  // podman run --pull never says
    if (pin.empty()) return podman.image_exists(*s.image) ? std::optional<ImageInfo>(ImageInfo{}) : std::nullopt;
    auto found = inspect_image(podman, image_ref.lookup(pin));
    // A tag that moved on while the pinned image is still here: that image.
    if (found && *found && !image_ref.tag.empty() && pin_problem(image_ref, pin, **found)) {
      auto by_digest = inspect_image(podman, image_ref.name + "@" + pin);
      if (by_digest && *by_digest && !pin_problem(image_ref, pin, **by_digest)) return by_digest;
    }
    return found;
  });
  auto exists_q =
      std::async(std::launch::async, [&] { return !for_run && !name.empty() && podman.container_exists(cell_container(name)); });
  auto warden = warden_q.get();
  const auto image = image_q.get();
  const bool exists = exists_q.get();

  if (!warden) {
    fail("warden", warden.error());
  } else if (!*warden) {
    fail("warden", Error(Errc::unavailable, "warden is not running, so a cell would have no way out", "brig system up"));
  } else {
    pass("warden", "running");
  }
  if (s.image.has()) {
    if (!image) {
      fail("image", image.error());
    } else if (!*image) {
      fail("image", image_missing(*s.image, pin.empty() ? "" : image_ref.name + "@" + pin));
    } else if (!pin.empty()) {
      if (auto problem = pin_problem(image_ref, pin, **image)) {
        fail("image", Error(Errc::failed, *problem,
                            is_local_image(*s.image) ? "rebuild it, or pin what it is now (brig image list shows its digest)"
                                                     : "brig image pull " + image_ref.name + "@" + pin));
      } else {
        pass("image", image_ref.without_digest() + " pinned to " + pin);
        checks.back().image_id = (*image)->id;
      }
    } else {
      pass("image", *s.image);
      auto warn = cfg && cfg->warn_unpinned_images ? unpinned_image_warning(*s.image, "") : std::nullopt;
      if (warn) checks.back().warning = *warn;
    }
  }
  if (!name.empty()) {
    // A cell is its record as much as its container: one whose container is
    // gone (state "missing") or whose record is damaged still holds the name,
    // and so does the state a crashed run left (which `brig run` trips on).
    const std::string state = ctx.paths.cell_state(name);
    if (exists || fs::exists(cell_files::record_path(ctx.paths, name))) {
      fail("name", name_taken(name));
    } else if (fs::exists(state)) {
      fail("name", Error(Errc::exists, "the name " + str::quote(name) + " is held by leftover state in " + state,
                         "brig system prune --cells (removes it), or pick another name (--name)"));
    } else {
      pass("name", name + " is free");
    }
  }
  return checks;
}

}  // namespace brig::engine
