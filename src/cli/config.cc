// brig config get|set|list.
#include "context.h"

namespace brig::cli {

void add_config(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("config", "brig's settings in $BRIG_HOME/config.json");
  stub_verb(n, ctx, "get", "print a setting", {"KEY"});
  stub_verb(n, ctx, "set", "change a setting", {"KEY", "VALUE"});
  stub_verb(n, ctx, "list", "print every setting");
}

}  // namespace brig::cli
