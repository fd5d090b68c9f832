// ingress-routes.json: round trip, validation, route matching on segment
// boundaries, and the locked edits (put, stop, remove) on disk.
#include "brig/state/ingress_routes.h"

#include <gtest/gtest.h>

#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::exists;
using testing::spit;
using testing::TempDir;

const std::string kDigest(64, 'a');

IngressCell cell(std::vector<IngressRoute> routes, bool running = true) {
  return IngressCell{"10.60.3.10", running, kDigest, std::move(routes)};
}

std::string parse_error(const std::string& text) {
  auto t = parse_ingress_routes(text, "routes.json");
  EXPECT_FALSE(t.ok()) << text;
  return t ? "" : t.error().message();
}

TEST(IngressRoutes, RoundTrip) {
  const IngressTable t = {{"agent", cell({{"web", 8080, "/"}, {"api", 9000, "/api"}})},
                          {"b", cell({{"ui", 3000, "/ui/"}}, false)}};
  auto text = serialize_ingress_routes(t);
  ASSERT_TRUE(text.ok()) << text.error().message();
  auto back = parse_ingress_routes(*text, "routes.json");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, t);
  EXPECT_NE(text->find("\"token_sha256\": \"" + kDigest + "\""), std::string::npos);
}

TEST(IngressRoutes, RefusesBadEntries) {
  EXPECT_EQ(parse_error("[]"), "routes.json: the top level is array, not an object");
  EXPECT_NE(parse_error("{\"a\": {\"address\": \"10.0.0.1\"}}").find("routes.json: cell \"a\": "), std::string::npos);
  const std::string ok_routes = R"("routes": [{"name": "web", "port": 8080, "path_prefix": "/"}])";
  auto entry = [&](const std::string& name, const std::string& addr, const std::string& digest, const std::string& routes) {
    return "{\"" + name + "\": {\"address\": \"" + addr + "\", \"running\": true, \"token_sha256\": \"" + digest +
           "\", " + routes + "}}";
  };
  EXPECT_EQ(parse_error(entry("../x", "10.0.0.1", kDigest, ok_routes)), "routes.json: \"../x\" is not a cell name");
  EXPECT_EQ(parse_error(entry("a", "agent.localhost", kDigest, ok_routes)),
            "routes.json: cell a: address \"agent.localhost\" is not an IP address");
  EXPECT_EQ(parse_error(entry("a", "10.0.0.1", std::string(64, 'A'), ok_routes)),
            "routes.json: cell a: token_sha256 is not 64 lowercase hex digits");
  EXPECT_EQ(parse_error(entry("a", "10.0.0.1", kDigest, R"("routes": [])")), "routes.json: cell a: needs 1-16 routes");
  EXPECT_EQ(parse_error(entry("a", "10.0.0.1", kDigest, R"("routes": [{"name": "w", "port": 0, "path_prefix": "/"}])")),
            "routes.json: cell a: route w: port 0 is not 1-65535");
  EXPECT_EQ(parse_error(entry("a", "10.0.0.1", kDigest, R"("routes": [{"name": "w", "port": 80, "path_prefix": "x"}])")),
            "routes.json: cell a: route w: path_prefix \"x\" does not start with '/'");
  EXPECT_FALSE(serialize_ingress_routes({{"a", IngressCell{"10.0.0.1", true, "short", {{"w", 80, "/"}}}}}).ok());
}

TEST(IngressRoutes, LongestPrefixOnSegmentBoundaries) {
  const IngressCell c = cell({{"root", 1, "/"}, {"api", 2, "/api"}, {"v1", 3, "/api/v1/"}, {"ui", 4, "/ui"}});
  auto route = [&](std::string_view path) {
    const IngressRoute* r = match_ingress_route(c, path);
    return r ? r->name : std::string("none");
  };
  EXPECT_EQ(route("/"), "root");
  EXPECT_EQ(route("/api"), "api");
  EXPECT_EQ(route("/api/x"), "api");
  EXPECT_EQ(route("/api?q=1"), "api");
  EXPECT_EQ(route("/apix"), "root");
  EXPECT_EQ(route("/api/v1/items"), "v1");
  EXPECT_EQ(route("/api/v1"), "api");  // "/api/v1/" needs its slash
  EXPECT_EQ(route("/uix"), "root");
  const IngressCell only_api = cell({{"api", 2, "/api"}});
  EXPECT_EQ(match_ingress_route(only_api, "/"), nullptr);
  EXPECT_EQ(match_ingress_route(only_api, "/apiary"), nullptr);
}

TEST(IngressRoutes, EditsOnDisk) {
  TempDir home;
  const Paths paths(home.path());
  auto empty = load_ingress_routes(paths);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  ASSERT_TRUE(put_ingress_cell(paths, "a", cell({{"web", 8080, "/"}})).ok());
  ASSERT_TRUE(put_ingress_cell(paths, "b", cell({{"web", 8080, "/"}})).ok());
  ASSERT_TRUE(stop_ingress_cell(paths, "a").ok());
  ASSERT_TRUE(stop_ingress_cell(paths, "nobody").ok());
  auto t = load_ingress_routes(paths);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_FALSE(t->at("a").running);
  EXPECT_TRUE(t->at("b").running);

  ASSERT_TRUE(remove_ingress_cell(paths, "a").ok());
  ASSERT_TRUE(remove_ingress_cell(paths, "a").ok());
  t = load_ingress_routes(paths);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->count("a"), 0u);
  ASSERT_TRUE(remove_ingress_cell(paths, "b").ok());
  EXPECT_FALSE(exists(ingress_routes_path(paths)));  // an empty table leaves no file

  spit(ingress_routes_path(paths), "not json");
  EXPECT_FALSE(put_ingress_cell(paths, "a", cell({{"web", 8080, "/"}})).ok());  // refuses to overwrite what it cannot read
}

}  // namespace
}  // namespace brig::state
