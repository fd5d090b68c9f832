// host-services.json: round trip, validation, the host name's label, and the
// locked edits (put, running, remove, a refused edit) on disk.
#include "brig/state/host_services.h"

#include <gtest/gtest.h>

#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::exists;
using testing::slurp;
using testing::spit;
using testing::TempDir;

HostServiceCell cell(std::vector<HostServiceEntry> services, bool running = true) {
  return HostServiceCell{"10.60.3.10", running, std::move(services)};
}

std::string parse_error(const std::string& text) {
  auto t = parse_host_services(text, "hs.json");
  EXPECT_FALSE(t.ok()) << text;
  return t ? "" : t.error().message();
}

TEST(HostServices, RoundTrip) {
  const HostServiceTable t = {{"agent", cell({{"db", 5432, "tcp"}, {"llm", 4000, "http"}})}, {"b", cell({}, false)}};
  auto text = serialize_host_services(t);
  ASSERT_TRUE(text.ok()) << text.error().message();
  auto back = parse_host_services(*text, "hs.json");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, t);
  ASSERT_NE(back->at("agent").find("db"), nullptr);
  EXPECT_EQ(back->at("agent").find("db")->port, 5432);
  EXPECT_EQ(back->at("agent").find("nope"), nullptr);
}

TEST(HostServices, RefusesBadEntries) {
  EXPECT_EQ(parse_error("[]"), "hs.json: the top level is array, not an object");
  auto entry = [](const std::string& services, const std::string& address = "10.60.3.10") {
    return R"({"a": {"address": ")" + address + R"(", "running": true, "services": [)" + services + "]}}";
  };
  EXPECT_NE(parse_error(entry(R"({"name": "db", "port": 5432, "protocol": "tcp"})", "::1")).find("not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(parse_error(entry(R"({"name": "DB", "port": 5432, "protocol": "tcp"})")).find("not a 1-31 character label"),
            std::string::npos);
  EXPECT_NE(parse_error(entry(R"({"name": "-db", "port": 5432, "protocol": "tcp"})")).find("label"), std::string::npos);
  EXPECT_NE(parse_error(entry(R"({"name": "db", "port": 0, "protocol": "tcp"})")).find("not 1-65535"), std::string::npos);
  EXPECT_NE(parse_error(entry(R"({"name": "db", "port": 1, "protocol": "udp"})")).find("not http or tcp"), std::string::npos);
  EXPECT_NE(parse_error(entry(R"({"name": "db", "port": 1, "protocol": "tcp"}, {"name": "db", "port": 2, "protocol": "http"})"))
                .find("appears twice"),
            std::string::npos);
  EXPECT_NE(parse_error(entry(R"({"name": "db", "port": "x", "protocol": "tcp"})")).find("cell \"a\""), std::string::npos);
  EXPECT_NE(parse_error(R"({"Bad": {"address": "10.60.3.10", "running": true, "services": []}})").find("not a cell name"),
            std::string::npos);
  std::string many;
  for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::string(R"({"name": "s)") + std::to_string(i) + R"(", "port": 1, "protocol": "tcp"})";
  EXPECT_NE(parse_error(entry(many)).find("more than 16"), std::string::npos);
}

TEST(HostServices, LabelOfHost) {
  EXPECT_EQ(host_service_label("db.host.brig"), "db");
  EXPECT_EQ(host_service_label("my-llm.host.brig"), "my-llm");
  EXPECT_EQ(host_service_label("host.brig"), "");
  EXPECT_EQ(host_service_label(".host.brig"), "");
  EXPECT_EQ(host_service_label("a.b.host.brig"), "");  // one label only
  EXPECT_EQ(host_service_label("db.host.brig.evil.com"), "");
  EXPECT_EQ(host_service_label("dbhost.brig"), "");
}

TEST(HostServices, LockedEditsOnDisk) {
  TempDir home;
  const Paths paths(home.path());
  auto t = load_host_services(paths);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->empty());  // absent: empty
  ASSERT_TRUE(put_host_service_cell(paths, "a", cell({{"db", 5432, "tcp"}})).ok());
  ASSERT_TRUE(put_host_service_cell(paths, "b", cell({{"llm", 4000, "http"}})).ok());
  ASSERT_TRUE(set_host_service_cell_running(paths, "a", false).ok());
  ASSERT_TRUE(set_host_service_cell_running(paths, "zzz", false).ok());  // no entry: nothing to do
  t = load_host_services(paths);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->at("a").running);
  EXPECT_TRUE(t->at("b").running);

  // A refused edit leaves the file as it was.
  const std::string before = slurp(host_services_path(paths));
  auto st = edit_host_services(paths, [](HostServiceTable& tt) -> Result<bool> {
    tt.clear();
    return Error(Errc::invalid, "no");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(slurp(host_services_path(paths)), before);

  // What follows from the table failing puts the file back.
  auto unpublished = edit_host_services(
      paths, [](HostServiceTable& tt) -> Result<bool> { return tt.erase("a") > 0; },
      [](const HostServiceTable& tt) -> Status {
        EXPECT_EQ(tt.count("a"), 0u);  // it saw the new table
        return Error(Errc::failed, "nft failed");
      });
  EXPECT_FALSE(unpublished.ok());
  EXPECT_EQ(slurp(host_services_path(paths)), before);

  ASSERT_TRUE(remove_host_service_cell(paths, "a").ok());
  ASSERT_TRUE(remove_host_service_cell(paths, "b").ok());
  EXPECT_FALSE(exists(host_services_path(paths)));  // an empty table leaves no file

  spit(host_services_path(paths), "{");
  EXPECT_FALSE(put_host_service_cell(paths, "a", cell({})).ok());  // refuses to overwrite what it cannot read
}

}  // namespace
}  // namespace brig::state
