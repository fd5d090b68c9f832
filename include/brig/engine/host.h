// What brig knows about the host it drives: probed once by `brig system init`
// and kept in $BRIG_HOME/config.json, so every later command reads a file
// instead of probing again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/proc/command.h"

namespace brig::engine {

struct HostConfig {
  std::string podman;            // resolved path of podman ("" when absent)
  std::string runsc;             // resolved path of runsc
  std::string runsc_version;     // first line of `runsc --version`
  // How runsc networks cells: "sandbox" (gVisor's own netstack) or "host"
  // (the cell netns's kernel stack; weaker, only when the user accepted it).
  // "" means runsc's netstack does not work here and nobody accepted "host".
  std::string runsc_network;
  bool sandbox_network_works = false;
  // Quirks of Debian's 2022 runsc, probed by init and worked around per cell
  // (docs/reference/quirks.md). Unknown (an older config.json) counts as
  // "quirk present": the workarounds are harmless on a runsc without it.
  // runsc's `exec` takes podman's --tty (else cells run through the runsc
  // shim at Paths::runsc_shim(), which drops it).
  bool runsc_exec_tty = false;
  // glibc's statx/fstatat with AT_NO_AUTOMOUNT work in a sandbox (else cells
  // get the stat shim through /etc/ld.so.preload: `ls` fails without it).
  bool runsc_stat_ok = false;
  // The runsc flag that lets a cell connect to a host unix socket mounted
  // into it (host_sockets): "host-uds=open" (runsc's -host-uds), or
  // "fsgofer-host-uds" (the older, deprecated flag), or "" when this runsc has
  // neither (or an older config.json never probed it): cells with host
  // sockets are then refused. Passed with --runtime-flag at every start.
  std::string runsc_host_uds;
  std::string cgroup;            // "v2", "v1" or "hybrid"
  bool cap_sys_resource = false;
  std::vector<std::string> ulimits;  // "--ulimit" values brig passes ("nofile=H:H"); empty when not needed
  bool nft = false;
  int ops_port = 9464;           // warden's ops endpoint, published on 127.0.0.1
  int warden_threads = 2;
  // Cell networks kept ready, attached to warden (engine/subnets.h): a run
  // takes one instead of making its own; 0-32.
  int spare_networks = 4;
  // Warden's ingress listener (docs/reference/ingress.md): published on the
  // host at IP:PORT; cells answer at https://<cell>.<ingress_domain>:<PORT>/.
  std::string ingress_publish = "127.0.0.1:8443";
  std::string ingress_domain = "localhost";
  // A certificate and key (PEM files, absolute paths) for ingress_domain; ""
  // for neither: warden then signs one with brig's CA.
  std::string ingress_cert, ingress_key;
  std::uint64_t ingress_max_body = 64ull << 20;  // bytes of a request body
  // `brig run` warns about an image that is neither local (localhost/...) nor
  // pinned by digest.
  bool warn_unpinned_images = true;
  // The group whose members may use the API's socket ("" none: root only):
  // the socket is then 0660 and $BRIG_HOME/run 0710, both of that group.
  std::string api_group;
};

// ingress_publish split: host IP literal (IPv6 without brackets) and port.
// nullopt when it is not IP:PORT with a port 1-65535.
struct PublishAddress {
  std::string ip;
  int port = 0;
  bool ipv6 = false;
  // podman's --publish form of the host side: "127.0.0.1:8443", "[::1]:8443".
  std::string podman_host() const;
};
std::optional<PublishAddress> parse_publish_address(const std::string& text);

// The warning `brig system up` and `brig system doctor` give when ingress is
// published beyond the host's loopback (anything but 127.0.0.0/8 and ::1),
// or nullopt.
std::optional<std::string> ingress_exposure_warning(const HostConfig& cfg);

// The probes `system init` runs. `accept_weaker_network` records
// runsc_network=host where gVisor's netstack does not work.
Result<HostConfig> probe_host(proc::Runner& runner, bool accept_weaker_network);

// The `--ulimit` values that stay within the hard limits of this process
// (nproc capped at 32768: podman's conmon runs with that limit here).
std::vector<std::string> ulimits_within_hard_limits();

// Which host-socket flag `runsc --help` (its text, `help`) lists, as
// HostConfig::runsc_host_uds says it: "host-uds=open", "fsgofer-host-uds" or "".
std::string runsc_host_uds_flag(std::string_view help);
// The one probe of it: reads `runsc --help`, then `runsc flags`, with
// runsc_host_uds_flag (`system init` records it, `system doctor` checks it again).
std::string probe_runsc_host_uds(proc::Runner& runner, const std::string& runsc);

// The runsc shim: `exec "<runsc>" "$@"` without podman's --tty.
std::string runsc_shim_script(const std::string& runsc);
// Writes it at paths.runsc_shim() (0755) when `cfg` needs it.
Status write_runsc_shim(const Paths& paths, const HostConfig& cfg);

// The runsc that image builds run RUN steps with (podman build --runtime):
// buildah's monitor reaps runsc's gofer only after `runsc delete` returns,
// and delete waits for the gofer to be gone, so it never returns in time.
// The script answers delete at once and runs it again in the background once
// the monitor has gone. Everything else goes to runsc unchanged.
std::string runsc_build_script(const std::string& runsc);
// Writes it at paths.runsc_build() (0755); its path.
Result<std::string> write_runsc_build(const Paths& paths, const HostConfig& cfg);

// $BRIG_HOME/config.json. Missing: Errc::not_found with "brig system init" as the fix.
Result<HostConfig> load_host_config(const Paths& paths);
Status save_host_config(const Paths& paths, const HostConfig& cfg);

// The settings `brig config get|set|list` may touch, as strings.
std::vector<std::pair<std::string, std::string>> config_items(const HostConfig& cfg);
// Sets `key` from `value` after the same check check_setting runs: a value
// that would break later runs is refused and `cfg` is left as it was.
Status config_set(HostConfig& cfg, const std::string& key, const std::string& value);
// The settable keys, each with the form of its value, for help and errors.
std::vector<std::pair<std::string, std::string>> settable_keys();
// Whether the setting `key` in `cfg` is one brig can run with (config.json
// may have been edited by hand): the one check behind `config set` and
// `system doctor`. runsc_network=sandbox needs sandbox_network_works; ulimits
// are NAME=SOFT:HARD (or NAME=N) with names podman knows, SOFT <= HARD, and
// both within this process's hard limit; ingress_publish is IP:PORT;
// ingress_domain a DNS name (not an IP); ingress_cert and ingress_key each ""
// or the absolute path of a regular file; ingress_max_body at least 1.
// The pseudo-key "ingress_tls" checks that ingress_cert and ingress_key are
// set together (config set takes them one at a time; up and doctor refuse
// one without the other).
Status check_setting(const HostConfig& cfg, const std::string& key);
// Every key check_setting knows, in the order doctor reports them.
std::vector<std::string> checked_settings();

// Creates the $BRIG_HOME layout (idempotent): state/system, secrets (0700),
// policy/cells, logs/cells, run, profiles, and the default global policy and
// warden.yaml when absent.
Status make_layout(const Paths& paths);

}  // namespace brig::engine
