// vm/lima.yaml: rendering, YAML validity, mounts, the ingress port forward, the gVisor pin, /etc/hosts.
// Running the runsc step itself: provision_runsc_test.cc.
#include "brig/vm/template.h"

#include <gmock/gmock.h>
#include <yaml-cpp/yaml.h>

#include "brig/core/fs.h"

namespace brig::vm {
namespace {

using ::testing::HasSubstr;

TemplateValues values() { return {"/Users/ada lovelace/.brig", "/Users/ada lovelace/src/brig", 6, "12GiB", "80GiB"}; }

std::string rendered() {
  auto r = render_template(lima_template(), values());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : "";
}

TEST(Template, CompiledInCopyMatchesTheFile) {
  auto file = fs::read_file(std::string(BRIG_SOURCE_DIR) + "/vm/lima.yaml");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file, lima_template());
  EXPECT_EQ(build_source_dir(), BRIG_SOURCE_DIR);
}

TEST(Template, RenderedIsValidYamlWithTheValues) {
  YAML::Node y = YAML::Load(rendered());
  EXPECT_EQ(y["cpus"].as<int>(), 6);
  EXPECT_EQ(y["memory"].as<std::string>(), "12GiB");
  EXPECT_EQ(y["disk"].as<std::string>(), "80GiB");
  ASSERT_TRUE(y["images"].IsSequence());
  std::set<std::string> arches;
  for (const auto& img : y["images"]) arches.insert(img["arch"].as<std::string>());
  EXPECT_EQ(arches, (std::set<std::string>{"x86_64", "aarch64"}));
  EXPECT_THAT(rendered(), ::testing::Not(HasSubstr("{{")));
}

TEST(Template, MountsBrigHomeWritableAndSourceReadOnlyAtTheSamePaths) {
  YAML::Node mounts = YAML::Load(rendered())["mounts"];
  ASSERT_TRUE(mounts.IsSequence());
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0]["location"].as<std::string>(), "/Users/ada lovelace/.brig");
  EXPECT_EQ(mounts[0]["mountPoint"].as<std::string>(), "/Users/ada lovelace/.brig");
  EXPECT_TRUE(mounts[0]["writable"].as<bool>());
  EXPECT_EQ(mounts[1]["location"].as<std::string>(), "/Users/ada lovelace/src/brig");
  EXPECT_EQ(mounts[1]["mountPoint"].as<std::string>(), "/Users/ada lovelace/src/brig");
  EXPECT_FALSE(mounts[1]["writable"].as<bool>());
}

// Warden's ingress, published on the VM's loopback, reaches the Mac's loopback only.
TEST(Template, ForwardsIngressToTheMacsLoopback) {
  YAML::Node fwd = YAML::Load(rendered())["portForwards"];
  ASSERT_TRUE(fwd.IsSequence());
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd[0]["guestIP"].as<std::string>(), "127.0.0.1");
  EXPECT_EQ(fwd[0]["guestPort"].as<int>(), 8443);
  EXPECT_EQ(fwd[0]["hostIP"].as<std::string>(), "127.0.0.1");
  EXPECT_EQ(fwd[0]["hostPort"].as<int>(), 8443);
}

std::string provision_scripts() {
  std::string all;
  for (const auto& p : YAML::Load(rendered())["provision"]) all += p["script"].as<std::string>() + "\n";
  return all;
}

TEST(Template, ProvisioningInstallsPackagesAndBuildsBrig) {
  auto s = provision_scripts();
  for (const char* pkg : {"podman", "runc", "nftables", "cmake", "ninja-build", "libcli11-dev", "libyaml-cpp-dev",
                          "libseccomp-dev", "libidn2-dev"}) {
    EXPECT_THAT(s, HasSubstr(pkg));
  }
  EXPECT_THAT(s, HasSubstr("src='/Users/ada lovelace/src/brig'"));
  EXPECT_THAT(s, HasSubstr("cmake --install"));
}

TEST(Template, ProvisioningAddsTheHostnameToEtcHosts) {
  auto s = provision_scripts();
  EXPECT_THAT(s, HasSubstr("h=\"$(hostname)\""));
  EXPECT_THAT(s, HasSubstr("echo \"127.0.1.1 ${h}\" >> /etc/hosts"));
}

TEST(Template, ProvisionsRunscOutOfTheBoxFromTheSignedAptRepository) {
  auto pin = parse_gvisor_pin(lima_template());
  ASSERT_TRUE(pin.ok()) << pin.error().message();
  // No sha512s: the apt path, which needs nothing refreshed before the first boot.
  EXPECT_FALSE(pin->binary());
  EXPECT_EQ(pin->channel, "release");
  auto s = provision_scripts();
  EXPECT_THAT(s, HasSubstr("GVISOR_RELEASE=\"" + pin->release + "\""));
  EXPECT_THAT(s, HasSubstr("key_url=\"https://gvisor.dev/archive.key\""));
  EXPECT_THAT(s, HasSubstr("repo=\"https://storage.googleapis.com/gvisor/releases\""));
  EXPECT_THAT(s, HasSubstr("signed-by=$keyring] $repo $1 main"));
  EXPECT_THAT(s, HasSubstr("\"runsc=$GVISOR_RELEASE\""));
  // gpg for the fingerprint; the readiness probe accepts either runsc.
  EXPECT_THAT(s, HasSubstr(" gpg "));
  EXPECT_THAT(lima_template(), HasSubstr("[ -x /usr/local/bin/runsc ] || [ -x /usr/bin/runsc ]"));
}

TEST(GvisorPin, MalformedPinsAreRejected) {
  const std::string good(128, 'a'), other(128, 'b'), fpr(40, 'A');
  auto pin = [&](const std::string& channel, const std::string& rel, const std::string& key, const std::string& x,
                 const std::string& a) {
    return parse_gvisor_pin("GVISOR_CHANNEL=\"" + channel + "\"\nGVISOR_RELEASE=\"" + rel +
                            "\"\nGVISOR_KEY_FINGERPRINT=\"" + key + "\"\nGVISOR_SHA512_X86_64=\"" + x +
                            "\"\nGVISOR_SHA512_AARCH64=\"" + a + "\"\n");
  };
  EXPECT_TRUE(pin("release", "20240212.0", "", "", "").ok());
  EXPECT_TRUE(pin("release", "20240212", fpr, "", "").ok());
  EXPECT_TRUE(pin("20240212", "20240212.1", fpr + " " + std::string(40, 'B'), "", "").ok());
  EXPECT_TRUE(pin("release", "20240212.0", "", good, other)->binary());
  EXPECT_FALSE(pin("release", "latest", "", "", "").ok());
  EXPECT_FALSE(pin("release", "2024021", "", "", "").ok());
  EXPECT_FALSE(pin("release", "20240212.", "", "", "").ok());
  EXPECT_FALSE(pin("20240101", "20240212.0", "", "", "").ok());
  EXPECT_FALSE(pin("latest", "20240212.0", "", "", "").ok());
  EXPECT_FALSE(pin("release", "20240212.0", "0123 4567", "", "").ok());
  EXPECT_FALSE(pin("release", "20240212.0", std::string(40, 'a'), "", "").ok());
  EXPECT_FALSE(pin("release", "20240212.0", "", good.substr(1), other).ok());
  EXPECT_FALSE(pin("release", "20240212.0", "", good, std::string(128, 'A')).ok());
  auto one = pin("release", "20240212.0", "", good, "");
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().message(), "the VM template pins the runsc sha512 of one architecture only");
  EXPECT_EQ(one.error().fix(), "run scripts/pin-gvisor.sh --sha512 20240212.0 (or 20240212.0 for the apt repository)");
  auto missing = parse_gvisor_pin("GVISOR_CHANNEL=\"release\"\nGVISOR_RELEASE=\"20240212\"\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "the VM template must set GVISOR_KEY_FINGERPRINT exactly once (found 0)");
  EXPECT_EQ(missing.error().fix(), "run scripts/pin-gvisor.sh RELEASE");
}

TEST(GvisorPin, DescribeSaysWhereRunscComesFrom) {
  GvisorPin apt{"release", "20240212.0", "", "", ""};
  EXPECT_EQ(describe_gvisor_pin(apt),
            "runsc 20240212.0: from gVisor's signed apt repository (suite release), archive key fingerprint printed "
            "while provisioning (none recorded)");
  apt.key_fingerprint = std::string(40, 'A');
  EXPECT_THAT(describe_gvisor_pin(apt), HasSubstr("archive key checked against " + std::string(40, 'A')));
  GvisorPin bin{"release", "20240212.0", "", std::string(128, 'a'), std::string(128, 'b')};
  EXPECT_EQ(describe_gvisor_pin(bin), "runsc 20240212.0: the release's binary, checked against its pinned sha512");
}

TEST(TemplateValues, BadValuesSayHowToFixThem) {
  struct Case {
    TemplateValues v;
    std::string message;
  };
  const std::string src = "/src/brig";
  Case cases[] = {
      {{"/h", src, 0, "8GiB", "50GiB"}, "--cpus must be 1 to 256, got 0"},
      {{"/h", src, 4, "8GB", "50GiB"}, "--memory must be a size like 8GiB, got \"8GB\""},
      {{"/h", src, 4, "8GiB", "0GiB"}, "--disk must be a size like 50GiB, got \"0GiB\""},
      {{"rel", src, 4, "8GiB", "50GiB"}, "BRIG_HOME must be an absolute path, got \"rel\""},
      {{"/h", "/it's", 4, "8GiB", "50GiB"}, "the brig source tree \"/it's\" holds a character"},
      {{"/h$(x)", src, 4, "8GiB", "50GiB"}, "BRIG_HOME \"/h$(x)\" holds a character"},
  };
  for (const auto& c : cases) {
    auto st = validate_values(c.v);
    ASSERT_FALSE(st.ok()) << c.message;
    EXPECT_THAT(st.error().message(), HasSubstr(c.message));
    EXPECT_NE(st.error().fix(), "");
    EXPECT_EQ(st.error().exit_code(), 2);
  }
}

TEST(TemplateValues, UnknownPlaceholderIsAnError) {
  auto r = render_template("a: {{BRIG_HOME}}\nb: {{NOPE}}\nc: {{.Home}}\n", values());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("{{NOPE}}"));
  auto lima_own = render_template("c: {{.Home}}\n", values());
  ASSERT_TRUE(lima_own.ok());
  EXPECT_EQ(*lima_own, "c: {{.Home}}\n");
}

}  // namespace
}  // namespace brig::vm
