#include "brig/core/strings.h"

#include <gtest/gtest.h>

#include "brig/core/error.h"

namespace brig {
namespace {

TEST(StringsTest, EditDistanceCountsTranspositionsOnce) {
  EXPECT_EQ(str::edit_distance("cell", "cell"), 0u);
  EXPECT_EQ(str::edit_distance("clel", "cell"), 1u);
  EXPECT_EQ(str::edit_distance("memroy", "memory"), 1u);
  EXPECT_EQ(str::edit_distance("", "abc"), 3u);
  EXPECT_EQ(str::edit_distance("kitten", "sitting"), 3u);
}

TEST(StringsTest, ClosestOnlySuggestsLikelyTypos) {
  std::vector<std::string> verbs = {"list", "inspect", "logs", "stats"};
  EXPECT_EQ(str::closest("lst", verbs), "list");
  EXPECT_EQ(str::closest("stat", verbs), "stats");
  EXPECT_EQ(str::closest("xyzzy", verbs), std::nullopt);
}

TEST(StringsTest, SplitJoinTrimLower) {
  EXPECT_EQ(str::split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(str::join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(str::trim("  x \n"), "x");
  EXPECT_EQ(str::to_lower("ExAmPle.COM"), "example.com");
  EXPECT_TRUE(str::iequals("API.x.com", "api.X.COM"));
  EXPECT_FALSE(str::iequals("api", "apx"));
}

TEST(StringsTest, QuoteEscapesControlCharacters) {
  EXPECT_EQ(str::quote("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(str::quote("a\nb"), "\"a\\x0ab\"");
}

TEST(ErrorTest, ExitCodesAndContext) {
  EXPECT_EQ(Error(Errc::usage, "x").exit_code(), 2);
  EXPECT_EQ(Error(Errc::invalid, "x").exit_code(), 2);
  EXPECT_EQ(Error(Errc::io, "x").exit_code(), 1);
  auto e = Error(Errc::not_found, "no file", "create it").context("reading policy");
  EXPECT_EQ(e.message(), "reading policy: no file");
  EXPECT_EQ(e.fix(), "create it");
  Result<int> r = Error(Errc::io, "boom");
  EXPECT_FALSE(r.ok());
  Result<int> v = 3;
  EXPECT_EQ(*v, 3);
}

}  // namespace
}  // namespace brig
