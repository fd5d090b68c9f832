// What brig knows about the host it drives: probed once by `brig system init`
// and kept in $BRIG_HOME/config.json, so every later command reads a file
// instead of probing again.
#pragma once

#include <optional>
#include <string>
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
  std::string cgroup;            // "v2", "v1" or "hybrid"
  bool cap_sys_resource = false;
  std::vector<std::string> ulimits;  // "--ulimit" values brig passes ("nofile=H:H"); empty when not needed
  bool nft = false;
  int ops_port = 9464;           // warden's ops endpoint, published on 127.0.0.1
  int warden_threads = 2;
};

// The probes `system init` runs. `accept_weaker_network` records
// runsc_network=host where gVisor's netstack does not work.
Result<HostConfig> probe_host(proc::Runner& runner, bool accept_weaker_network);

// The `--ulimit` values that stay within the hard limits of this process
// (nproc capped at 32768: podman's conmon runs with that limit here).
std::vector<std::string> ulimits_within_hard_limits();

// The runsc shim: `exec "<runsc>" "$@"` without podman's --tty.
std::string runsc_shim_script(const std::string& runsc);
// Writes it at paths.runsc_shim() (0755) when `cfg` needs it.
Status write_runsc_shim(const Paths& paths, const HostConfig& cfg);

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
// both within this process's hard limit.
Status check_setting(const HostConfig& cfg, const std::string& key);

// Creates the $BRIG_HOME layout (idempotent): state/system, secrets (0700),
// policy/cells, logs/cells, run, profiles, and the default global policy and
// warden.yaml when absent.
Status make_layout(const Paths& paths);

}  // namespace brig::engine
