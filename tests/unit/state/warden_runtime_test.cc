// warden.json: one schema for both writers, round trip, the files already on
// disk (engine's and `warden serve`'s), every validation error.
#include "brig/state/warden_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::slurp;
using testing::spit;
using testing::TempDir;

const std::string kSrc = "/h/run/warden.json";

std::string parse_error(const std::string& text) {
  auto r = parse_warden_runtime(text, kSrc);
  EXPECT_FALSE(r.ok()) << text;
  if (r) return "";
  EXPECT_EQ(r.error().code(), Errc::invalid);
  return r.error().message();
}

TEST(WardenRuntime, RoundTripInAContainer) {
  const WardenRuntime w{"10.89.0.2:3128", "127.0.0.1:9464", 4242, "brig-warden"};
  const std::string text = serialize_warden_runtime(w);
  // Byte for byte what `brig system up` wrote before this module existed.
  EXPECT_EQ(text, "{\"container\":\"brig-warden\",\"ops\":\"127.0.0.1:9464\",\"pid\":4242,\"proxy\":\"10.89.0.2:3128\"}\n");
  auto back = parse_warden_runtime(text, kSrc);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->proxy, w.proxy);
  EXPECT_EQ(back->ops, w.ops);
  EXPECT_EQ(back->pid, w.pid);
  EXPECT_EQ(back->container, w.container);
}

TEST(WardenRuntime, RoundTripOnTheHost) {
  const WardenRuntime w{"0.0.0.0:3128", "127.0.0.1:9464", 77, ""};
  // What `brig warden serve` wrote before: no "container" key.
  EXPECT_EQ(serialize_warden_runtime(w), "{\"ops\":\"127.0.0.1:9464\",\"pid\":77,\"proxy\":\"0.0.0.0:3128\"}\n");
  auto back = parse_warden_runtime(serialize_warden_runtime(w), kSrc);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->container, "");
  EXPECT_EQ(back->pid, 77);
}

TEST(WardenRuntime, UnknownKeysAreIgnored) {
  auto r = parse_warden_runtime(R"({"proxy":"a:1","ops":"b:2","pid":0,"later":true})", kSrc);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pid, 0);
}

TEST(WardenRuntime, EveryValidationError) {
  EXPECT_THAT(parse_error("{"), ::testing::StartsWith(kSrc + " is unreadable: [json.exception.parse_error"));
  EXPECT_EQ(parse_error("[]"), kSrc + " is unreadable: the top level is array, not an object");
  const std::string addr = "must be a non-empty string (ADDR:PORT)";
  EXPECT_EQ(parse_error(R"({"ops":"b:2","pid":1})"), kSrc + " is unreadable: \"proxy\" " + addr);
  EXPECT_EQ(parse_error(R"({"proxy":5,"ops":"b:2","pid":1})"), kSrc + " is unreadable: \"proxy\" " + addr);
  EXPECT_EQ(parse_error(R"({"proxy":"a:1","ops":"","pid":1})"), kSrc + " is unreadable: \"ops\" " + addr);
  const std::string pid = kSrc + " is unreadable: \"pid\" must be an integer >= 0";
  EXPECT_EQ(parse_error(R"({"proxy":"a:1","ops":"b:2"})"), pid);
  EXPECT_EQ(parse_error(R"({"proxy":"a:1","ops":"b:2","pid":"1"})"), pid);
  EXPECT_EQ(parse_error(R"({"proxy":"a:1","ops":"b:2","pid":-1})"), pid);
  EXPECT_EQ(parse_error(R"({"proxy":"a:1","ops":"b:2","pid":1.5})"), pid);
  EXPECT_EQ(parse_error(R"({"proxy":"a:1","ops":"b:2","pid":1,"container":3})"),
            kSrc + " is unreadable: \"container\" must be a string");
}

class WardenRuntimeFile : public ::testing::Test {
 protected:
  TempDir home;
  Paths paths{home.path()};
};

TEST_F(WardenRuntimeFile, AbsentMeansNotRunning) {
  auto r = load_warden_runtime(paths);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::not_found);
  EXPECT_EQ(r.error().message(), "warden is not running (no " + home.path() + "/run/warden.json)");
  EXPECT_EQ(r.error().fix(), "start it with: brig system up");
}

TEST_F(WardenRuntimeFile, StoreLoadRemove) {
  ASSERT_TRUE(store_warden_runtime(paths, {"10.89.0.2:3128", "127.0.0.1:9464", 9, "brig-warden"}).ok());
  EXPECT_EQ(warden_runtime_path(paths), home.path() + "/run/warden.json");
  auto r = load_warden_runtime(paths);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ops, "127.0.0.1:9464");
  EXPECT_EQ(r->container, "brig-warden");
  remove_warden_runtime(paths);
  EXPECT_FALSE(testing::exists(warden_runtime_path(paths)));
  remove_warden_runtime(paths);  // absent is fine
}

TEST_F(WardenRuntimeFile, DamagedSaysHowToFix) {
  spit(warden_runtime_path(paths), "{\"proxy\":\"a:1\"}\n");
  auto r = load_warden_runtime(paths);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(r.error().message(), warden_runtime_path(paths) + " is unreadable: \"ops\" must be a non-empty string (ADDR:PORT)");
  EXPECT_EQ(r.error().fix(), "restart warden: brig system restart");
}

}  // namespace
}  // namespace brig::state
