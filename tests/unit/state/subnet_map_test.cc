// subnet-map.json: round trip, every validation error, load/store on disk,
// and the cell-name rule agreeing with spec's.
#include "brig/state/subnet_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "brig/spec/validate.h"
#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::slurp;
using testing::spit;
using testing::TempDir;

const std::string kSrc = "/h/state/system/subnet-map.json";

std::string parse_error(const std::string& text) {
  auto m = parse_subnet_map(text, kSrc);
  EXPECT_FALSE(m.ok()) << text;
  if (m) return "";
  EXPECT_EQ(m.error().code(), Errc::invalid);
  return m.error().message();
}

TEST(SubnetMap, RoundTrip) {
  const SubnetMap m = {{"10.60.1.0/24", "a"}, {"10.60.2.0/24", "cell-2"}, {"127.0.0.2/32", "c1"}, {"fd00::/64", "v6"}};
  auto text = serialize_subnet_map(m);
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(*text,
            "{\n  \"10.60.1.0/24\": \"a\",\n  \"10.60.2.0/24\": \"cell-2\",\n  \"127.0.0.2/32\": \"c1\",\n"
            "  \"fd00::/64\": \"v6\"\n}\n");
  auto back = parse_subnet_map(*text, kSrc);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, m);
}

TEST(SubnetMap, EmptyObjectIsEmptyMap) {
  auto m = parse_subnet_map("{}\n", kSrc);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
  EXPECT_EQ(*serialize_subnet_map({}), "{}\n");
}

TEST(SubnetMap, NotJson) {
  EXPECT_THAT(parse_error("not json"), ::testing::StartsWith(kSrc + " is not a JSON object of strings: [json.exception.parse_error"));
}

TEST(SubnetMap, NotAnObject) {
  EXPECT_EQ(parse_error("[\"10.60.1.0/24\"]"), kSrc + " is not a JSON object of strings: the top level is array");
}

TEST(SubnetMap, ValueNotAString) {
  EXPECT_EQ(parse_error("{\"10.60.1.0/24\": 5}"),
            kSrc + " is not a JSON object of strings: the value of \"10.60.1.0/24\" is number");
}

TEST(SubnetMap, KeyNotACidr) {
  for (const char* bad : {"10.60.1.0", "10.60.1.0/33", "10.60.1.0/", "10.60.1/24", "10.60.1.0/2x", "fd00::/129",
                          "x/24", "10.60.1.0/-1", "10.60.1.0/0024"}) {
    EXPECT_EQ(parse_error(std::string("{\"") + bad + "\": \"a\"}"),
              kSrc + ": \"" + bad + "\" is not a CIDR block like 10.60.3.0/24")
        << bad;
  }
}

TEST(SubnetMap, ValueNotACellName) {
  for (const char* bad : {"", "../etc", "a/b", "A", "-a", "a_b", "a.b"}) {
    EXPECT_EQ(parse_error(std::string("{\"10.60.1.0/24\": \"") + bad + "\"}"),
              kSrc + ": subnet 10.60.1.0/24 names \"" + bad +
                  "\", which is not a cell name (1-63 lowercase letters, digits and '-', starting with a letter or digit)")
        << bad;
  }
  EXPECT_FALSE(parse_subnet_map("{\"10.60.1.0/24\": \"" + std::string(64, 'a') + "\"}", kSrc).ok());
  EXPECT_TRUE(parse_subnet_map("{\"10.60.1.0/24\": \"" + std::string(63, 'a') + "\"}", kSrc).ok());
}

TEST(SubnetMap, SerializeRefusesWhatParseWouldRefuse) {
  auto bad_cidr = serialize_subnet_map({{"10.60.1.0", "a"}});
  ASSERT_FALSE(bad_cidr.ok());
  EXPECT_EQ(bad_cidr.error().message(), "subnet map: \"10.60.1.0\" is not a CIDR block like 10.60.3.0/24");
  auto bad_cell = serialize_subnet_map({{"10.60.1.0/24", "../x"}});
  ASSERT_FALSE(bad_cell.ok());
  EXPECT_EQ(bad_cell.error().code(), Errc::invalid);
}

// The lexical rule is spec's: every name spec accepts is accepted here, and
// every name refused here is refused by spec (spec also reserves a few names).
TEST(SubnetMap, CellNameRuleMatchesSpec) {
  for (const std::string& n : std::vector<std::string>{"a", "c1", "web-2", "0abc", "a-", std::string(63, 'z'),
                                                       std::string(64, 'z'), "", "-a", "A", "a_b", "a.b", "a/b", "..",
                                                       "system", "warden", "ext", "é"}) {
    EXPECT_EQ(valid_cell_name(n), spec::valid_cell_name(n) || spec::reserved_cell_name(n)) << n;
  }
}

class SubnetMapFile : public ::testing::Test {
 protected:
  TempDir home;
  Paths paths{home.path()};
};

TEST_F(SubnetMapFile, AbsentIsEmpty) {
  auto m = load_subnet_map(paths);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
}

TEST_F(SubnetMapFile, StoreThenLoad) {
  ASSERT_TRUE(store_subnet_map(paths, {{"10.60.3.0/24", "c3"}}).ok());
  EXPECT_EQ(slurp(paths.subnet_map()), "{\n  \"10.60.3.0/24\": \"c3\"\n}\n");
  auto m = load_subnet_map(paths);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, (SubnetMap{{"10.60.3.0/24", "c3"}}));
}

TEST_F(SubnetMapFile, DamagedHasTheFix) {
  spit(paths.subnet_map(), "{\"10.60.1.0/24\": \"../../x\"}");
  auto m = load_subnet_map(paths);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), Errc::invalid);
  EXPECT_THAT(m.error().message(), ::testing::StartsWith(paths.subnet_map() + ": subnet 10.60.1.0/24 names \"../../x\""));
  EXPECT_EQ(m.error().fix(), "brig system prune --subnets rewrites it from the cells that exist");
}

TEST_F(SubnetMapFile, StoreRefusesABadMapAndKeepsTheFile) {
  ASSERT_TRUE(store_subnet_map(paths, {{"10.60.3.0/24", "c3"}}).ok());
  EXPECT_FALSE(store_subnet_map(paths, {{"10.60.4.0/24", "a/b"}}).ok());
  EXPECT_EQ(slurp(paths.subnet_map()), "{\n  \"10.60.3.0/24\": \"c3\"\n}\n");
}

TEST_F(SubnetMapFile, TooLargeIsRefused) {
  spit(paths.subnet_map(), std::string(kMaxSubnetMapBytes + 1, ' '));
  auto m = load_subnet_map(paths);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), Errc::invalid);
  EXPECT_THAT(m.error().message(), ::testing::HasSubstr("the limit is 1048576"));
}

}  // namespace
}  // namespace brig::state
