// brig cell ... — cell lifecycle verbs (the engine lands in a later issue).
#include "context.h"

namespace brig::cli {

void add_cell_network(CLI::App* noun, Context& ctx);

void add_cell(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("cell", "manage cells: list, inspect, logs, exec, stop, rm, ...");
  stub_verb(n, ctx, "list", "list cells", {}, {"-a,--all"});
  stub_verb(n, ctx, "inspect", "show a cell's configuration and state", {"CELL"});
  stub_verb(n, ctx, "logs", "print a cell's output", {"CELL", "--tail"}, {"-f,--follow"});
  stub_verb(n, ctx, "exec", "run a command in a cell: brig cell exec CELL -- CMD...", {"CELL"}, {"-i,--interactive", "-t,--tty"});
  stub_verb(n, ctx, "shell", "open a shell in a cell", {"CELL"});
  stub_verb(n, ctx, "stop", "stop a cell (routes and networks torn down)", {"CELL", "--time"});
  stub_verb(n, ctx, "kill", "kill a cell", {"CELL", "--signal"});
  stub_verb(n, ctx, "start", "start a stopped cell (replays ingress routes)", {"CELL"});
  stub_verb(n, ctx, "restart", "restart a cell", {"CELL"});
  stub_verb(n, ctx, "rm", "remove a cell and its workspace", {"CELL"}, {"--keep-workspace", "--force"});
  stub_verb(n, ctx, "wait", "wait for a cell to exit and print its exit code", {"CELL"});
  stub_verb(n, ctx, "cp", "copy files between a cell and the host", {"SRC", "DST"});
  stub_verb(n, ctx, "read", "print a workspace file safely (no symlinks, no ..)", {"CELL", "PATH"});
  stub_verb(n, ctx, "stats", "resource usage of cells", {"CELL"});
  stub_verb(n, ctx, "top", "processes of a cell", {"CELL"});
  add_cell_network(n, ctx);
  stub_verb(n, ctx, "events", "lifecycle events of a cell", {"CELL"});
  stub_verb(n, ctx, "preflight", "check every host-side requirement of a cell spec", {"FILE"});
  stub_verb(n, ctx, "diff", "files changed in a cell's filesystem", {"CELL"});
  stub_verb(n, ctx, "export", "export a cell's workspace as a tar stream", {"CELL", "-o,--output"});
}

}  // namespace brig::cli
