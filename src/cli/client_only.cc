// The client-only build (BRIG_CLIENT_ONLY, the macOS thin client) has no
// warden or engine module: their nouns are registered for --help and fail if
// reached.
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

void add_nouns(CLI::App& root, Context& ctx, const char* noun, const char* help, std::initializer_list<const char*> verbs) {
  auto* n = root.add_subcommand(noun, help);
  for (const char* verb : verbs) vm_only(n->add_subcommand(verb, verb), ctx);
}

void add_cell(CLI::App& root, Context& ctx) {
  add_nouns(root, ctx, "cell", "manage cells (in the VM)",
            {"list", "inspect", "logs", "exec", "shell", "stop", "kill", "start", "restart", "rm", "wait", "cp", "read",
             "stats", "top", "network", "events", "preflight", "diff", "export"});
}
void add_system(CLI::App& root, Context& ctx) {
  add_nouns(root, ctx, "system", "brig's system (in the VM)",
            {"init", "up", "down", "restart", "doctor", "verify", "prune", "stats", "events", "history"});
}
void add_secrets(CLI::App& root, Context& ctx) {
  add_nouns(root, ctx, "secrets", "secrets (in the VM)", {"add", "list", "rm"});
}
void add_image(CLI::App& root, Context& ctx) {
  add_nouns(root, ctx, "image", "images (in the VM)", {"build", "pull", "list", "rm", "verify"});
}
void add_api(CLI::App& root, Context& ctx) { add_nouns(root, ctx, "api", "the REST API (in the VM)", {"serve"}); }
void add_pool(CLI::App& root, Context& ctx) {
  add_nouns(root, ctx, "pool", "warm pools (in the VM)", {"create", "list", "rm"});
}
void add_config(CLI::App& root, Context& ctx) {
  add_nouns(root, ctx, "config", "brig's settings (in the VM)", {"get", "set", "list"});
}

void add_warden(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("warden", "the egress proxy (runs inside the VM)");
  for (const char* verb : {"serve", "status", "stats", "health", "ca"}) vm_only(n->add_subcommand(verb, verb), ctx);
  vm_only(n->add_subcommand("policy", "policy")->add_subcommand("validate", "check a policy file"), ctx);
}

}  // namespace brig::cli
