// Golden argv for every limactl call, and `limactl list --json` parsing.
#include "brig/vm/limactl.h"

#include <gtest/gtest.h>

namespace brig::vm {
namespace {

using Argv = std::vector<std::string>;
const std::string L = "/opt/homebrew/bin/limactl";

TEST(LimactlArgs, Create) {
  EXPECT_EQ(limactl_create_args(L, "/Users/a/.brig/lima.yaml"),
            (Argv{L, "create", "--name=brig", "--tty=false", "/Users/a/.brig/lima.yaml"}));
}

TEST(LimactlArgs, StartStopList) {
  EXPECT_EQ(limactl_start_args(L), (Argv{L, "start", "--tty=false", "brig"}));
  EXPECT_EQ(limactl_stop_args(L), (Argv{L, "stop", "brig"}));
  EXPECT_EQ(limactl_list_json_args(L), (Argv{L, "list", "--json", "brig"}));
}

TEST(LimactlArgs, Delete) {
  EXPECT_EQ(limactl_delete_args(L, false), (Argv{L, "delete", "brig"}));
  EXPECT_EQ(limactl_delete_args(L, true), (Argv{L, "delete", "--force", "brig"}));
}

TEST(LimactlArgs, Shell) {
  EXPECT_EQ(limactl_shell_args(L, {}), (Argv{L, "shell", "brig"}));
  EXPECT_EQ(limactl_shell_args(L, {"uname", "-a"}), (Argv{L, "shell", "brig", "--", "uname", "-a"}));
}

TEST(LimactlArgs, ForwardPassesArgumentsRawAndBrigHomeFirst) {
  Argv awkward{"run", "--dry-run", "img", "--", "echo", "a b", "it's \"q\"", "$HOME", "l1\nl2", "X=1"};
  Argv want{L, "shell", "brig", "--", "BRIG_HOME=/Users/a b/.brig", "BRIG_FORWARDED_FROM=darwin", "brig"};
  want.insert(want.end(), awkward.begin(), awkward.end());
  EXPECT_EQ(limactl_forward_args(L, "/Users/a b/.brig", awkward), want);
}

TEST(ListJson, Running) {
  auto st = parse_list_json(
      R"({"name":"brig","status":"Running","dir":"/Users/a/.lima/brig","vmType":"vz","arch":"aarch64",)"
      R"("cpus":4,"memory":8589934592,"disk":53687091200})"
      "\n");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->state, State::running);
  EXPECT_EQ(st->cpus, 4);
  EXPECT_EQ(st->memory, 8589934592LL);
  EXPECT_EQ(st->disk, 53687091200LL);
  EXPECT_EQ(st->arch, "aarch64");
  EXPECT_EQ(st->vm_type, "vz");
}

TEST(ListJson, StoppedBrokenOther) {
  EXPECT_EQ(parse_list_json(R"({"name":"brig","status":"Stopped"})")->state, State::stopped);
  EXPECT_EQ(parse_list_json(R"({"name":"brig","status":"Broken"})")->state, State::broken);
  auto starting = parse_list_json(R"({"name":"brig","status":"Starting"})");
  EXPECT_EQ(starting->state, State::other);
  EXPECT_EQ(starting->status, "Starting");
}

TEST(ListJson, EmptyOrOtherInstancesMeanAbsent) {
  EXPECT_EQ(parse_list_json("")->state, State::absent);
  EXPECT_EQ(parse_list_json("\n")->state, State::absent);
  EXPECT_EQ(parse_list_json(R"({"name":"default","status":"Running"})")->state, State::absent);
}

TEST(ListJson, GarbageIsAnError) {
  auto st = parse_list_json("time=... level=fatal msg=oops\n");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::invalid);
  EXPECT_NE(st.error().fix(), "");
}

}  // namespace
}  // namespace brig::vm
