// brig system ... — host lifecycle (the engine lands in a later issue).
#include "context.h"

namespace brig::cli {

void add_system(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("system", "set up, start, stop and check brig on this host");
  stub_verb(n, ctx, "init", "create $BRIG_HOME, the CA and default policy; probe the host", {}, {"--accept-weaker-network"});
  stub_verb(n, ctx, "up", "start warden and install brig's nftables table");
  stub_verb(n, ctx, "down", "stop every cell, then warden, then remove the nftables table");
  stub_verb(n, ctx, "restart", "down, then up");
  stub_verb(n, ctx, "doctor", "check the host and brig's state, one line per check", {}, {"--quick"});
  stub_verb(n, ctx, "verify", "check the security invariants on the live system");
  stub_verb(n, ctx, "prune", "remove stopped cells, orphan state, networks and subnets", {},
            {"--cells", "--logs", "--subnets", "--dry-run"});
  stub_verb(n, ctx, "stats", "per-cell request, block and byte figures from warden");
  stub_verb(n, ctx, "events", "lifecycle events", {}, {"-f,--follow"});
  stub_verb(n, ctx, "history", "past cells and their outcomes");
}

}  // namespace brig::cli
