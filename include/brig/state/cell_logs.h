// $BRIG_HOME/logs/cells/<cell>.jsonl: warden's record of each cell's requests,
// one JSON object per line (written by warden::LogWriter, read by `brig cell
// network`). Files rotate by size, keeping kCellLogRotations old files:
// <cell>.jsonl.1 (newest) .. <cell>.jsonl.4 (oldest). Writers hold an flock on
// <cell>.jsonl.lock while they append or rotate.
#pragma once

#include <string>
#include <vector>

#include "brig/core/paths.h"

namespace brig::state {

inline constexpr int kCellLogRotations = 4;

// `dir`/<cell>.jsonl; with dir = logs/cells this is Paths::cell_log(cell).
std::string cell_log_in(const std::string& dir, const std::string& cell);
// `path` for n == 0, else `path`.n (1 <= n <= kCellLogRotations).
std::string rotated_log_path(const std::string& path, int n);
// The sidecar lock writers hold: `path`.lock.
std::string log_lock_path(const std::string& path);
// Every file of one log, oldest first: .4 .3 .2 .1, then `path` itself.
std::vector<std::string> log_files_oldest_first(const std::string& path);

// Shifts .3 -> .4, .2 -> .3, .1 -> .2, `path` -> .1 (the oldest is replaced;
// missing files are skipped). REQUIRES: the log's lock is held.
void rotate_log(const std::string& path);
// Removes a cell's log and its rotated files (`brig system prune --logs`).
void remove_cell_logs(const Paths& paths, const std::string& cell);

}  // namespace brig::state
