// PolicyStore reads the subnet map and cell policies through their owner
// (brig/state): what the engine may write is what warden accepts, and a map
// its writer would refuse keeps the last good version.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "brig/core/fs.h"
#include "warden/metrics.h"
#include "warden/policy_store.h"
#include "warden/policy_store.h"  // the old name still builds (proxy.cc includes it through server.h)

namespace brig::warden {
namespace {

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/brig-policy-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  void write(const std::string& path, const std::string& text) {
    ASSERT_TRUE(fs::make_dirs(std::filesystem::path(path).parent_path().string()).ok());
    ASSERT_TRUE(fs::write_atomic(path, text).ok());
  }
  std::string home_;
};

TEST_F(PolicyStoreTest, SubnetMapThroughItsOwner) {
  Paths paths(home_);
  Metrics metrics;
  write(paths.subnet_map(), "{\"10.60.1.0/24\": \"c1\"}\n");
  write(paths.cell_policy("c1"), "{\"allow\": [\"a.test\"]}\n");
  PolicyStore store(paths, metrics);
  ASSERT_TRUE(store.reload());
  auto snap = store.current();
  ASSERT_EQ(snap->subnets.size(), 1u);
  EXPECT_EQ(snap->subnets[0].second->name, "c1");
  EXPECT_EQ(snap->subnets[0].second->policy->allow_count(), 1u);
  EXPECT_EQ(metrics.reloads_error.load(), 0u);

  // A cell name that is a path: refused, the previous map stays.
  write(paths.subnet_map(), "{\"10.60.1.0/24\": \"c1\", \"10.60.2.0/24\": \"../x\"}\n");
  ASSERT_TRUE(store.reload());
  EXPECT_EQ(metrics.reloads_error.load(), 1u);
  ASSERT_EQ(store.current()->subnets.size(), 1u);
  EXPECT_EQ(store.current()->subnets[0].second->name, "c1");

  // No map: no cells.
  std::filesystem::remove(paths.subnet_map());
  ASSERT_TRUE(store.reload());
  EXPECT_TRUE(store.current()->subnets.empty());
}

// The store reads the files and hands them to build_snapshot: an unchanged
// set is not rebuilt, an edited cell file is, and the cell keeps its bucket.
TEST_F(PolicyStoreTest, RebuildsOnlyWhenAFileChanges) {
  Paths paths(home_);
  Metrics metrics;
  write(paths.subnet_map(), "{\"10.60.1.0/24\": \"c1\"}\n");
  write(paths.global_policy(), "{\"allow\": [\"g.test\"]}\n");
  write(paths.cell_policy("c1"), "{\"allow\": [\"a.test\"]}\n");
  PolicyStore store(paths, metrics);
  ASSERT_TRUE(store.reload());
  EXPECT_FALSE(store.reload());
  const auto first = store.current();
  EXPECT_EQ(first->generation, 1u);
  EXPECT_EQ(first->cell_named("c1")->policy->allow_count(), 2u);

  write(paths.cell_policy("c1"), "{\"allow\": [\"a.test\", \"b.test\"]}\n");
  ASSERT_TRUE(store.reload());
  const auto second = store.current();
  EXPECT_EQ(second->generation, 2u);
  EXPECT_EQ(second->cell_named("c1")->policy->allow_count(), 3u);
  EXPECT_EQ(second->cell_named("c1")->bucket, first->cell_named("c1")->bucket);
  EXPECT_EQ(metrics.reloads_ok.load(), 2u);
  EXPECT_EQ(metrics.reloads_error.load(), 0u);
}

}  // namespace
}  // namespace brig::warden
