// scripts/check-gvisor-pin.sh and scripts/pin-gvisor.sh on temp copies of
// the tree: a good pin passes, a broken or inconsistent one fails, and a pin
// from a (file://) mirror rewrites every copy.
#include <gmock/gmock.h>
#include <stdlib.h>

#include <filesystem>

#include "brig/core/fs.h"
#include "brig/proc/command.h"
#include "brig/vm/template.h"

namespace brig::vm {
namespace {

namespace sfs = std::filesystem;
using ::testing::HasSubstr;

class PinScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/brig-pin-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    const sfs::path src = BRIG_SOURCE_DIR;
    for (const char* dir : {"vm", "docs", "scripts"}) sfs::create_directories(root_ / dir);
    for (const char* f : {"vm/lima.yaml", "docs/macos.md", "scripts/check-gvisor-pin.sh", "scripts/pin-gvisor.sh"}) {
      sfs::copy_file(src / f, root_ / f);
    }
  }
  void TearDown() override { sfs::remove_all(root_); }

  proc::Output run(std::vector<std::string> argv, std::vector<std::string> env = {}) {
    proc::Command c;
    c.argv = std::move(argv);
    env.push_back("PATH=/usr/bin:/bin");
    c.env = env;
    c.timeout = std::chrono::seconds(60);
    proc::PosixRunner r;
    auto out = r.run(c);
    EXPECT_TRUE(out.ok());
    return out.ok() ? *out : proc::Output{};
  }
  proc::Output check() { return run({(root_ / "scripts/check-gvisor-pin.sh").string(), root_.string()}); }

  std::string read(const char* rel) { return *fs::read_file((root_ / rel).string()); }
  void write(const char* rel, const std::string& text) { ASSERT_TRUE(fs::write_atomic((root_ / rel).string(), text).ok()); }
  void replace(const char* rel, const std::string& from, const std::string& to) {
    std::string s = read(rel);
    auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    write(rel, s.replace(at, from.size(), to));
  }

  sfs::path root_;
};

TEST_F(PinScriptTest, TheCheckedInPinPasses) {
  auto out = check();
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("check-gvisor-pin: ok"));
}

TEST_F(PinScriptTest, TruncatedShaFails) {
  auto pin = *parse_gvisor_pin(read("vm/lima.yaml"));
  replace("vm/lima.yaml", pin.sha512_aarch64, pin.sha512_aarch64.substr(0, 100));
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("GVISOR_SHA512_AARCH64 is not a sha512 (128 lowercase hex digits, got 100 characters)"));
  EXPECT_THAT(out.err, HasSubstr("fix: scripts/pin-gvisor.sh"));
}

TEST_F(PinScriptTest, BadReleaseAndDuplicatesFail) {
  auto pin = *parse_gvisor_pin(read("vm/lima.yaml"));
  replace("vm/lima.yaml", "GVISOR_RELEASE=\"" + pin.release + "\"", "GVISOR_RELEASE=\"latest\"");
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("is not a release like 20240212"));

  replace("vm/lima.yaml", "GVISOR_RELEASE=\"latest\"", "GVISOR_RELEASE=\"20240101\"\nGVISOR_RELEASE=\"20240101\"");
  out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("GVISOR_RELEASE must be set exactly once (found 2)"));
}

TEST_F(PinScriptTest, DocsQuotingAnotherPinFail) {
  auto pin = *parse_gvisor_pin(read("vm/lima.yaml"));
  std::string docs = read("docs/macos.md");
  ASSERT_THAT(docs, HasSubstr("GVISOR_SHA512_X86_64=\"" + pin.sha512_x86_64 + "\""));
  replace("docs/macos.md", pin.sha512_x86_64, std::string(128, 'f'));
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("macos.md: GVISOR_SHA512_X86_64=\"ffff"));
  EXPECT_THAT(out.err, HasSubstr("differs from vm/lima.yaml"));
}

TEST_F(PinScriptTest, PinRewritesEveryCopyFromTheReleaseFiles) {
  const sfs::path mirror = root_ / "mirror";
  const std::string x86(128, '1'), arm(128, '2');
  for (auto [arch, sum] : {std::pair{"x86_64", x86}, std::pair{"aarch64", arm}}) {
    sfs::create_directories(mirror / "20250101.3" / arch);
    write(("mirror/20250101.3/" + std::string(arch) + "/runsc.sha512").c_str(), sum + "  runsc\n");
  }
  auto out = run({(root_ / "scripts/pin-gvisor.sh").string(), "20250101.3"},
                 {"GVISOR_BASE_URL=file://" + mirror.string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto pin = parse_gvisor_pin(read("vm/lima.yaml"));
  ASSERT_TRUE(pin.ok()) << pin.error().message();
  EXPECT_EQ(pin->release, "20250101.3");
  EXPECT_EQ(pin->sha512_x86_64, x86);
  EXPECT_EQ(pin->sha512_aarch64, arm);
  EXPECT_THAT(read("docs/macos.md"), HasSubstr("GVISOR_SHA512_AARCH64=\"" + arm + "\""));
  EXPECT_THAT(read("vm/lima.yaml"), ::testing::Not(HasSubstr("brig-gvisor-pin-refreshed: never")));
  EXPECT_EQ(check().exit_code, 0);
}

TEST_F(PinScriptTest, PinRejectsABadReleaseName) {
  auto out = run({(root_ / "scripts/pin-gvisor.sh").string(), "latest"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("error: usage: scripts/pin-gvisor.sh RELEASE"));
  EXPECT_THAT(out.err, HasSubstr("fix: "));
}

}  // namespace
}  // namespace brig::vm
