// The client-only build (BRIG_CLIENT_ONLY, the macOS thin client) has no
// warden module: its nouns are registered for --help and fail if reached.
// They are reached only with BRIG_PLATFORM=linux: otherwise the client
// forwards them to the Linux brig in the VM before parsing.
#include "context.h"

namespace brig::cli {
namespace {

void vm_only(CLI::App* verb, Context& ctx) {
  on_run(verb, ctx, [verb]() -> Result<int> {
    return Error(Errc::unavailable, "'" + command_path(verb) + "' is not part of the client-only build",
                 "run it through the VM (unset BRIG_PLATFORM so brig forwards it), or use a full Linux build");
  });
}

}  // namespace

void add_warden(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("warden", "the egress proxy (runs inside the VM)");
  for (const char* verb : {"serve", "status", "stats", "health", "ca"}) vm_only(n->add_subcommand(verb, verb), ctx);
  vm_only(n->add_subcommand("policy", "policy")->add_subcommand("validate", "check a policy file"), ctx);
}

}  // namespace brig::cli
