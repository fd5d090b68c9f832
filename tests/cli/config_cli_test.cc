// brig config set refuses a value that would break every later run, and
// brig system doctor checks the values it reports.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "cli/cli_harness.h"

namespace brig::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// --- brig config ---

class ConfigCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    nlohmann::json j = {{"podman", "/usr/bin/podman"}, {"runsc", "/usr/bin/runsc"}, {"runsc_network", "host"},
                        {"sandbox_network_works", false}, {"ulimits", {"nofile=1024:1024"}}, {"ops_port", 9464},
                        {"warden_threads", 2}};
    write("config.json", j.dump(2) + "\n");
    before_ = read("config.json");
  }
  std::string before_;
};

TEST_F(ConfigCliTest, SetRefusesUlimitsThatWouldBreakEveryRun) {
  auto out = brig({"config", "set", "ulimits", "foo"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, StartsWith("error: ulimits: \"foo\" is not NAME=SOFT:HARD\nfix: brig config set ulimits "));
  EXPECT_EQ(read("config.json"), before_);
  auto name = brig({"config", "set", "ulimits", "nofile=64:64,procs=1:1"});
  EXPECT_EQ(name.exit_code, 2);
  EXPECT_THAT(name.err, HasSubstr("\"procs\" is not a ulimit podman knows"));
  EXPECT_EQ(read("config.json"), before_);
  auto ok = brig({"config", "set", "ulimits", "nofile=64:64"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(brig({"config", "get", "ulimits"}).out, "nofile=64:64\n");
}

TEST_F(ConfigCliTest, SetRefusesSandboxNetworkTheProbeSawFail) {
  auto out = brig({"config", "set", "runsc_network", "sandbox"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("gVisor's own network stack did not work on this host"));
  EXPECT_THAT(out.err, HasSubstr("sandbox_network_works false"));
  EXPECT_THAT(out.err, HasSubstr("\nfix: brig system init\n"));
  EXPECT_EQ(read("config.json"), before_);
}

// doctor checks what it reports: a hand-edited bad value is a failure.
TEST_F(ConfigCliTest, DoctorFlagsABadUlimitsOrRunscNetwork) {
  auto j = nlohmann::json::parse(before_);
  j["ulimits"] = {"foo"};
  j["runsc_network"] = "sandbox";
  write("config.json", j.dump(2) + "\n");
  auto out = brig({"system", "doctor", "--quick"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.out, HasSubstr("[FAIL]  config"));
  EXPECT_THAT(out.out, HasSubstr("ulimits: \"foo\" is not NAME=SOFT:HARD"));
  EXPECT_THAT(out.out, HasSubstr("runsc_network sandbox"));
  EXPECT_THAT(out.out, Not(HasSubstr("[OK]    config")));
}

// --- the ingress keys ---

TEST_F(ConfigCliTest, IngressKeysAreCheckedAndStored) {
  auto bad = brig({"config", "set", "ingress_publish", "localhost:8443"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err,
            "error: ingress_publish \"localhost:8443\" is not IP:PORT (an IP address of this host and a port 1-65535; "
            "IPv6 as [::1]:8443)\nfix: brig config set ingress_publish 127.0.0.1:8443\n");
  EXPECT_EQ(read("config.json"), before_);
  auto body = brig({"config", "set", "ingress_max_body", "big"});
  EXPECT_EQ(body.exit_code, 2);
  EXPECT_THAT(body.err, HasSubstr("\nfix: brig config set ingress_max_body 64m\n"));
  EXPECT_EQ(read("config.json"), before_);

  auto ok = brig({"config", "set", "ingress_max_body", "16m"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ingress_max_body = 16777216\n");
  EXPECT_THAT(ok.err, HasSubstr("brig system up"));
  EXPECT_EQ(brig({"config", "get", "ingress_max_body"}).out, "16777216\n");
  EXPECT_EQ(brig({"config", "get", "ingress_publish"}).out, "127.0.0.1:8443\n");  // the default
  EXPECT_EQ(brig({"config", "get", "ingress_domain"}).out, "localhost\n");
  EXPECT_EQ(nlohmann::json::parse(read("config.json"))["ingress_max_body"], 16777216);
}

// config set takes the certificate and its key one at a time, and says
// what is still missing; up and doctor refuse one without the other.
TEST_F(ConfigCliTest, ACertificateWithoutItsKeyIsNotedThenRefusedByDoctor) {
  const std::string cert = write("tls/cert.pem", "-----BEGIN CERTIFICATE-----\n");
  auto out = brig({"config", "set", "ingress_cert", cert});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("note: ingress_cert is set but ingress_key is not"));
  EXPECT_THAT(out.err, HasSubstr("next: brig config set ingress_key /ABSOLUTE/PATH/key.pem\n"));
  auto doctor = brig({"system", "doctor", "--quick"});
  EXPECT_EQ(doctor.exit_code, 1);
  EXPECT_THAT(doctor.out, HasSubstr("ingress_cert is set but ingress_key is not"));
  const std::string key = write("tls/key.pem", "-----BEGIN PRIVATE KEY-----\n");
  auto both = brig({"config", "set", "ingress_key", key});
  EXPECT_EQ(both.exit_code, 0) << both.err;
  EXPECT_THAT(both.err, Not(HasSubstr("note:")));
}

TEST_F(ConfigCliTest, DoctorWarnsWhenIngressIsPublishedBeyondLoopback) {
  ASSERT_EQ(brig({"config", "set", "ingress_publish", "0.0.0.0:8443"}).exit_code, 0);
  auto out = brig({"system", "doctor", "--quick"});
  EXPECT_THAT(out.out, HasSubstr("ingress is published on 0.0.0.0:8443: reachable beyond this machine (bearer token only)"));
  EXPECT_THAT(out.out, HasSubstr("fix: brig config set ingress_publish 127.0.0.1:8443"));
}

TEST_F(ConfigCliTest, EveryVerbHasHelpText) {
  auto get = brig({"config", "get", "--help"});
  EXPECT_EQ(get.exit_code, 0);
  EXPECT_THAT(get.out, HasSubstr("print one setting"));
  EXPECT_THAT(get.out, HasSubstr("KEY TEXT REQUIRED           a setting: runsc_network"));
  auto set = brig({"config", "set", "--help"});
  EXPECT_THAT(set.out, HasSubstr("ulimits: comma list of NAME=SOFT:HARD"));
  EXPECT_THAT(set.out, HasSubstr("runsc_network: sandbox | host"));
  auto list = brig({"config", "list", "--help"});
  EXPECT_THAT(list.out, HasSubstr("print every setting and its value"));
}

}  // namespace
}  // namespace brig::testing
