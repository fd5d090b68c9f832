// scripts/check-gvisor-pin.sh and scripts/pin-gvisor.sh on temp copies of
// the tree: a good pin passes, a broken or inconsistent one fails, and a pin
// over the fake curl and gpg (gvisor_fakes.h) rewrites every copy.
#include <gmock/gmock.h>
#include <stdlib.h>

#include <filesystem>

#include "brig/core/fs.h"
#include "brig/proc/command.h"
#include "brig/vm/template.h"
#include "unit/vm/gvisor_fakes.h"

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
    testing::write_gvisor_fakes(root_ / "bin");
    sfs::create_directories(root_ / "fake");
  }
  void TearDown() override { sfs::remove_all(root_); }

  proc::Output run(std::vector<std::string> argv, std::vector<std::string> env = {}) {
    proc::Command c;
    c.argv = std::move(argv);
    env.push_back("PATH=" + (root_ / "bin").string() + ":/usr/bin:/bin");
    env.push_back("FAKE=" + (root_ / "fake").string());
    c.env = env;
    c.timeout = std::chrono::seconds(60);
    proc::PosixRunner r;
    auto out = r.run(c);
    EXPECT_TRUE(out.ok());
    return out.ok() ? *out : proc::Output{};
  }
  void serve(const std::string& host_path, const std::string& body) {
    sfs::create_directories((root_ / "fake/net" / host_path).parent_path());
    write(("fake/net/" + host_path).c_str(), body);
  }
  proc::Output run_pin(std::vector<std::string> args) {
    args.insert(args.begin(), (root_ / "scripts/pin-gvisor.sh").string());
    return run(args);
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

const std::string kFpr = "0123456789ABCDEF0123456789ABCDEF01234567";
const std::string kBucket = "storage.googleapis.com/gvisor/releases/release/";

TEST_F(PinScriptTest, TheCheckedInPinPasses) {
  auto out = check();
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("check-gvisor-pin: ok (gVisor "));
  EXPECT_THAT(out.out, HasSubstr(" from gVisor's signed apt repository, suite release"));
}

TEST_F(PinScriptTest, AnUnrecordedKeyFingerprintIsAWarning) {
  replace("vm/lima.yaml", "GVISOR_KEY_FINGERPRINT=\"" + parse_gvisor_pin(read("vm/lima.yaml"))->key_fingerprint + "\"",
          "GVISOR_KEY_FINGERPRINT=\"\"");
  auto out = check();
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("check-gvisor-pin: warning: no GVISOR_KEY_FINGERPRINT recorded"));
  EXPECT_THAT(out.out, HasSubstr("archive key fingerprint not recorded"));
}

TEST_F(PinScriptTest, HalfASha512PinFails) {
  const std::string release = parse_gvisor_pin(read("vm/lima.yaml"))->release;
  replace("vm/lima.yaml", "GVISOR_SHA512_X86_64=\"\"", "GVISOR_SHA512_X86_64=\"" + std::string(128, 'a') + "\"");
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("GVISOR_SHA512_AARCH64 is not a sha512 (128 lowercase hex digits, got 0 characters)"));
  EXPECT_THAT(out.err, HasSubstr("fix: scripts/pin-gvisor.sh --sha512 " + release));
  replace("vm/lima.yaml", "GVISOR_SHA512_AARCH64=\"\"", "GVISOR_SHA512_AARCH64=\"" + std::string(100, 'b') + "\"");
  out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("GVISOR_SHA512_AARCH64 is not a sha512 (128 lowercase hex digits, got 100 characters)"));
  replace("vm/lima.yaml", std::string(100, 'b'), std::string(128, 'b'));
  out = check();
  EXPECT_EQ(out.exit_code, 1);  // docs/macos.md still quotes the apt pin
  EXPECT_THAT(out.err, HasSubstr("macos.md: GVISOR_SHA512_X86_64=\"\" differs from vm/lima.yaml"));
}

TEST_F(PinScriptTest, ChannelAndFingerprintAreChecked) {
  replace("vm/lima.yaml", "GVISOR_CHANNEL=\"release\"", "GVISOR_CHANNEL=\"20200101\"");
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("GVISOR_CHANNEL=\"20200101\" is neither \"release\" nor the dated suite"));
  replace("vm/lima.yaml", "GVISOR_CHANNEL=\"20200101\"", "GVISOR_CHANNEL=\"release\"");
  replace("vm/lima.yaml", "GVISOR_KEY_FINGERPRINT=\"", "GVISOR_KEY_FINGERPRINT=\"0123 4567 ");
  out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("GVISOR_KEY_FINGERPRINT holds \"0123\", not a fingerprint of 40"));
}

TEST_F(PinScriptTest, ProvisioningWithoutSignedByFails) {
  replace("vm/lima.yaml", "signed-by=$keyring", "trusted=yes");
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("provisioning no longer restricts the key to gVisor's repository (no 'signed-by=$keyring')"));
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
  ASSERT_THAT(read("docs/macos.md"), HasSubstr("GVISOR_RELEASE=\"" + pin.release + "\""));
  replace("docs/macos.md", "GVISOR_RELEASE=\"" + pin.release + "\"", "GVISOR_RELEASE=\"20200101.0\"");
  auto out = check();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("macos.md: GVISOR_RELEASE=\"20200101.0\" differs from vm/lima.yaml"));
}

TEST_F(PinScriptTest, PinRecordsTheKeyFingerprintForTheAptRepository) {
  serve("gvisor.dev/archive.key", testing::fake_key(kFpr));
  auto out = run_pin({"20250101.3"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("gVisor archive key fingerprint: " + kFpr + " (from https://gvisor.dev/archive.key)"));
  auto p = parse_gvisor_pin(read("vm/lima.yaml"));
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->channel, "release");
  EXPECT_EQ(p->release, "20250101.3");
  EXPECT_EQ(p->key_fingerprint, kFpr);
  EXPECT_FALSE(p->binary());
  EXPECT_THAT(read("docs/macos.md"), HasSubstr("GVISOR_KEY_FINGERPRINT=\"" + kFpr + "\""));
  EXPECT_THAT(read("vm/lima.yaml"), ::testing::Not(HasSubstr("brig-gvisor-pin-refreshed: never")));
  auto c = check();
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_THAT(c.err, ::testing::Not(HasSubstr("warning")));
}

TEST_F(PinScriptTest, PinSha512RewritesEveryCopyFromTheReleaseFiles) {
  serve("gvisor.dev/archive.key", testing::fake_key(kFpr));
  const std::string x86(128, '1'), arm(128, '2');
  serve(kBucket + "20250101.3/x86_64/runsc.sha512", x86 + "  runsc\n");
  serve(kBucket + "20250101.3/aarch64/runsc.sha512", arm + "  runsc\n");
  auto out = run_pin({"--sha512", "20250101.3", "--channel", "20250101"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto p = parse_gvisor_pin(read("vm/lima.yaml"));
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->channel, "20250101");
  EXPECT_EQ(p->release, "20250101.3");
  EXPECT_EQ(p->sha512_x86_64, x86);
  EXPECT_EQ(p->sha512_aarch64, arm);
  EXPECT_THAT(read("docs/macos.md"), HasSubstr("GVISOR_SHA512_AARCH64=\"" + arm + "\""));
  EXPECT_THAT(check().out, HasSubstr("pinned by sha512 for x86_64 and aarch64"));
  // Back to the apt repository: the sha512s are emptied everywhere.
  ASSERT_EQ(run_pin({"20250101.3"}).exit_code, 0);
  EXPECT_FALSE(parse_gvisor_pin(read("vm/lima.yaml"))->binary());
  EXPECT_THAT(read("docs/macos.md"), HasSubstr("GVISOR_SHA512_AARCH64=\"\""));
}

TEST_F(PinScriptTest, PinStopsWhenTheKeyCannotBeFetched) {
  const std::string before = read("vm/lima.yaml");
  auto out = run_pin({"20250101.3"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("error: cannot fetch https://gvisor.dev/archive.key"));
  EXPECT_THAT(out.err, HasSubstr("fix: check the release name and the network, then rerun scripts/pin-gvisor.sh 20250101.3"));
  EXPECT_EQ(read("vm/lima.yaml"), before);
}

TEST_F(PinScriptTest, PinRejectsABadReleaseName) {
  auto out = run_pin({"latest"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("error: usage: scripts/pin-gvisor.sh RELEASE"));
  EXPECT_THAT(out.err, HasSubstr("fix: "));
  auto channel = run_pin({"20250101.3", "--channel", "20240101"});
  EXPECT_EQ(channel.exit_code, 2);
  EXPECT_THAT(channel.err, HasSubstr("--channel must be release or 20250101"));
  EXPECT_EQ(run_pin({"20250101.3", "--bogus"}).exit_code, 2);
}

}  // namespace
}  // namespace brig::vm
