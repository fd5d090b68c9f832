#include "brig/policy/path.h"

#include <gtest/gtest.h>

#include <string>

namespace brig::policy {
namespace {

// The normalised path, or "ERR" when it does not normalise.
std::string norm(std::string_view raw) {
  std::string out;
  return normalize_path(raw, out) ? out : std::string("ERR");
}

TEST(NormalizePathTest, KeepsPlainPaths) {
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("/v1/models"), "/v1/models");
  EXPECT_EQ(norm("/v1/"), "/v1/");  // a trailing slash stays distinct
}

TEST(NormalizePathTest, DropsQueryAndFragment) {
  EXPECT_EQ(norm("/v1/models?limit=10"), "/v1/models");
  EXPECT_EQ(norm("/v1/models#top"), "/v1/models");
  EXPECT_EQ(norm("/v1/a?x=/../admin"), "/v1/a");
  EXPECT_EQ(norm("/?q"), "/");
}

TEST(NormalizePathTest, ResolvesDotSegments) {
  EXPECT_EQ(norm("/v1/./models"), "/v1/models");
  EXPECT_EQ(norm("/v1/../admin"), "/admin");
  EXPECT_EQ(norm("/v1/a/b/../../c"), "/v1/c");
  EXPECT_EQ(norm("/../../etc/passwd"), "/etc/passwd");  // never above "/"
  EXPECT_EQ(norm("/v1/.."), "/");
  EXPECT_EQ(norm("/v1/a/.."), "/v1/");
  EXPECT_EQ(norm("/v1/."), "/v1/");
  EXPECT_EQ(norm("/v1/..."), "/v1/...");  // not a dot segment
}

TEST(NormalizePathTest, DecodesEncodedDotSegments) {
  EXPECT_EQ(norm("/v1/%2e%2e/admin"), "/admin");
  EXPECT_EQ(norm("/v1/%2E%2E/admin"), "/admin");
  EXPECT_EQ(norm("/v1/.%2e/admin"), "/admin");
  EXPECT_EQ(norm("/v1/%2e/admin"), "/v1/admin");
}

TEST(NormalizePathTest, DecodesOnlyUnreservedEscapes) {
  EXPECT_EQ(norm("/%41%7a%30%2d%5f%7e"), "/Az0-_~");
  EXPECT_EQ(norm("/a%20b"), "/a%20b");
  EXPECT_EQ(norm("/a%3fb"), "/a%3Fb");  // an encoded '?' is not a query
  EXPECT_EQ(norm("/a%00b"), "/a%00b");
}

TEST(NormalizePathTest, KeepsEncodedSlashEncoded) {
  EXPECT_EQ(norm("/v1%2F..%2Fadmin"), "/v1%2F..%2Fadmin");
  EXPECT_EQ(norm("/v1%2f..%2fadmin"), "/v1%2F..%2Fadmin");  // uppercase hex
  EXPECT_EQ(norm("/v1/a%2F..%2F..%2Fadmin"), "/v1/a%2F..%2F..%2Fadmin");
}

TEST(NormalizePathTest, MergesRepeatedSlashes) {
  EXPECT_EQ(norm("//v1///models"), "/v1/models");
  EXPECT_EQ(norm("/v1//../admin"), "/admin");
  EXPECT_EQ(norm("/v1/models//"), "/v1/models/");
}

TEST(NormalizePathTest, RefusesBadInput) {
  for (std::string_view raw : {"", "v1/models", "?q", "*", "/a%", "/a%4", "/a%zz", "/a%4g", "/a b", "/a\tb", "/a\x7f",
                               "http://x/y"}) {
    EXPECT_EQ(norm(raw), "ERR") << raw;
  }
  EXPECT_EQ(norm(std::string_view("/a\0b", 4)), "ERR");
}

TEST(NormalizePathTest, ReusesTheOutputBuffer) {
  std::string out = "/left/over/from/before";
  ASSERT_TRUE(normalize_path("/x", out));
  EXPECT_EQ(out, "/x");
}

// The most-decoded form of a path: what an upstream that decodes everything,
// maybe twice, and reads '\\' as '/' would serve.
std::string decoded(std::string_view raw) {
  std::string n, out;
  return normalize_path(raw, n) && decode_path(n, out) ? out : std::string("ERR");
}

TEST(DecodePathTest, PlainPathsAreUnchanged) {
  EXPECT_EQ(decoded("/"), "/");
  EXPECT_EQ(decoded("/v1/models"), "/v1/models");
  EXPECT_EQ(decoded("/v1/"), "/v1/");
}

TEST(DecodePathTest, EncodedSeparatorsAndDotSegmentsAreResolved) {
  EXPECT_EQ(decoded("/v1/..%2fadmin"), "/admin");
  EXPECT_EQ(decoded("/v1/..%2Fadmin"), "/admin");
  EXPECT_EQ(decoded("/v1%2f..%2fadmin"), "/admin");
  EXPECT_EQ(decoded("/v1/..%5cadmin"), "/admin");
  EXPECT_EQ(decoded("/v1/..\\admin"), "/admin");
  EXPECT_EQ(decoded("/v1/%2e%2e%2fadmin"), "/admin");
  EXPECT_EQ(decoded("/v1/%2e./admin"), "/admin");
  EXPECT_EQ(decoded("/v1/a%2Fb"), "/v1/a/b");
  EXPECT_EQ(decoded("/v1/a%2F"), "/v1/a/");
}

TEST(DecodePathTest, DoubleEncodingIsUndoneToo) {
  EXPECT_EQ(decoded("/v1/%252e%252e/admin"), "/admin");
  EXPECT_EQ(decoded("/v1/..%252fadmin"), "/admin");
  EXPECT_EQ(decoded("/v1/%25252e%25252e/admin"), "/admin");  // three rounds
  EXPECT_EQ(decoded("/v1/100%25"), "/v1/100%");
  EXPECT_EQ(decoded("/v1/%25zz"), "/v1/%zz");  // not an escape once decoded: kept
}

TEST(DecodePathTest, TooDeeplyEncodedIsRefused) {
  EXPECT_EQ(decoded("/v1/%2525252e"), "ERR");  // four rounds
  std::string out;
  EXPECT_FALSE(decode_path("v1/x", out));
  EXPECT_FALSE(decode_path("", out));
  EXPECT_FALSE(decode_path("/%2e%2e%5c", out) && out != "/");  // never above "/"
}

TEST(GlobMatchTest, LiteralPatternsMatchExactly) {
  EXPECT_TRUE(glob_match("/v1/models", "/v1/models"));
  EXPECT_FALSE(glob_match("/v1/models", "/v1/models/x"));
  EXPECT_FALSE(glob_match("/v1/models", "/v1/model"));
  EXPECT_FALSE(glob_match("/v1/Models", "/v1/models"));  // paths are case-sensitive
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "/"));
}

TEST(GlobMatchTest, StarMatchesAnyRunIncludingSlash) {
  EXPECT_TRUE(glob_match("/v1/*", "/v1/"));
  EXPECT_TRUE(glob_match("/v1/*", "/v1/models"));
  EXPECT_TRUE(glob_match("/v1/*", "/v1/a/b/c"));
  EXPECT_FALSE(glob_match("/v1/*", "/v1"));
  EXPECT_FALSE(glob_match("/v1/*", "/v2/models"));
  EXPECT_FALSE(glob_match("/v1/*", "/admin"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "/anything"));
}

TEST(GlobMatchTest, StarsInTheMiddleBacktrack) {
  EXPECT_TRUE(glob_match("/repos/*/issues", "/repos/a/b/issues"));
  EXPECT_FALSE(glob_match("/repos/*/issues", "/repos/a/issues/1"));
  EXPECT_TRUE(glob_match("/a*b*c", "/aXbYbZc"));
  EXPECT_FALSE(glob_match("/a*b*c", "/aXbYbZ"));
  EXPECT_TRUE(glob_match("/**", "/x"));
  EXPECT_TRUE(glob_match("*.json", "/a/b.json"));
  EXPECT_FALSE(glob_match("*.json", "/a/b.json5"));
}

TEST(GlobMatchTest, PrefixGlobDoesNotEscapeAfterNormalisation) {
  for (std::string_view raw : {"/v1/../admin", "/v1/%2e%2e/admin", "/v1//../admin", "/v1/./../admin",
                               "/v1/%2E%2e/%2e%2e/admin", "/v1%2F..%2Fadmin"}) {
    EXPECT_FALSE(glob_match("/v1/*", norm(raw))) << raw << " -> " << norm(raw);
  }
}

}  // namespace
}  // namespace brig::policy
