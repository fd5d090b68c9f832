// events.jsonl: the line format, its parse errors, appending, rotation, and a
// write error reported instead of dropped.
#include "brig/state/events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "unit/state/state_test_util.h"

namespace brig::state {
namespace {

using testing::slurp;
using testing::spit;
using testing::TempDir;

TEST(Events, SerializeIsOneSortedLine) {
  Event e{"2026-12-01T10:00:00Z", "create", "c1", {{"image", "x"}, {"subnet", "10.60.1.0/24"}}};
  EXPECT_EQ(serialize_event(e),
            R"({"cell":"c1","event":"create","image":"x","subnet":"10.60.1.0/24","ts":"2026-12-01T10:00:00Z"})");
}

TEST(Events, SystemEventsHaveNoCell) {
  EXPECT_EQ(serialize_event({"t", "warden_stop", "", nlohmann::json::object()}), R"({"event":"warden_stop","ts":"t"})");
}

TEST(Events, ExtraCannotOverrideTheFields) {
  Event e{"t", "stop", "", {{"event", "x"}, {"ts", "y"}, {"cell", "z"}, {"exit_code", 3}}};
  EXPECT_EQ(serialize_event(e), R"({"event":"stop","exit_code":3,"ts":"t"})");
}

TEST(Events, InvalidUtf8IsReplaced) {
  Event e{"t", "rollback", "c1", {{"error", std::string("bad \xff byte")}}};
  EXPECT_EQ(serialize_event(e), "{\"cell\":\"c1\",\"error\":\"bad \xEF\xBF\xBD byte\",\"event\":\"rollback\",\"ts\":\"t\"}");
}

TEST(Events, RoundTrip) {
  Event e{"2026-12-01T10:00:00Z", "rm", "c1", {{"kept_workspace", ""}, {"n", 2}}};
  auto back = parse_event(serialize_event(e));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->ts, e.ts);
  EXPECT_EQ(back->kind, e.kind);
  EXPECT_EQ(back->cell, e.cell);
  EXPECT_EQ(back->extra, e.extra);
  auto sys = parse_event(R"({"event":"init","ts":"t"})");
  ASSERT_TRUE(sys.ok());
  EXPECT_EQ(sys->cell, "");
  EXPECT_EQ(sys->extra, nlohmann::json::object());
}

TEST(Events, EveryParseError) {
  auto msg = [](std::string_view line) {
    auto e = parse_event(line);
    EXPECT_FALSE(e.ok()) << line;
    return e ? std::string() : e.error().message();
  };
  EXPECT_THAT(msg("{\"event\":"), ::testing::StartsWith("event line is not JSON: "));
  EXPECT_THAT(msg(""), ::testing::StartsWith("event line is not JSON: "));
  EXPECT_EQ(msg("[1]"), "event line is not a JSON object");
  EXPECT_EQ(msg(R"({"event":"x"})"), "event line has no string \"ts\"");
  EXPECT_EQ(msg(R"({"ts":"t","event":3})"), "event line has no string \"event\"");
  EXPECT_EQ(msg(R"({"ts":"t","event":"x","cell":1})"), "event line has a \"cell\" that is not a string");
}

TEST(Events, RotationName) { EXPECT_EQ(rotated_events_path("/h/logs/events.jsonl"), "/h/logs/events.jsonl.1"); }

class EventsFile : public ::testing::Test {
 protected:
  TempDir home;
  Paths paths{home.path()};
};

TEST_F(EventsFile, AppendsLines) {
  auto none = read_events(paths);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "");
  ASSERT_TRUE(append_event(paths, {"t1", "init", "", nlohmann::json::object()}).ok());
  ASSERT_TRUE(append_event(paths, {"t2", "start", "c1", nlohmann::json::object()}).ok());
  auto text = read_events(paths);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "{\"event\":\"init\",\"ts\":\"t1\"}\n{\"cell\":\"c1\",\"event\":\"start\",\"ts\":\"t2\"}\n");
}

// --- the readable line (brig system events) ---

TEST(Events, FormatIsOneReadableLine) {
  Event e{"2026-12-01T10:00:00Z", "create", "c1", {{"image", "localhost/agent:1"}, {"subnet", "10.60.1.0/24"}}};
  EXPECT_EQ(format_event(e), "2026-12-01T10:00:00Z  create    c1  image=localhost/agent:1  subnet=10.60.1.0/24");
}

TEST(Events, FormatQuotesSpacesDropsEmptiesAndMarksSystemEvents) {
  Event e{"2026-12-01T10:00:00Z", "rollback", "c1",
          {{"error", "podman said no"}, {"undone", {"state", "subnet"}}, {"undo_failed", nlohmann::json::array()},
           {"kept_workspace", ""}, {"exit_code", 124}}};
  EXPECT_EQ(format_event(e),
            "2026-12-01T10:00:00Z  rollback  c1  error=\"podman said no\"  exit_code=124  undone=[\"state\",\"subnet\"]");
  EXPECT_EQ(format_event({"2026-12-01T10:00:00Z", "init", "", {{"runsc_network", "sandbox"}}}),
            "2026-12-01T10:00:00Z  init      -  runsc_network=sandbox");
}

// --- history (brig system history) ---

std::string lines(std::initializer_list<const char*> l) {
  std::string s;
  for (const char* x : l) s += std::string(x) + "\n";
  return s;
}

TEST(History, AttachedRunThatTimedOutAndWasRemoved) {
  auto h = cell_history(lines({
      R"({"ts":"2026-12-01T10:00:00Z","event":"create","cell":"c1","image":"busybox"})",
      R"({"ts":"2026-12-01T10:00:00Z","event":"start","cell":"c1"})",
      R"({"ts":"2026-12-01T10:00:03Z","event":"exit","cell":"c1","exit_code":124,"reason":"timeout","duration_s":3.1})",
      R"({"ts":"2026-12-01T10:00:04Z","event":"rm","cell":"c1","exit_code":124,"reason":"timeout","kept_workspace":""})",
  }));
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].name, "c1");
  EXPECT_EQ(h[0].image, "busybox");
  EXPECT_EQ(h[0].created, "2026-12-01T10:00:00Z");
  EXPECT_EQ(h[0].ended, "2026-12-01T10:00:03Z");
  EXPECT_EQ(h[0].removed, "2026-12-01T10:00:04Z");
  EXPECT_EQ(h[0].exit_code, 124);
  EXPECT_EQ(h[0].reason, "timeout");
  EXPECT_EQ(h[0].duration_s, 3.1);
}

TEST(History, DetachedCellEndsWithWhatRmRecorded) {
  auto h = cell_history(lines({
      R"({"ts":"2026-12-01T10:00:00Z","event":"create","cell":"d","image":"x"})",
      R"({"ts":"2026-12-01T10:00:00Z","event":"start","cell":"d"})",
      R"({"ts":"2026-12-01T11:00:00Z","event":"rm","cell":"d","exit_code":137,"reason":"oom","duration_s":42.5})",
  }));
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].exit_code, 137);
  EXPECT_EQ(h[0].reason, "oom");
  EXPECT_EQ(h[0].duration_s, 42.5);  // podman's, not start..rm
  EXPECT_EQ(h[0].removed, "2026-12-01T11:00:00Z");
}

TEST(History, KilledStoppedRunningAndReusedNames) {
  auto h = cell_history(lines({
      R"({"ts":"2026-12-01T10:00:00Z","event":"create","cell":"k","image":"x"})",
      R"({"ts":"2026-12-01T10:00:00Z","event":"start","cell":"k"})",
      R"({"ts":"2026-12-01T10:00:10Z","event":"kill","cell":"k","signal":"SIGKILL"})",
      R"({"ts":"2026-12-01T10:00:20Z","event":"rm","cell":"k","exit_code":137})",
      R"({"ts":"2026-12-01T10:01:00Z","event":"create","cell":"k","image":"y"})",
      R"({"ts":"2026-12-01T10:01:00Z","event":"start","cell":"k"})",
      R"({"ts":"2026-12-01T10:01:05Z","event":"stop","cell":"k"})",
      R"({"ts":"2026-12-01T10:02:00Z","event":"create","cell":"r","image":"z"})",
      R"({"ts":"2026-12-01T10:02:00Z","event":"start","cell":"r"})",
      "not json",
      R"({"ts":"2026-12-01T10:03:00Z","event":"warden_stop"})",
  }));
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].image, "x");
  EXPECT_EQ(h[0].reason, "killed");
  EXPECT_EQ(h[0].exit_code, 137);
  EXPECT_EQ(h[0].duration_s, 10.0);
  EXPECT_EQ(h[1].image, "y");
  EXPECT_EQ(h[1].reason, "stopped");
  EXPECT_EQ(h[1].duration_s, 5.0);
  EXPECT_EQ(h[1].removed, "");
  EXPECT_EQ(h[2].name, "r");
  EXPECT_EQ(h[2].ended, "");
  EXPECT_FALSE(h[2].exit_code.has_value());
  EXPECT_FALSE(h[2].duration_s.has_value());
}

TEST(History, ARunRolledBackIsListedAsSuch) {
  auto h = cell_history(lines({R"({"ts":"2026-12-01T10:00:00Z","event":"rollback","cell":"f","error":"boom"})"}));
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].reason, "rolled back");
  EXPECT_EQ(h[0].created, "");
  EXPECT_EQ(h[0].removed, "2026-12-01T10:00:00Z");
}

TEST_F(EventsFile, RotatesPastTheLimitKeepingOneOldFile) {
  spit(paths.events_log(), std::string(kEventsMaxBytes, 'x'));
  spit(rotated_events_path(paths.events_log()), "older\n");
  ASSERT_TRUE(append_event(paths, {"t", "stop", "c1", nlohmann::json::object()}).ok());
  EXPECT_FALSE(testing::exists(paths.events_log()));
  const std::string old = slurp(rotated_events_path(paths.events_log()));
  EXPECT_EQ(old.size(), kEventsMaxBytes + std::string("{\"cell\":\"c1\",\"event\":\"stop\",\"ts\":\"t\"}\n").size());
  ASSERT_TRUE(append_event(paths, {"t", "start", "c1", nlohmann::json::object()}).ok());
  EXPECT_EQ(slurp(paths.events_log()), "{\"cell\":\"c1\",\"event\":\"start\",\"ts\":\"t\"}\n");
}

TEST_F(EventsFile, AtTheLimitDoesNotRotate) {
  const std::string line = "{\"event\":\"x\",\"ts\":\"t\"}\n";
  spit(paths.events_log(), std::string(kEventsMaxBytes - line.size(), 'x'));
  ASSERT_TRUE(append_event(paths, {"t", "x", "", nlohmann::json::object()}).ok());
  EXPECT_FALSE(testing::exists(rotated_events_path(paths.events_log())));
}

TEST_F(EventsFile, WriteErrorIsReported) {
  std::filesystem::create_directories(paths.events_log());  // a directory cannot be appended to
  auto st = append_event(paths, {"t", "start", "c1", nlohmann::json::object()});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::io);
  EXPECT_EQ(st.error().message(), "cannot open " + paths.events_log() + ": Is a directory");
}

}  // namespace
}  // namespace brig::state
