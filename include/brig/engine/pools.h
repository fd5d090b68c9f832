// Warm pools: cells made ahead of need, each already running brig's idle init
// on its own network with warden attached, so a claim only renames one and
// runs the command in it (docs/reference/pools.md).
//
// A pool is $BRIG_HOME/pools/<name>.json (its resolved spec, size, max age);
// its members are ordinary cells whose record names the pool, ready once
// state/<member>/pool-member.json exists. A refiller per pool (`brig pool
// refill`, detached; engine/daemon.h) keeps it full and drops members past
// their max age. A claim takes a ready member under the state lock and makes
// it a cell of its own: container, state, subnet, policy and logs renamed; it
// never goes back.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/cells.h"
#include "brig/engine/context.h"
#include "brig/spec/resolve.h"

namespace brig::engine {

struct PoolDef {
  std::string name;
  nlohmann::json spec;  // the resolved spec (spec::to_json), without a name
  int size = 1;
  long max_age_s = 0;  // 0: members never age out
  std::string created;
  // The image's ENTRYPOINT and CMD (podman image inspect at create): a
  // claim's command runs as a cold cell's would, after the entrypoint.
  std::vector<std::string> image_entrypoint = {}, image_cmd = {};
};

// Pure. The argv a claim runs: the image's entrypoint, then `command` (else
// the spec's command, else the image's CMD). Empty when there is nothing to run.
std::vector<std::string> claim_argv(const PoolDef& d, const std::vector<std::string>& command);

inline constexpr int kMaxPoolSize = 64;

// Pure. A pool name: a cell name short enough for "<pool>-<6 hex>" members.
std::optional<std::string> pool_name_problem(const std::string& name);
// Pure. What a pool cannot hold yet (each changes at start or is renamed by
// name): timeout, ingress, host services and sockets, injected secrets; a
// runtime other than runsc (claims run through runsc exec); a workspace of
// the user's (every cell would share it). "" when the spec will do.
std::string pool_spec_problem(const spec::CellSpec& s);
nlohmann::json to_json(const PoolDef& d);
// Errc::invalid naming `source` when a field is missing or of the wrong type.
Result<PoolDef> pool_from_json(const nlohmann::json& j, const std::string& source);

struct PoolStatus {
  PoolDef def;
  int ready = 0, starting = 0, claimed = 0;
  bool refilling = false;  // its refiller runs
  std::string problem;     // a damaged definition: what is wrong (def holds the name only)
};

// A claim: the cell's name ("" generates one), and what it adds.
struct ClaimRequest {
  std::string pool, name;
  std::vector<std::string> allow;  // DOMAIN[:PORT], checked by the caller
};

struct Claimed {
  CellRecord record;   // as renamed
  std::string member;  // the name it had in the pool
  std::string container_id, oci_config;
};

// How a claim's command runs: env added to the cell's (brig's proxy variables
// and BRIG_CELL win, as in a cold cell), stdin forwarded or not.
struct ClaimExec {
  std::vector<std::string> argv;  // claim_argv
  std::map<std::string, std::string> env;
  bool interactive = false;
};

class Pools {
 public:
  Pools(EngineContext& ctx, Cells& cells) : ctx_(ctx), cells_(cells) {}

  // Stores the pool (Errc::exists when the name is taken) with its image's
  // entrypoint and command, and starts its refiller (`brig_binary pool refill NAME`).
  Status create(PoolDef def, const std::string& brig_binary);
  Result<std::vector<PoolStatus>> list();
  Result<PoolDef> load(const std::string& name);
  // Stops the refiller, removes the members (not the cells claimed from it)
  // and the definition.
  Status remove(const std::string& name);
  // The refiller's body: fills the pool to its size, one member at a time,
  // and drops dead and aged members, until `stop()` says so or the pool is gone.
  Status refill(const std::string& name, const spec::Resolved& resolved, const std::function<bool()>& stop);
  // Starts every pool's refiller (system up) / stops them and removes every
  // member (system down).
  Status start_refillers(const std::string& brig_binary);
  Result<std::vector<std::string>> stop_all();

  // A ready member renamed to `req.name` with `req.allow` added to its policy;
  // nullopt when the pool has none ready (the caller starts one cold).
  Result<std::optional<Claimed>> claim(const ClaimRequest& req);
  // Runs the command in a claimed cell, its stdio ours, as the cell's own
  // process runs (its user, capabilities, limits); returns its exit code.
  Result<int> exec(const Claimed& c, const ClaimExec& x);

 private:
  Status start_refiller(const std::string& name, const std::string& brig_binary);
  Status stop_refiller(const std::string& name);
  Status make_member(const std::string& pool, const spec::Resolved& resolved);
  Status drop_member(const std::string& cell);

  EngineContext& ctx_;
  Cells& cells_;
};

}  // namespace brig::engine
