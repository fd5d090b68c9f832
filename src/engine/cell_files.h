// A cell's files on the host: its record path, /run/brig (cell.json, the CA
// bundle), the seccomp profile, its environment; plus the JSON text and time
// formats they are written in. Not part of the engine's interface.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/record.h"
#include "brig/spec/cell_spec.h"

namespace brig::engine::cell_files {

std::string record_path(const Paths& paths, const std::string& cell);
// state/<cell>/container.id: podman run --cidfile writes it once it has made
// the container, so a run knows the container is its own (not another's
// holding the name) and removes it by ID.
std::string container_id_path(const Paths& paths, const std::string& cell);
// JSON text that never throws: invalid UTF-8 (from a spec or a tool's output) becomes U+FFFD.
std::string dump(const nlohmann::json& j, int indent = -1);  // state/<cell>/cell-state.json
// Cells with a state directory holding a record, sorted.
std::vector<std::string> cell_names(const Paths& paths);

// state/<cell>/brig/cell.json, mounted at /run/brig/cell.json: what the cell may
// know about itself (never a host path).
Status write_cell_json(const Paths& paths, const CellRecord& rec);

// Whether the cell trusts warden's CA (not airgapped, trust_warden_ca not false).
bool trusts_warden_ca(const CellRecord& rec);

// state/<cell>/brig/ca-bundle.crt, mounted at /run/brig/ca-bundle.crt: the
// system roots plus brig's current CA. Written by run and by every start, so a
// renewed CA reaches a stopped cell with `brig cell start|restart`.
Status write_ca_bundle(const Paths& paths, const std::string& cell);
// Its text: the host's roots, then brig's CA (also what image builds through
// warden trust).
Result<std::string> ca_bundle(const Paths& paths);

std::string seccomp_profile_path(const Paths& paths);  // $BRIG_HOME/run/seccomp-cell.json
// The seccomp profile (seccomp/cell.json, compiled in) written to
// $BRIG_HOME/run/seccomp-cell.json; returns its path.
Result<std::string> write_seccomp_profile(const Paths& paths);

inline constexpr const char* kStatShimName = "libbrig-stat.so";
// The stat shim's bytes (src/engine/stat_shim.c, compiled in), written to
// state/<cell>/brig/<kStatShimName> where runsc needs it.
std::string stat_shim();

inline constexpr const char* kIdleInitName = "idle";
// A warm pool member's PID 1 (src/engine/idle_init.c, compiled in), written
// to state/<cell>/brig/<kIdleInitName>.
std::string idle_init();

// The cell's environment: the user's, then proxy and CA variables (the user's
// own values win for the CA ones; proxy variables always point at warden),
// then each injected secret's placeholder (never its value).
std::map<std::string, std::string> cell_env(const spec::CellSpec& s, const CellRecord& rec, bool trust_ca);

}  // namespace brig::engine::cell_files
