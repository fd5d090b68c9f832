// What the macOS thin client reads of a `brig run` before forwarding it
// (cli::scan_run_args): the --file and name its host-socket bridges need,
// and whether the run is detached, --rm or a dry run.
#include <gtest/gtest.h>

#include "cli/context.h"

namespace brig::cli {
namespace {

TEST(ScanRunArgs, ReadsRunsOwnFlagTable) {
  auto r = scan_run_args({"-q", "run", "--name", "agent", "-f", "c.yaml", "-d", "--rm", "img", "--", "x", "--name"});
  EXPECT_EQ(r.name, "agent");
  EXPECT_EQ(r.file, "c.yaml");
  EXPECT_TRUE(r.detach);
  EXPECT_TRUE(r.rm);
  EXPECT_FALSE(r.dry_run);
  r = scan_run_args({"run", "--file=c.yaml", "--name=a", "--dry-run", "-m", "2g", "img", "cmd", "-d"});
  EXPECT_EQ(r.file, "c.yaml");
  EXPECT_EQ(r.name, "a");
  EXPECT_TRUE(r.dry_run);
  EXPECT_FALSE(r.detach);  // the command's -d, not brig's
  EXPECT_TRUE(scan_run_args({"run", "-dit", "img"}).detach);
  EXPECT_FALSE(scan_run_args({"run", "-it", "img"}).detach);
  EXPECT_EQ(scan_run_args({"run", "img"}).file, std::nullopt);
}

}  // namespace
}  // namespace brig::cli
