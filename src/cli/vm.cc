// brig vm ... — the macOS VM layer. On Linux brig runs natively.
#include <cstdio>

#include "context.h"

namespace brig::cli {

void add_vm(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("vm", "the Lima VM that holds brig on macOS");
  stub_verb(n, ctx, "create", "create the VM", {"--cpus", "--memory", "--disk"});
  stub_verb(n, ctx, "start", "start the VM");
  stub_verb(n, ctx, "stop", "stop the VM");
  auto* status = n->add_subcommand("status", "show the VM's state");
  on_run(status, ctx, [&ctx]() -> Result<int> {
    // On Linux there is no VM: brig drives podman and runsc on this host.
    if (ctx.json()) std::printf("{\"platform\": \"linux\", \"mode\": \"native\", \"vm\": null}\n");
    else std::printf("native: this host runs cells directly (no VM; no hardware boundary)\n");
    return 0;
  });
  stub_verb(n, ctx, "shell", "open a shell in the VM: brig vm shell [-- CMD...]");
  stub_verb(n, ctx, "delete", "delete the VM", {}, {"--force"});
}

}  // namespace brig::cli
