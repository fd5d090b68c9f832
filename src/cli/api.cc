// brig api serve.
#include "brig/api/server.h"
#include "brig/core/fs.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {

void add_api(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("api", "brig's REST API (docs/reference/api.md)");
  static std::string socket, pidfile, listen, token_file;
  auto* serve = n->add_subcommand("serve", "serve the API on a unix socket until SIGTERM (brig system up starts it)");
  serve->add_option("--socket", socket, "the socket (default $BRIG_HOME/run/api.sock)");
  serve->add_option("--pidfile", pidfile, "write this process's pid here while it serves");
  serve->add_option("--listen", listen, "ADDR:PORT on TCP (not supported yet)");
  serve->add_option("--token-file", token_file, "the bearer token TCP clients must send (not supported yet)");
  on_run(serve, ctx, [&ctx]() -> Result<int> {
    if (!listen.empty() || !token_file.empty()) {
      return Error(Errc::unavailable, "--listen and --token-file: not supported yet (the API serves a unix socket only)",
                   "reach the socket from another machine through ssh: ssh -L /tmp/brig.sock:" + ctx.paths.api_socket() + " HOST");
    }
    api::ServeOptions o;
    o.socket = socket;
    o.pidfile = pidfile;
    o.load_spec = [paths = ctx.paths](const std::string& text) { return load_spec_text(paths, text, "request"); };
    BRIG_TRY(api::serve(ctx.paths, o));
    return 0;
  });
}

}  // namespace brig::cli
