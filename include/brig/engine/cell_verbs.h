// The `brig cell` verbs that hand the terminal to podman or tar (logs, exec,
// shell, cp, top, diff, export) and a cell's lifecycle events. Each
// verb checks the cell exists (and runs, where it must), then runs the argv
// podman_args builds on brig's own stdin/stdout/stderr and returns its exit code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"
#include "brig/engine/cell_copy.h"
#include "brig/engine/engine.h"

namespace brig::engine {

// `podman logs --follow` on the terminal; `tail` as for cell_logs_args.
// The cell runs, or Errc::exists ("cell X is exited", a conflict with its
// state) with `brig cell start X` as the fix; Errc::not_found without it.
Status require_running(Engine& e, const std::string& cell);

Result<int> follow_logs(Engine& e, const std::string& cell, int tail);

// What the cell has printed so far (stdout then stderr), and its state: the
// last `tail` lines (none for 0; every line for tail < 0).
struct CellLogs {
  std::string text, state;
};
Result<CellLogs> read_logs(Engine& e, const std::string& cell, int tail);

// Errors: usage if `command` is empty; failed if the cell is not running.
Result<int> exec_in_cell(Engine& e, const std::string& cell, bool interactive, bool tty,
                         const std::vector<std::string>& command);
// `tty`: brig's stdin is a terminal.
Result<int> shell_in_cell(Engine& e, const std::string& cell, bool tty);
Result<int> cell_top(Engine& e, const std::string& cell);
Result<int> cell_diff(Engine& e, const std::string& cell);
// The workspace as a tar stream to `output` ("" = stdout).
Result<int> export_workspace(Engine& e, const std::string& cell, const std::string& output);

// Pure: the lines of events.jsonl whose "cell" field is exactly `cell`, as
// written. Lines that are not JSON objects are skipped.
std::vector<std::string> filter_cell_events(std::string_view jsonl, const std::string& cell);
// The same over $BRIG_HOME/logs/events.jsonl (none when it cannot be read).
std::vector<std::string> cell_events(const Paths& paths, const std::string& cell);

}  // namespace brig::engine
