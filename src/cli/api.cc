// brig api serve.
#include "brig/api/server.h"
#include "brig/core/fs.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {

void add_api(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("api", "brig's REST API (docs/reference/api.md)");
  static std::string socket, pidfile;
  auto* serve = n->add_subcommand("serve", "serve the API on a unix socket until SIGTERM (brig system up starts it)");
  serve->add_option("--socket", socket, "the socket (default $BRIG_HOME/run/api.sock)");
  serve->add_option("--pidfile", pidfile, "write this process's pid here while it serves");
  on_run(serve, ctx, [&ctx]() -> Result<int> {
    api::ServeOptions o;
    o.socket = socket;
    o.pidfile = pidfile;
    o.load_spec = [paths = ctx.paths](const std::string& text) { return load_spec_text(paths, text, "request"); };
    BRIG_TRY(api::serve(ctx.paths, o));
    return 0;
  });
}

}  // namespace brig::cli
