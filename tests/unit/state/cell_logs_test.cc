// logs/cells/<cell>.jsonl: the path, the rotation names and count, rotation
// itself, removal.
#include "brig/state/cell_logs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::exists;
using testing::slurp;
using testing::spit;
using testing::TempDir;

TEST(CellLogs, PathAgreesWithPaths) {
  Paths p("/h");
  EXPECT_EQ(cell_log_in(p.logs_dir() + "/cells", "c1"), p.cell_log("c1"));
  EXPECT_EQ(cell_log_in("/d", "c1"), "/d/c1.jsonl");
  EXPECT_EQ(log_lock_path("/d/c1.jsonl"), "/d/c1.jsonl.lock");
}

TEST(CellLogs, RotationNaming) {
  EXPECT_EQ(kCellLogRotations, 4);
  EXPECT_EQ(rotated_log_path("/d/c1.jsonl", 0), "/d/c1.jsonl");
  EXPECT_EQ(rotated_log_path("/d/c1.jsonl", 1), "/d/c1.jsonl.1");
  EXPECT_EQ(rotated_log_path("/d/c1.jsonl", 4), "/d/c1.jsonl.4");
  EXPECT_EQ(log_files_oldest_first("/d/c1.jsonl"),
            (std::vector<std::string>{"/d/c1.jsonl.4", "/d/c1.jsonl.3", "/d/c1.jsonl.2", "/d/c1.jsonl.1", "/d/c1.jsonl"}));
}

TEST(CellLogs, RotateShiftsAndDropsTheOldest) {
  TempDir d;
  const std::string base = d.path() + "/c1.jsonl";
  for (int i = 0; i <= 4; ++i) spit(rotated_log_path(base, i), "gen" + std::to_string(i) + "\n");
  rotate_log(base);
  EXPECT_FALSE(exists(base));
  EXPECT_EQ(slurp(base + ".1"), "gen0\n");
  EXPECT_EQ(slurp(base + ".2"), "gen1\n");
  EXPECT_EQ(slurp(base + ".3"), "gen2\n");
  EXPECT_EQ(slurp(base + ".4"), "gen3\n");  // gen4 is gone
  EXPECT_FALSE(exists(base + ".5"));
}

TEST(CellLogs, RotateWithFewOldFiles) {
  TempDir d;
  const std::string base = d.path() + "/c1.jsonl";
  spit(base, "now\n");
  rotate_log(base);
  EXPECT_EQ(slurp(base + ".1"), "now\n");
  EXPECT_FALSE(exists(base + ".2"));
  spit(base, "later\n");
  rotate_log(base);
  EXPECT_EQ(slurp(base + ".1"), "later\n");
  EXPECT_EQ(slurp(base + ".2"), "now\n");
}

TEST(CellLogs, RemoveTakesEveryFileOfTheCellOnly) {
  TempDir home;
  Paths p(home.path());
  for (const auto& f : log_files_oldest_first(p.cell_log("c1"))) spit(f, "x\n");
  spit(p.cell_log("c2"), "y\n");
  remove_cell_logs(p, "c1");
  for (const auto& f : log_files_oldest_first(p.cell_log("c1"))) EXPECT_FALSE(exists(f)) << f;
  EXPECT_TRUE(exists(p.cell_log("c2")));
}

}  // namespace
}  // namespace brig::state
