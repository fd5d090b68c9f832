// `brig run` as data: from a resolved spec and what the host says, every
// argv the run executes and every file it writes, decided before anything
// runs. Pure: no files, no processes (golden tests in tests/unit/engine/plan_test.cc).
// Engine::run applies a plan step by step, undoing the applied steps when a
// later one fails.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/host.h"
#include "brig/engine/podman.h"
#include "brig/engine/record.h"
#include "brig/spec/resolve.h"

namespace brig::engine {

using Argv = std::vector<std::string>;

// What the plan needs from the host: its layout, its config, the cell's name
// (the spec's or a generated one), the subnet allocated to it, and the time.
struct HostFacts {
  Paths paths;
  HostConfig config;   // runsc_network, ulimits
  std::string name;
  Subnet subnet;
  std::string now;     // RFC 3339: the record's `created`, cell.json's `started_at`
  // Each injected secret's placeholder, by secret name (new_placeholder:
  // random, so made by the caller, not the plan).
  std::map<std::string, std::string> placeholders = {};
  // Each host socket of the spec as the start-time check found it (its real
  // path is what the cell mounts), in the spec's order.
  std::vector<HostSocketRef> host_sockets = {};
  // A pinned image's ID, as the image check matched it: the container is
  // made from exactly that image (a tag moved since cannot swap it).
  std::string image_id = {};
  // A warm pool's member (pools.h), and a cell that waits: it runs brig's
  // idle init (in /run/brig) instead of its command (a claim, or an exec,
  // runs that later).
  std::string pool = {};
  bool idle = false;
};

// How the cell's stdio is wired (run -i, -t).
struct Stdio {
  bool interactive = false;  // stdin kept open; attached runs forward brig's stdin
  bool tty = false;          // a terminal
};

// A file the run writes, whole.
struct PlannedFile {
  std::string path;
  std::string content;
  mode_t mode = 0644;
};

struct RunPlan {
  CellRecord record;           // also planned as files (cell-state.json)
  std::string state_dir;       // $BRIG_HOME/state/<cell>: made first, removed by rollback
  std::string network;         // brig-<cell>
  bool trust_ca = false;       // the CA bundle is written and named in the env
  bool make_workspace = false; // the default workspace is made; a user's must exist
  nlohmann::json policy;       // policy/cells/<cell>.json (stored through the state module)
  std::vector<PlannedFile> files;  // brig/cell.json, cell-state.json, the stat shim where needed
  std::string seccomp_profile;     // host path of the compiled-in profile
  CellPlan container;              // what podman run is built from
  Argv network_create, network_connect, run_detached, run_attached;
};

// The spec fields the engine needs concrete (profile, runtime,
// workspace_mount, writable_rootfs, trust_warden_ca):
// spec::resolve always fills them, so the engine never falls back to a
// default of its own; a missing one is a programming error (Errc::invalid
// naming the field).
Status check_concrete(const spec::CellSpec& s);

// Fails as check_concrete does, or with Errc::usage when no image is given.
// A spec's host socket without its entry in `facts.host_sockets` is a bug
// (Errc::invalid).
Result<RunPlan> plan_cell(const spec::Resolved& resolved, const HostFacts& facts, const Stdio& stdio = {});

// state/<cell>/brig/cell.json: what the cell may know about itself (never a
// host path; of its injected secrets the name, variable and hosts; of its
// host sockets the name, mount point and mode).
nlohmann::json cell_json(const CellRecord& rec, const std::string& started_at);

}  // namespace brig::engine
