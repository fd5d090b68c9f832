// Which commands the thin client forwards to the VM.
#include "brig/vm/thin_client.h"

#include <gtest/gtest.h>

namespace brig::vm {
namespace {

TEST(Platform, EnvOverridesTheBuild) {
  EXPECT_EQ(detect_platform("darwin"), Platform::darwin);
  EXPECT_EQ(detect_platform("linux"), Platform::linux_native);
#if defined(__APPLE__) || defined(BRIG_CLIENT_ONLY)
  EXPECT_EQ(detect_platform(nullptr), Platform::darwin);
#else
  EXPECT_EQ(detect_platform(nullptr), Platform::linux_native);
  EXPECT_EQ(detect_platform("bsd"), Platform::linux_native);
#endif
}

TEST(Platform, OnlyDarwinOrLinux) {
  EXPECT_TRUE(check_platform_env(nullptr).ok());
  EXPECT_TRUE(check_platform_env("").ok());
  EXPECT_TRUE(check_platform_env("darwin").ok());
  EXPECT_TRUE(check_platform_env("linux").ok());
  auto bad = check_platform_env("macos");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "BRIG_PLATFORM must be darwin or linux, got \"macos\"");
  EXPECT_EQ(bad.error().exit_code(), 2);
}

TEST(NounIndex, SkipsGlobalFlags) {
  EXPECT_EQ(noun_index({"run"}), 0u);
  EXPECT_EQ(noun_index({"-q", "--no-color", "--format", "json", "cell", "list"}), 4u);
  EXPECT_EQ(noun_index({"--format=json", "-v", "vm"}), 2u);
  EXPECT_EQ(noun_index({"--quiet", "--verbose"}), std::nullopt);
  EXPECT_EQ(noun_index({}), std::nullopt);
}

TEST(MustForward, EverythingButVmConfigVersionAndHelp) {
  EXPECT_TRUE(must_forward({"run", "--dry-run", "img"}));
  EXPECT_TRUE(must_forward({"policy", "test", "https://x"}));
  EXPECT_TRUE(must_forward({"--format", "json", "cell", "list"}));
  EXPECT_TRUE(must_forward({"warden", "serve"}));
  EXPECT_TRUE(must_forward({"cell", "logs", "-f", "x"}));
  EXPECT_FALSE(must_forward({"vm", "start"}));
  EXPECT_FALSE(must_forward({"-q", "vm", "status"}));
  EXPECT_FALSE(must_forward({"config", "list"}));
  EXPECT_FALSE(must_forward({"--version"}));
  EXPECT_FALSE(must_forward({"--help"}));
  EXPECT_FALSE(must_forward({"-h"}));
  EXPECT_FALSE(must_forward({}));
  // "vm" as the value of --format is not the noun.
  EXPECT_TRUE(must_forward({"--format", "vm", "run"}));
}

TEST(ForwardedFromMac, OnlyTheThinClientsMark) {
  EXPECT_TRUE(forwarded_from_mac("darwin"));
  EXPECT_FALSE(forwarded_from_mac(nullptr));
  EXPECT_FALSE(forwarded_from_mac(""));
  EXPECT_FALSE(forwarded_from_mac("linux"));
}

TEST(VmBrigHome, AbsoluteWithoutTrailingSlash) {
  EXPECT_EQ(vm_brig_home("/Users/a/.brig", "/tmp"), "/Users/a/.brig");
  EXPECT_EQ(vm_brig_home("/Users/a/.brig/", "/tmp"), "/Users/a/.brig");
  EXPECT_EQ(vm_brig_home("rel/home", "/Users/a"), "/Users/a/rel/home");
}

}  // namespace
}  // namespace brig::vm
