// Provisioning step 3 of vm/lima.yaml (runsc), run as the VM would run it but
// over fakes (tests/unit/vm/gvisor_fakes.h): no network, no root; every path
// it writes lands under BRIG_PROVISION_ROOT.
#include <gmock/gmock.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/proc/command.h"
#include "brig/vm/template.h"
#include "unit/vm/gvisor_fakes.h"

namespace brig::vm {
namespace {

namespace sfs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kKeyUrl = "gvisor.dev/archive.key";
const std::string kRepo = "https://storage.googleapis.com/gvisor/releases";
const std::string kKeyring = "/usr/share/keyrings/gvisor-archive-keyring.gpg";
const std::string kFpr = "0123456789ABCDEF0123456789ABCDEF01234567";

class ProvisionRunscTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/brig-provision-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    testing::write_gvisor_fakes(dir_ / "bin");
    sfs::create_directories(dir_ / "fake");
    sfs::create_directories(dir_ / "root");
    pin_ = *parse_gvisor_pin(lima_template());
    // The step exactly as Lima sees it: the rendered template's YAML.
    TemplateValues v{(dir_ / "home").string(), BRIG_SOURCE_DIR, 4, "8GiB", "50GiB"};
    for (const auto& p : YAML::Load(*render_template(lima_template(), v))["provision"]) {
      auto s = p["script"].as<std::string>();
      if (s.find("# brig-provision: runsc\n") != std::string::npos) script_ = s;
    }
    ASSERT_FALSE(script_.empty()) << "no provisioning step marked '# brig-provision: runsc'";
    serve(kKeyUrl, testing::fake_key(kFpr));
    fake("available", "release " + pin_.release + "\n");
  }
  void TearDown() override { sfs::remove_all(dir_); }

  // set KEY="VALUE" in the script.
  void set(const std::string& key, const std::string& value) {
    const std::string line = key + "=\"" + (key == "GVISOR_RELEASE" ? pin_.release : "") + "\"";
    auto at = script_.find(line);
    ASSERT_NE(at, std::string::npos) << line;
    script_.replace(at, line.size(), key + "=\"" + value + "\"");
  }
  void serve(const std::string& host_path, const std::string& body) {
    sfs::create_directories((dir_ / "fake/net" / host_path).parent_path());
    fake(("net/" + host_path).c_str(), body);
  }
  void fake(const std::string& rel, const std::string& body) {
    ASSERT_TRUE(fs::write_atomic((dir_ / "fake" / rel).string(), body).ok());
  }

  proc::Output provision(std::vector<std::string> env = {}) {
    const auto path = (dir_ / "provision.sh").string();
    EXPECT_TRUE(fs::write_atomic(path, script_).ok());
    proc::Command c;
    c.argv = {"/bin/bash", path};
    env.push_back("PATH=" + (dir_ / "bin").string() + ":/usr/bin:/bin");
    env.push_back("FAKE=" + (dir_ / "fake").string());
    env.push_back("BRIG_PROVISION_ROOT=" + (dir_ / "root").string());
    env.push_back("HOME=" + dir_.string());
    c.env = env;
    c.timeout = std::chrono::seconds(60);
    proc::PosixRunner r;
    auto out = r.run(c);
    EXPECT_TRUE(out.ok());
    if (!out.ok()) return {};
    // Each run's log on its own: a second boot shows only what it did.
    log_ = slurp(dir_ / "fake/log");
    sfs::remove(dir_ / "fake/log");
    return *out;
  }

  static std::string slurp(const sfs::path& p) {
    auto r = fs::read_file(p.string());
    return r.ok() ? *r : "";
  }
  bool in_root(const std::string& p) { return sfs::exists(dir_ / "root" / p.substr(1)); }
  std::string root_file(const std::string& p) { return slurp(dir_ / "root" / p.substr(1)); }

  sfs::path dir_;
  GvisorPin pin_;
  std::string script_;
  std::string log_;
};

TEST_F(ProvisionRunscTest, InstallsThePinnedRunscFromTheSignedAptRepository) {
  auto out = provision();
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  // The key came over https, its fingerprint (the primary key's, not the subkey's) was printed.
  EXPECT_THAT(log_, HasSubstr("curl -fsSL --proto =https --retry 3 -o "));
  EXPECT_THAT(log_, HasSubstr("https://" + kKeyUrl));
  EXPECT_THAT(out.out, HasSubstr("brig: gVisor archive key fingerprint: " + kFpr + "\n"));
  EXPECT_THAT(out.out, Not(HasSubstr(std::string(40, 'B'))));
  EXPECT_THAT(out.out, HasSubstr("warning: vm/lima.yaml records no GVISOR_KEY_FINGERPRINT"));
  // apt trusts that key for gVisor's repository only.
  EXPECT_EQ(root_file(kKeyring), "binary keyring\npub " + kFpr + "\nsub " + std::string(40, 'B') + "\n");
  EXPECT_EQ(root_file("/etc/apt/sources.list.d/gvisor.list"),
            "deb [arch=amd64 signed-by=" + kKeyring + "] " + kRepo + " release main\n");
  EXPECT_THAT(log_, HasSubstr("apt-get update -qq --error-on=any -o Dir::Etc::sourcelist="));
  EXPECT_THAT(log_, HasSubstr("apt-get install -y -qq --no-install-recommends --allow-downgrades "
                              "--allow-change-held-packages runsc=" + pin_.release + "\n"));
  EXPECT_THAT(log_, HasSubstr("apt-mark hold runsc\n"));
  EXPECT_TRUE(in_root("/usr/bin/runsc"));
  EXPECT_EQ(root_file("/etc/containers/containers.conf.d/50-brig-runsc.conf"),
            "[engine.runtimes]\nrunsc = [\"/usr/bin/runsc\"]\n");
  EXPECT_THAT(out.out, HasSubstr("brig: installed runsc " + pin_.release + " from " + kRepo + " release main"));
}

TEST_F(ProvisionRunscTest, ARecordedFingerprintIsRequiredOfTheKey) {
  set("GVISOR_KEY_FINGERPRINT", kFpr);
  auto out = provision();
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("brig: the key matches GVISOR_KEY_FINGERPRINT recorded in vm/lima.yaml"));
  EXPECT_THAT(out.out, Not(HasSubstr("warning")));
}

TEST_F(ProvisionRunscTest, AnotherKeyIsRefusedAndNothingIsInstalled) {
  const std::string other(40, 'C');
  set("GVISOR_KEY_FINGERPRINT", other);
  auto out = provision();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.out, HasSubstr("brig: gVisor archive key fingerprint: " + kFpr));
  EXPECT_THAT(out.err, HasSubstr("brig: error: the gVisor archive key " + kFpr +
                                 " is not the one recorded in vm/lima.yaml (GVISOR_KEY_FINGERPRINT=\"" + other +
                                 "\"); not trusting it"));
  EXPECT_THAT(out.err, HasSubstr("brig: fix: in the brig checkout on the Mac: scripts/pin-gvisor.sh " + pin_.release +
                                 " && scripts/install.sh && brig vm delete --force && brig vm create"));
  EXPECT_FALSE(in_root(kKeyring));
  EXPECT_FALSE(in_root("/etc/apt/sources.list.d/gvisor.list"));
  EXPECT_THAT(log_, Not(HasSubstr("apt-get")));
}

TEST_F(ProvisionRunscTest, AKeyFileWithAnUnrecordedSecondKeyIsRefused) {
  set("GVISOR_KEY_FINGERPRINT", kFpr);
  serve(kKeyUrl, testing::fake_key(kFpr) + testing::fake_key(std::string(40, 'D')));
  auto out = provision();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("the gVisor archive key " + std::string(40, 'D') + " is not the one recorded"));
  EXPECT_FALSE(in_root(kKeyring));
}

TEST_F(ProvisionRunscTest, AnUnreachableKeyStopsWithAFix) {
  sfs::remove(dir_ / "fake/net" / kKeyUrl);
  auto out = provision();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("brig: error: cannot fetch https://" + kKeyUrl));
  EXPECT_THAT(out.err, HasSubstr("brig: fix: check the VM's network: brig vm shell -- curl -fsSI https://" + kKeyUrl));
}

TEST_F(ProvisionRunscTest, ABadRepositorySignatureStops) {
  auto out = provision({"FAKE_UPDATE_FAILS=1"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("brig: error: apt could not read gVisor's signed index (" + kRepo + " release)"));
  EXPECT_FALSE(in_root("/usr/bin/runsc"));
}

TEST_F(ProvisionRunscTest, AVersionThatLeftTheReleaseSuiteComesFromItsDatedSuite) {
  const std::string dated = pin_.release.substr(0, 8);
  fake("available", "release 29990101.0\n" + dated + " " + pin_.release + "\n");
  auto out = provision();
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_THAT(out.out, HasSubstr("is no longer in the release suite; using its dated suite " + dated));
  EXPECT_EQ(root_file("/etc/apt/sources.list.d/gvisor.list"),
            "deb [arch=amd64 signed-by=" + kKeyring + "] " + kRepo + " " + dated + " main\n");
  EXPECT_EQ(slurp(dir_ / "fake/installed"), pin_.release);
}

TEST_F(ProvisionRunscTest, AVersionNoSuiteHoldsStopsWithAFix) {
  fake("available", "release 29990101.0\n");
  auto out = provision();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("brig: error: runsc " + pin_.release + " is not in gVisor's apt suite " +
                                 pin_.release.substr(0, 8)));
  EXPECT_THAT(out.err, HasSubstr("brig: fix: "));
  EXPECT_FALSE(in_root("/usr/bin/runsc"));
}

TEST_F(ProvisionRunscTest, LaterBootsFetchNothing) {
  set("GVISOR_KEY_FINGERPRINT", kFpr);
  ASSERT_EQ(provision().exit_code, 0);
  auto again = provision();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("brig: runsc " + pin_.release + " is installed from gVisor's apt repository"));
  EXPECT_THAT(log_, Not(HasSubstr("curl")));
  EXPECT_THAT(log_, Not(HasSubstr("apt-get")));
  // A different pinned version is installed again (the key is refetched and checked).
  set("GVISOR_RELEASE", "20250101.0");
  fake("available", "release 20250101.0\n");
  auto bumped = provision();
  ASSERT_EQ(bumped.exit_code, 0) << bumped.err;
  EXPECT_THAT(log_, HasSubstr("runsc=20250101.0"));
}

TEST_F(ProvisionRunscTest, RealSha512sPinTheBinaryInstead) {
  const std::string binary = "#!/bin/sh\necho runsc\n";
  serve("storage.googleapis.com/gvisor/releases/release/" + pin_.release + "/x86_64/runsc", binary);
  proc::Command c;  // the sha512 by the real tool, as the script computes it
  c.argv = {"/bin/sh", "-c", "printf %s \"$1\" | sha512sum | cut -d' ' -f1", "sh", binary};
  proc::PosixRunner r;
  auto s = r.run(c);
  ASSERT_TRUE(s.ok());
  const std::string x86 = std::string(str::trim(s->out));
  set("GVISOR_SHA512_X86_64", x86);
  set("GVISOR_SHA512_AARCH64", std::string(128, 'a'));
  auto out = provision();
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(root_file("/usr/local/bin/runsc"), binary);
  EXPECT_EQ(root_file("/etc/containers/containers.conf.d/50-brig-runsc.conf"),
            "[engine.runtimes]\nrunsc = [\"/usr/local/bin/runsc\"]\n");
  EXPECT_THAT(out.out, HasSubstr("sha512 verified"));
  EXPECT_THAT(log_, Not(HasSubstr("apt-get")));
  EXPECT_THAT(log_, Not(HasSubstr("archive.key")));

  // aarch64 with a sha512 the download does not have: refused, nothing installed.
  serve("storage.googleapis.com/gvisor/releases/release/" + pin_.release + "/aarch64/runsc", binary);
  sfs::remove(dir_ / "root/usr/local/bin/runsc");
  auto arm = provision({"FAKE_ARCH=aarch64"});
  EXPECT_EQ(arm.exit_code, 1);
  EXPECT_THAT(arm.err, HasSubstr("brig: error: runsc " + pin_.release + " (aarch64) has sha512 " + x86 +
                                 ", not the pinned " + std::string(128, 'a') + "; not installing it"));
  EXPECT_THAT(arm.err, HasSubstr("scripts/pin-gvisor.sh --sha512 " + pin_.release));
  EXPECT_FALSE(in_root("/usr/local/bin/runsc"));
}

TEST_F(ProvisionRunscTest, AMalformedSha512IsRefused) {
  set("GVISOR_SHA512_X86_64", "abc");
  auto out = provision();
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("brig: error: the pinned sha512 of runsc for x86_64 is not 128 hex digits"));
  EXPECT_THAT(log_, Not(HasSubstr("curl")));
}

}  // namespace
}  // namespace brig::vm
