// The cell pool: lowest free /24, release, the JSON map warden reads, locking.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "brig/engine/subnets.h"
#include "unit/engine/engine_test_util.h"

namespace brig::engine {
namespace {

using testing::slurp;
using testing::spit;
using testing::TempDir;

class Subnets : public ::testing::Test {
 protected:
  TempDir home;
  Paths paths{home.path()};

  int allocate(const std::string& cell) {
    auto s = allocate_subnet(paths, cell);
    EXPECT_TRUE(s.ok()) << cell << ": " << (s ? "" : s.error().message());
    return s ? s->index : -1;
  }
  nlohmann::json file() { return nlohmann::json::parse(slurp(paths.subnet_map())); }
};

TEST_F(Subnets, AllocatesLowestFree) {
  EXPECT_EQ(allocate("a"), 1);
  auto b = allocate_subnet(paths, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->cidr(), "10.60.2.0/24");
  EXPECT_EQ(file(), (nlohmann::json{{"10.60.1.0/24", "a"}, {"10.60.2.0/24", "b"}}));
}

TEST_F(Subnets, EmptyHomeHasEmptyMap) {
  auto m = read_subnet_map(paths);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
}

TEST_F(Subnets, ReleaseFreesAndLowestIsReused) {
  allocate("a");
  allocate("b");
  allocate("c");
  ASSERT_TRUE(release_subnet(paths, "b").ok());
  EXPECT_EQ(file(), (nlohmann::json{{"10.60.1.0/24", "a"}, {"10.60.3.0/24", "c"}}));
  EXPECT_EQ(allocate("d"), 2);
  EXPECT_EQ(allocate("e"), 4);
  auto m = read_subnet_map(paths);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, (SubnetMap{{"10.60.1.0/24", "a"}, {"10.60.2.0/24", "d"}, {"10.60.3.0/24", "c"}, {"10.60.4.0/24", "e"}}));
}

TEST_F(Subnets, ReleaseOfUnknownCellIsFine) {
  allocate("a");
  EXPECT_TRUE(release_subnet(paths, "nobody").ok());
  EXPECT_EQ(file(), (nlohmann::json{{"10.60.1.0/24", "a"}}));
}

TEST_F(Subnets, SecondAllocationForACellIsRefused) {
  allocate("a");
  auto again = allocate_subnet(paths, "a");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Errc::exists);
  EXPECT_EQ(again.error().message(), "cell a already holds subnet 10.60.1.0/24");
  EXPECT_EQ(file(), (nlohmann::json{{"10.60.1.0/24", "a"}}));
}

TEST_F(Subnets, DamagedMapIsInvalidWithFix) {
  spit(paths.subnet_map(), "{\"10.60.1.0/24\": 5}");
  auto s = allocate_subnet(paths, "a");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Errc::invalid);
  EXPECT_THAT(s.error().message(), ::testing::StartsWith(paths.subnet_map() + " is not a JSON object of strings: "));
  EXPECT_EQ(s.error().fix(), "brig system prune --subnets rewrites it from the cells that exist");
  // Nothing was overwritten.
  EXPECT_EQ(slurp(paths.subnet_map()), "{\"10.60.1.0/24\": 5}");

  spit(paths.subnet_map(), "not json");
  auto m = read_subnet_map(paths);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), Errc::invalid);
  EXPECT_EQ(release_subnet(paths, "a").error().code(), Errc::invalid);
}

TEST_F(Subnets, ConcurrentAllocationsGetDistinctSubnets) {
  constexpr int kThreads = 8;
  std::vector<int> got(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i, &got] {
      auto s = allocate_subnet(paths, "cell" + std::to_string(i));
      if (s) got[static_cast<std::size_t>(i)] = s->index;
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct, (std::set<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  auto m = read_subnet_map(paths);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), static_cast<std::size_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) {
    const std::string cidr = Subnet{got[static_cast<std::size_t>(i)]}.cidr();
    EXPECT_EQ(m->count(cidr) ? m->at(cidr) : "", "cell" + std::to_string(i));
  }
}

TEST_F(Subnets, PoolIsFullAfter254) {
  SubnetMap full;
  for (int i = 1; i <= 254; ++i) full[Subnet{i}.cidr()] = "c" + std::to_string(i);
  spit(paths.subnet_map(), nlohmann::json(full).dump());
  auto s = allocate_subnet(paths, "one-more");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Errc::failed);
  EXPECT_EQ(s.error().message(), "the cell pool 10.60.0.0/16 is full (254 cells)");
  EXPECT_EQ(s.error().fix(), "remove cells you no longer need: brig system prune --cells");
  ASSERT_TRUE(release_subnet(paths, "c17").ok());
  EXPECT_EQ(allocate("one-more"), 17);
}

TEST_F(Subnets, AllocatingThroughThePoolEndsAt254) {
  for (int i = 1; i <= 254; ++i) ASSERT_EQ(allocate("c" + std::to_string(i)), i);
  auto s = allocate_subnet(paths, "c255");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Errc::failed);
}

TEST_F(Subnets, WithStateLockRunsFnAndReturnsItsStatus) {
  bool ran = false;
  auto st = with_state_lock(paths, [&]() -> Status {
    ran = true;
    return Error(Errc::io, "inner");
  });
  EXPECT_TRUE(ran);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "inner");
  EXPECT_TRUE(testing::exists(paths.system_state() + "/lock"));
}

// Spare networks: a reserved one is never handed out until made; one freed
// is handed out only after kSpareQuietMs, the longest-free first; a spare's
// subnet is in no cell's entry and never allocated.
constexpr int kKeep = 4;  // the spare_networks setting

TEST_F(Subnets, SparesAreHandedOutWhenQuietAndNeverAllocated) {
  allocate("a");
  auto r = reserve_spare(paths);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->index, 2);
  EXPECT_EQ(allocate("b"), 3);  // the reserved subnet is skipped
  auto none = take_spare(paths, "c", 1'000'000);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // being made
  ASSERT_TRUE(ready_spare(paths, "brig_net_2", 1'000'000).ok());
  none = take_spare(paths, "c", 1'000'000 + kSpareQuietMs - 1);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // not quiet for long enough
  auto got = take_spare(paths, "c", 1'000'000 + kSpareQuietMs);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->network, "brig_net_2");
  EXPECT_EQ(file()["10.60.2.0/24"], "c");
  auto left = list_spares(paths);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(Subnets, KeptAsSpareLeavesTheMapAndIsCapped) {
  for (int i = 1; i <= kKeep + 1; ++i) allocate("c" + std::to_string(i));
  for (int i = 1; i <= kKeep; ++i) {
    auto kept = keep_as_spare(paths, "c" + std::to_string(i), "brig_net_" + std::to_string(i), 5000 + i, kKeep);
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(*kept, NetworkRelease::kept) << i;
  }
  EXPECT_EQ(file(), (nlohmann::json{{"10.60." + std::to_string(kKeep + 1) + ".0/24", "c" + std::to_string(kKeep + 1)}}));
  // Full: nothing changes, the caller removes the network.
  const std::string last = std::to_string(kKeep + 1);
  auto kept = keep_as_spare(paths, "c" + last, "brig_net_" + last, 9000, kKeep);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, NetworkRelease::remove);
  EXPECT_EQ(file().size(), 1u);
  // The longest-free spare goes first.
  auto got = take_spare(paths, "d", 100'000);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->network, "brig_net_1");
  auto dropped = drop_spare(paths, "brig_net_2");
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE(*dropped);
  dropped = drop_spare(paths, "brig_net_2");
  ASSERT_TRUE(dropped.ok());
  EXPECT_FALSE(*dropped);  // taken or dropped since: not listed
  auto left = list_spares(paths);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), static_cast<std::size_t>(kKeep - 2));
}

TEST_F(Subnets, NoSpareIsKeptWithSpareNetworksZero) {
  allocate("a");
  auto kept = keep_as_spare(paths, "a", "brig_net_1", 1, 0);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, NetworkRelease::remove);
  EXPECT_EQ(file().size(), 1u);
}

// A cell's old-named network is its own (removed); the network of a subnet
// the map does not give the cell (another's, a spare's, or its subnet gone
// after a half-done rm) is left alone.
TEST_F(Subnets, OnlyTheSubnetsOwnNetworkIsKeptOrRemoved) {
  allocate("a");
  allocate("b");
  auto own = keep_as_spare(paths, "a", "brig-a", 1, kKeep);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(*own, NetworkRelease::remove);
  auto other = keep_as_spare(paths, "a", "brig_net_2", 1, kKeep);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, NetworkRelease::leave);
  auto gone = keep_as_spare(paths, "c", "brig_net_1", 1, kKeep);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, NetworkRelease::leave);
  EXPECT_EQ(file().size(), 2u);
  auto held = held_subnet(paths, "b");
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_EQ((*held)->index, 2);
}

TEST_F(Subnets, DamagedSparesFileIsRefusedWithAFix) {
  spit(paths.system_state() + "/spare-networks.json", R"({"brig_net_3": {"subnet": 4, "since_ms": 1}})");
  auto s = allocate_subnet(paths, "a");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), Errc::invalid);
  EXPECT_THAT(s.error().fix(), ::testing::HasSubstr("brig system prune"));
  EXPECT_FALSE(testing::exists(paths.subnet_map()));  // nothing taken
}

}  // namespace
}  // namespace brig::engine
