// brig secrets add|list|rm.
#include "context.h"

namespace brig::cli {

void add_secrets(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("secrets", "secrets, mounted in cells as files under /run/secrets");
  stub_verb(n, ctx, "add", "store a secret from stdin (-) or a file", {"NAME", "SOURCE"});
  stub_verb(n, ctx, "list", "list secret names and sizes (never values)");
  stub_verb(n, ctx, "rm", "remove a secret", {"NAME"}, {"--force"});
}

}  // namespace brig::cli
