#include "brig/engine/cell_verbs.h"

#include "brig/state/events.h"

#include <nlohmann/json.hpp>

#include "brig/core/fs.h"
#include "brig/core/strings.h"

namespace brig::engine {

namespace {

Result<int> on_terminal(Engine& e, std::vector<std::string> argv) {
  proc::Command c;
  c.argv = std::move(argv);
  return e.on_terminal(std::move(c));
}

}  // namespace

Status require_running(Engine& e, const std::string& cell) {
  auto st = e.status(cell);
  if (!st) return st.error();
  if (st->state != "running") return Error(Errc::exists, "cell " + cell + " is " + st->state, "brig cell start " + cell);
  return {};
}

Result<int> follow_logs(Engine& e, const std::string& cell, int tail) {
  BRIG_TRY(e.status(cell));
  return on_terminal(e, cell_logs_args(cell, true, tail));
}

Result<CellLogs> read_logs(Engine& e, const std::string& cell, int tail) {
  auto st = e.status(cell);
  if (!st) return st.error();
  if (tail == 0) return CellLogs{"", st->state};  // --tail 0: no lines, nothing to ask podman
  auto text = e.logs(cell, tail);
  if (!text) return text.error();
  return CellLogs{std::move(*text), st->state};
}

Result<int> exec_in_cell(Engine& e, const std::string& cell, bool interactive, bool tty,
                         const std::vector<std::string>& command) {
  if (command.empty()) return Error(Errc::usage, "no command given", "brig cell exec " + cell + " -- ls");
  BRIG_TRY(require_running(e, cell));
  return on_terminal(e, cell_exec_args(cell, interactive, tty, command));
}

Result<int> shell_in_cell(Engine& e, const std::string& cell, bool tty) {
  BRIG_TRY(require_running(e, cell));
  return on_terminal(e, cell_shell_args(cell, tty));
}

Result<int> cell_top(Engine& e, const std::string& cell) {
  auto st = e.status(cell);
  if (!st) return st.error();
  if (st->record.runtime != "runsc") return on_terminal(e, cell_top_args(cell));
  BRIG_TRY(require_running(e, cell));
  auto cfg = load_host_config(e.paths());
  if (!cfg) return cfg.error();
  auto id = e.context().podman.run({"container", "inspect", "--format", "{{.Id}}", cell_container(cell)});
  if (!id) return id.error();
  if (!id->success()) return Error(Errc::failed, "podman inspect " + cell_container(cell) + ": " + std::string(str::trim(id->err)));
  return on_terminal(e, cell_top_args(cell, cfg->runsc, std::string(str::trim(id->out))));
}

Result<int> cell_diff(Engine& e, const std::string& cell) {
  BRIG_TRY(e.status(cell));
  return on_terminal(e, cell_diff_args(cell));
}

Result<int> export_workspace(Engine& e, const std::string& cell, const std::string& output) {
  auto st = e.status(cell);
  if (!st) return st.error();
  return on_terminal(e, workspace_export_args(st->record.workspace, output));
}

std::vector<std::string> filter_cell_events(std::string_view jsonl, const std::string& cell) {
  std::vector<std::string> lines;
  for (const auto& line : str::split(jsonl, '\n')) {
    auto e = state::parse_event(line);  // the events format's owner
    if (e && e->cell == cell) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> cell_events(const Paths& paths, const std::string& cell) {
  auto text = state::read_events(paths);
  return filter_cell_events(text ? *text : "", cell);
}

}  // namespace brig::engine
