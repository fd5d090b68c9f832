#include "brig/state/cell_logs.h"

#include <unistd.h>

#include <cstdio>

namespace brig::state {

std::string cell_log_in(const std::string& dir, const std::string& cell) { return dir + "/" + cell + ".jsonl"; }

std::string rotated_log_path(const std::string& path, int n) {
  return n == 0 ? path : path + "." + std::to_string(n);
}

std::string log_lock_path(const std::string& path) { return path + ".lock"; }

std::vector<std::string> log_files_oldest_first(const std::string& path) {
  std::vector<std::string> files;
  for (int i = kCellLogRotations; i >= 0; --i) files.push_back(rotated_log_path(path, i));
  return files;
}

void rotate_log(const std::string& path) {
  // A rename that fails (ENOENT: fewer old files than kept) leaves a gap the
  // next rotation fills; nothing to report.
  for (int i = kCellLogRotations; i >= 1; --i) {
    (void)std::rename(rotated_log_path(path, i - 1).c_str(), rotated_log_path(path, i).c_str());
  }
}

void remove_cell_logs(const Paths& paths, const std::string& cell) {
  for (const auto& f : log_files_oldest_first(paths.cell_log(cell))) ::unlink(f.c_str());
}

}  // namespace brig::state
