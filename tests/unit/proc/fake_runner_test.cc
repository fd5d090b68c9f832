#include "fakes/fake_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace brig::testing {
namespace {

using ::testing::ElementsAre;

proc::Command cmd(std::vector<std::string> argv) {
  proc::Command c;
  c.argv = std::move(argv);
  return c;
}

TEST(FakeRunner, RecordsEveryCommand) {
  FakeRunner fake;
  proc::Runner& runner = fake;
  proc::Command first = cmd({"podman", "ps"});
  first.env = {"A=1"};
  first.stdin_data = "input";
  ASSERT_TRUE(runner.run(first).ok());
  ASSERT_TRUE(runner.run(cmd({"nft", "-f", "-"})).ok());

  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_THAT(fake.calls[0].argv, ElementsAre("podman", "ps"));
  EXPECT_THAT(*fake.calls[0].env, ElementsAre("A=1"));
  EXPECT_EQ(fake.calls[0].stdin_data, "input");
  EXPECT_THAT(fake.calls[1].argv, ElementsAre("nft", "-f", "-"));
}

TEST(FakeRunner, AnswersByLongestArgvPrefix) {
  FakeRunner fake;
  fake.on({"podman"}, canned(125, "", "generic"))
      .on({"podman", "network", "ls"}, canned(0, R"([{"name":"brig0"}])"));

  Result<proc::Output> ls = fake.run(cmd({"podman", "network", "ls", "--format", "json"}));
  ASSERT_TRUE(ls.ok());
  EXPECT_EQ(ls->exit_code, 0);
  EXPECT_EQ(ls->out, R"([{"name":"brig0"}])");

  Result<proc::Output> other = fake.run(cmd({"podman", "ps"}));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->exit_code, 125);
  EXPECT_EQ(other->err, "generic");

  // A prefix longer than argv does not match.
  Result<proc::Output> bare = fake.run(cmd({"podman", "network"}));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->exit_code, 125);
}

TEST(FakeRunner, DefaultsToSuccessWithNoOutput) {
  FakeRunner fake;
  fake.on({"runsc"}, canned(1));
  Result<proc::Output> r = fake.run(cmd({"ip", "link"}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->success());
  EXPECT_EQ(r->out, "");
  EXPECT_EQ(r->err, "");
}

TEST(FakeRunner, ReturnsCannedError) {
  FakeRunner fake;
  fake.fail({"limactl"}, Error(Errc::not_found, "limactl: command not found"));
  Result<proc::Output> r = fake.run(cmd({"limactl", "list"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::not_found);
  EXPECT_EQ(r.error().message(), "limactl: command not found");
  EXPECT_EQ(fake.calls.size(), 1u);
}

}  // namespace
}  // namespace brig::testing
