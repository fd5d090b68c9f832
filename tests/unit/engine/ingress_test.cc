// Ingress on the engine's side: the config keys, warden's argv, the token
// check, and the route table (state/ingress_routes.h) through a cell's life.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "brig/state/ingress_routes.h"
#include "unit/engine/engine_fixture.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace brig::engine::testing;  // NOLINT: the fixture's helpers

const std::string kToken = std::string(64, 'a');
const Argv kAddressOf = {"podman", "container", "inspect", "--format",
                         "{{(index .NetworkSettings.Networks \"brig_net_1\").IPAddress}}", "brig-c1"};

class IngressTest : public EngineTest {
 protected:
  static spec::Resolved with_ingress(const std::string& name = "c1") {
    spec::Resolved r = resolved(name);
    const auto o = spec::Origin::file("cell.yaml", 9);
    r.spec.ingress.set({spec::Ingress{"web", 8080, "/", "bearer", o}, spec::Ingress{"api", 9000, "/api", "bearer", o}}, o);
    return r;
  }
  void add_token(const std::string& value) { ASSERT_TRUE(secret_add(paths, "c1-ingress-token", value).ok()); }
  state::IngressTable routes() const {
    auto t = state::load_ingress_routes(paths);
    EXPECT_TRUE(t.ok()) << t.error().message();
    return t ? *t : state::IngressTable{};
  }
  bool has_routes_file() const { return exists(state::ingress_routes_path(paths)); }
};

const std::vector<state::IngressRoute> kRoutes = {{"web", 8080, "/"}, {"api", 9000, "/api"}};

// --- run ---

TEST_F(IngressTest, DetachedRunPutsItsRoutesWithTheInspectedAddress) {
  add_token(kToken + "\n");  // `openssl rand -hex 32 | brig secrets add` stores a newline
  fake.on(kAddressOf, out(0, "10.60.1.77\n"));
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_ingress(), RunOptions{.detach = true});
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string outp = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  auto t = routes();
  ASSERT_EQ(t.count("c1"), 1u);
  EXPECT_EQ(t["c1"], (state::IngressCell{"10.60.1.77", true, sha256_hex(kToken), kRoutes}));
  // The inspection follows the run: podman assigns the address then.
  ASSERT_GE(find_run(), 0) << all_calls();
  EXPECT_GT(find_call(kAddressOf), find_run());
  // stdout is the name only ($(brig run -d ...)); the URLs go to stderr.
  EXPECT_EQ(outp, "c1\n");
  EXPECT_THAT(err, HasSubstr("ingress: https://c1.localhost:8443/ (route web -> port 8080)\n"
                             "ingress: https://c1.localhost:8443/api (route api -> port 9000)\n"));
  EXPECT_THAT(err, Not(HasSubstr("warning")));
}

TEST_F(IngressTest, RunWithoutTokenFailsBeforeAnythingIsCreated) {
  auto rc = engine.run(with_ingress(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cell c1 declares ingress, but the secret c1-ingress-token does not exist");
  EXPECT_EQ(rc.error().fix(), "openssl rand -hex 32 | brig secrets add c1-ingress-token -");
  EXPECT_EQ(rc.error().exit_code(), 125);
  EXPECT_FALSE(called({"podman", "network", "create"})) << all_calls();
  EXPECT_LT(find_run(), 0) << all_calls();
  EXPECT_FALSE(exists(paths.cell_state("c1")));
  EXPECT_FALSE(has_routes_file());
}

TEST_F(IngressTest, RunWithAnEmptyTokenFailsToo) {
  add_token(" \n");
  auto rc = engine.run(with_ingress(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.error().message(), "cell c1 declares ingress, but the secret c1-ingress-token is empty");
  EXPECT_EQ(rc.error().exit_code(), 125);
  EXPECT_FALSE(exists(paths.cell_state("c1")));
}

TEST_F(IngressTest, RunWithIngressNeedsAName) {
  spec::Resolved r = with_ingress();
  r.spec.name.value.reset();
  auto rc = engine.run(r, RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_THAT(rc.error().message(), HasSubstr("declares ingress but has no name"));
  EXPECT_THAT(rc.error().fix(), HasSubstr("brig run --name NAME"));
  EXPECT_EQ(rc.error().exit_code(), 2);
  EXPECT_LT(find_run(), 0) << all_calls();
}

TEST_F(IngressTest, AShortTokenWarnsAndTheRunGoesOn) {
  add_token("short\n");
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_ingress(), RunOptions{.detach = true});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_THAT(err, HasSubstr("warning: the ingress token c1-ingress-token is only 5 characters (use at least 32: "
                             "openssl rand -hex 32 | brig secrets add c1-ingress-token -)\n"));
  EXPECT_EQ(routes()["c1"].token_sha256, sha256_hex("short"));
}

TEST_F(IngressTest, AttachedRunRoutesWhileItRunsThenMarksTheRouteStopped) {
  add_token(kToken);
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_ingress(), RunOptions{});
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  // Not started yet when the route goes in: the address it was created with.
  EXPECT_FALSE(called(kAddressOf)) << all_calls();
  EXPECT_EQ(routes()["c1"], (state::IngressCell{"10.60.1.10", false, sha256_hex(kToken), kRoutes}));
  EXPECT_THAT(err, HasSubstr("ingress: https://c1.localhost:8443/ (route web -> port 8080)\n"));
}

TEST_F(IngressTest, AFailedStartTakesTheRouteAway) {
  add_token(kToken);
  fake.on(kRun, out(125, "", "Error: OCI runtime error\n"));
  fake.on(kCellStatus, out(0, "created 0\n"));
  auto rc = engine.run(with_ingress(), RunOptions{.detach = true});
  ASSERT_FALSE(rc.ok());
  EXPECT_FALSE(routes().count("c1"));
  expect_no_trace_of_c1();
}

TEST_F(IngressTest, ACellThatExitsAtOnceHasItsRouteStopped) {
  add_token(kToken);
  fake.on(kCellStatus, out(0, "exited 1\n"));
  ::testing::internal::CaptureStderr();
  auto rc = engine.run(with_ingress(), RunOptions{.detach = true});
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(rc.ok()) << rc.error().message();
  EXPECT_FALSE(routes()["c1"].running);
}

// Cold starts stay cold: no route table, no extra podman question.
TEST_F(IngressTest, ACellWithoutIngressNeverTouchesTheTable) {
  run_ok(resolved());
  ASSERT_TRUE(engine.stop("c1").ok());
  ASSERT_TRUE(engine.start("c1").ok());
  ASSERT_TRUE(engine.kill("c1", "KILL").ok());
  ASSERT_TRUE(engine.remove("c1", false).ok());
  EXPECT_FALSE(has_routes_file());
  EXPECT_FALSE(called(kAddressOf)) << all_calls();
}

// --- the verbs on a cell with ingress ---

TEST_F(IngressTest, StopMarksStoppedStartReplaysTheFreshAddressRmRemoves) {
  add_token(kToken);
  run_ok(with_ingress());
  ASSERT_TRUE(engine.stop("c1").ok());
  EXPECT_FALSE(routes()["c1"].running);
  EXPECT_EQ(routes()["c1"].routes, kRoutes);  // kept, so warden answers 503

  fake.on(kAddressOf, out(0, "10.60.1.78\n"));
  auto started = engine.start("c1");
  ASSERT_TRUE(started.ok()) << started.error().message();
  EXPECT_EQ(routes()["c1"], (state::IngressCell{"10.60.1.78", true, sha256_hex(kToken), kRoutes}));

  ASSERT_TRUE(engine.remove("c1", false).ok());
  EXPECT_FALSE(routes().count("c1"));
}

// The route is marked stopped before podman stops the cell (warden answers
// 503 rather than connecting to a cell going away), and put back when the
// cell does not stop.
TEST_F(IngressTest, AFailedStopLeavesTheRouteRunning) {
  add_token(kToken);
  run_ok(with_ingress());
  const auto before = routes()["c1"];
  ASSERT_TRUE(before.running);
  fake.on({"podman", "stop", "--time", "10", "brig-c1"}, out(125, "", "Error: cannot stop: device busy\n"));
  auto st = engine.stop("c1");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("device busy"));
  EXPECT_EQ(routes()["c1"], before);
}

// A token rotated while the cell was stopped is the one its next start uses.
TEST_F(IngressTest, StartReadsTheTokenAgain) {
  add_token(kToken);
  run_ok(with_ingress());
  ASSERT_TRUE(engine.stop("c1").ok());
  const std::string rotated(40, 'b');
  add_token(rotated);
  ASSERT_TRUE(engine.start("c1").ok());
  EXPECT_EQ(routes()["c1"].token_sha256, sha256_hex(rotated));
}

TEST_F(IngressTest, StartWithoutTheTokenRefusesBeforeStarting) {
  add_token(kToken);
  run_ok(with_ingress());
  ASSERT_TRUE(engine.stop("c1").ok());
  ASSERT_TRUE(secret_rm(paths, "c1-ingress-token", {}, false).ok());
  const std::size_t before = fake.calls.size();
  auto started = engine.start("c1");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().message(), "cell c1 declares ingress, but the secret c1-ingress-token does not exist");
  for (std::size_t i = before; i < fake.calls.size(); ++i) {
    EXPECT_THAT(str(fake.calls[i].argv), Not(HasSubstr(" start "))) << all_calls();
  }
  EXPECT_FALSE(routes()["c1"].running);
}

TEST_F(IngressTest, KillMarksStoppedOnlyWhenTheCellEnded) {
  add_token(kToken);
  run_ok(with_ingress());
  ASSERT_TRUE(engine.kill("c1", "HUP").ok());  // still running (kCellStatus)
  EXPECT_TRUE(routes()["c1"].running);
  ASSERT_TRUE(engine.kill("c1", "KILL").ok());
  EXPECT_FALSE(routes()["c1"].running);
}

TEST_F(IngressTest, InspectListsTheUrls) {
  add_token(kToken);
  run_ok(with_ingress());
  auto cfg = load_host_config(paths);
  ASSERT_TRUE(cfg.ok());
  cfg->ingress_domain = "cells.example.com";
  cfg->ingress_publish = "0.0.0.0:443";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ((*j)["ingress"], nlohmann::json::parse(R"([
    {"name": "web", "port": 8080, "path_prefix": "/", "url": "https://c1.cells.example.com/"},
    {"name": "api", "port": 9000, "path_prefix": "/api", "url": "https://c1.cells.example.com/api"}])"));
}

TEST_F(IngressTest, InspectOfACellWithoutIngressHasAnEmptyList) {
  run_ok(resolved());
  auto j = engine.inspect("c1");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["ingress"], nlohmann::json::array());
}

TEST_F(IngressTest, PreflightShowsTheTokenCheck) {
  auto find = [](const std::vector<Check>& checks) {
    auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "ingress token"; });
    return it == checks.end() ? Check{Check::Level::ok, "absent", "", ""} : *it;
  };
  Check missing = find(engine.preflight(with_ingress()));
  EXPECT_EQ(missing.level, Check::Level::fail);
  EXPECT_EQ(missing.fix, "openssl rand -hex 32 | brig secrets add c1-ingress-token -");
  add_token("tiny");
  Check short_one = find(engine.preflight(with_ingress()));
  EXPECT_EQ(short_one.level, Check::Level::warn);
  EXPECT_THAT(short_one.detail, HasSubstr("only 4 characters"));
  add_token(kToken);
  Check good = find(engine.preflight(with_ingress()));
  EXPECT_EQ(good.level, Check::Level::ok);
  EXPECT_EQ(good.detail, "c1-ingress-token present");
  EXPECT_EQ(find(engine.preflight(resolved())).name, "absent");
}

TEST_F(IngressTest, PruneRemovesRoutesOfCellsThatAreGone) {
  state::IngressCell ghost{"10.60.9.10", true, sha256_hex(kToken), kRoutes};
  ASSERT_TRUE(state::put_ingress_cell(paths, "ghost", ghost).ok());
  fake.on({"podman", "ps"}, out(0, "[]"));
  auto done = engine.prune(PruneOptions{.cells = true});
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_THAT(done->removed, ::testing::Contains("ingress routes of ghost"));
  EXPECT_FALSE(routes().count("ghost"));
}

// --- config ---

TEST(IngressConfig, DefaultsAndRoundTrip) {
  TempDir tmp;
  Paths paths(tmp.path());
  HostConfig c;
  EXPECT_EQ(c.ingress_publish, "127.0.0.1:8443");
  EXPECT_EQ(c.ingress_domain, "localhost");
  EXPECT_EQ(c.ingress_max_body, 67108864u);
  spit(tmp.path() + "/cert.pem", "-----BEGIN CERTIFICATE-----\n");
  spit(tmp.path() + "/key.pem", "-----BEGIN PRIVATE KEY-----\n");
  ASSERT_TRUE(config_set(c, "ingress_publish", "[::1]:9443").ok());
  ASSERT_TRUE(config_set(c, "ingress_domain", "Cells.Example.COM.").ok());
  ASSERT_TRUE(config_set(c, "ingress_cert", tmp.path() + "/cert.pem").ok());
  ASSERT_TRUE(config_set(c, "ingress_key", tmp.path() + "/key.pem").ok());
  ASSERT_TRUE(config_set(c, "ingress_max_body", "1m").ok());
  EXPECT_EQ(c.ingress_domain, "cells.example.com");  // stored canonical
  EXPECT_EQ(c.ingress_max_body, 1048576u);
  ASSERT_TRUE(save_host_config(paths, c).ok());
  auto back = load_host_config(paths);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ingress_publish, "[::1]:9443");
  EXPECT_EQ(back->ingress_domain, "cells.example.com");
  EXPECT_EQ(back->ingress_cert, tmp.path() + "/cert.pem");
  EXPECT_EQ(back->ingress_key, tmp.path() + "/key.pem");
  EXPECT_EQ(back->ingress_max_body, 1048576u);
  // An older config.json without the keys: the defaults.
  spit(paths.config_json(), "{}\n");
  auto old = load_host_config(paths);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->ingress_publish, "127.0.0.1:8443");
  EXPECT_EQ(old->ingress_max_body, 67108864u);
}

TEST(IngressConfig, BadValuesAreRefusedWithAFixAndChangeNothing) {
  HostConfig c;
  struct Case {
    std::string key, value, message, fix;
  };
  const std::vector<Case> cases = {
      {"ingress_publish", "localhost:8443", "ingress_publish \"localhost:8443\" is not IP:PORT",
       "brig config set ingress_publish 127.0.0.1:8443"},
      {"ingress_publish", "127.0.0.1", "is not IP:PORT", "brig config set ingress_publish 127.0.0.1:8443"},
      {"ingress_publish", "127.0.0.1:0", "is not IP:PORT", "brig config set ingress_publish 127.0.0.1:8443"},
      {"ingress_publish", "127.0.0.1:70000", "is not IP:PORT", "brig config set ingress_publish 127.0.0.1:8443"},
      {"ingress_publish", "::1:8443", "is not IP:PORT", "brig config set ingress_publish 127.0.0.1:8443"},
      {"ingress_domain", "10.0.0.1", "is an IP address", "brig config set ingress_domain localhost"},
      {"ingress_domain", "*.example.com", "ingress_domain \"*.example.com\": ", "brig config set ingress_domain localhost"},
      {"ingress_domain", "", "ingress_domain \"\": ", "brig config set ingress_domain localhost"},
      {"ingress_cert", "cert.pem", "is not an absolute path", "brig config set ingress_cert /ABSOLUTE/PATH/cert.pem"},
      {"ingress_cert", "/nonexistent/cert.pem", "ingress_cert /nonexistent/cert.pem: ",
       "brig config set ingress_cert /ABSOLUTE/PATH/cert.pem"},
      {"ingress_key", "/", "is not a regular file", "brig config set ingress_key /ABSOLUTE/PATH/key.pem"},
      {"ingress_max_body", "0", "is not a size", "brig config set ingress_max_body 64m"},
      {"ingress_max_body", "lots", "is not a size", "brig config set ingress_max_body 64m"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.key + "=" + k.value);
    auto st = config_set(c, k.key, k.value);
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(st.error().message(), HasSubstr(k.message));
    EXPECT_EQ(st.error().message().find('\n'), std::string::npos);
    EXPECT_EQ(st.error().fix(), k.fix);
    EXPECT_EQ(st.error().exit_code(), 2);
  }
  EXPECT_EQ(c.ingress_publish, "127.0.0.1:8443");
  EXPECT_EQ(c.ingress_domain, "localhost");
  EXPECT_EQ(c.ingress_cert, "");
  EXPECT_EQ(c.ingress_max_body, 67108864u);
}

TEST(IngressConfig, CertAndKeyGoTogether) {
  TempDir tmp;
  spit(tmp.path() + "/cert.pem", "x");
  HostConfig c;
  EXPECT_TRUE(check_setting(c, "ingress_tls").ok());
  ASSERT_TRUE(config_set(c, "ingress_cert", tmp.path() + "/cert.pem").ok());  // one at a time is fine here
  auto st = check_setting(c, "ingress_tls");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("ingress_cert is set but ingress_key is not"));
  EXPECT_EQ(st.error().fix(), "brig config set ingress_key /ABSOLUTE/PATH/key.pem");
  ASSERT_TRUE(config_set(c, "ingress_cert", "").ok());
  EXPECT_TRUE(check_setting(c, "ingress_tls").ok());
}

TEST(IngressConfig, ExposureBeyondLoopbackIsWarned) {
  HostConfig c;
  EXPECT_FALSE(ingress_exposure_warning(c));
  c.ingress_publish = "127.0.0.2:8443";
  EXPECT_FALSE(ingress_exposure_warning(c));
  c.ingress_publish = "[::1]:8443";
  EXPECT_FALSE(ingress_exposure_warning(c));
  c.ingress_publish = "0.0.0.0:8443";
  EXPECT_EQ(ingress_exposure_warning(c),
            "ingress is published on 0.0.0.0:8443: reachable beyond this machine (bearer token only)");
  c.ingress_publish = "[::]:8443";
  EXPECT_TRUE(ingress_exposure_warning(c));
}

TEST(IngressConfig, PublishAddressInPodmansForm) {
  EXPECT_EQ(parse_publish_address("127.0.0.1:8443")->podman_host(), "127.0.0.1:8443");
  EXPECT_EQ(parse_publish_address("[::1]:8443")->podman_host(), "[::1]:8443");
  EXPECT_FALSE(parse_publish_address("127.1:8443"));  // one spelling of an address
}

TEST_F(IngressTest, DoctorWarnsWhenIngressIsPublishedBeyondLoopback) {
  auto cfg = load_host_config(paths);
  ASSERT_TRUE(cfg.ok());
  auto find = [&] {
    auto checks = engine.doctor(true);
    auto it = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return c.name == "ingress"; });
    return it == checks.end() ? std::optional<Check>() : std::optional<Check>(*it);
  };
  EXPECT_FALSE(find());
  cfg->ingress_publish = "0.0.0.0:8443";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  auto c = find();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->level, Check::Level::warn);
  EXPECT_EQ(c->detail, "ingress is published on 0.0.0.0:8443: reachable beyond this machine (bearer token only)");
  EXPECT_EQ(c->fix, "brig config set ingress_publish 127.0.0.1:8443");
}

// --- system up: warden's container ---

class IngressUpTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    spit(paths.ca_dir() + "/ca.key", "key");
    fake.on({"sha256sum"}, out(0, "abc  /usr/bin/brig\n"));
    fake.on({"podman", "image", "inspect"}, out(0, "abc\n"));  // the warden image is current
    fake.on({"podman", "container", "inspect", "--format", "{{.State.Pid}}", "brig-warden"}, out(0, "4242\n"));
  }
  Argv warden_run() const {
    long i = find_call({"podman", "run", "-d", "--name", "brig-warden"});
    EXPECT_GE(i, 0) << all_calls();
    return i < 0 ? Argv{} : fake.calls[static_cast<std::size_t>(i)].argv;
  }
  std::string config_label(const Argv& a) const {
    for (const auto& s : a) {
      if (s.rfind("brig.config=", 0) == 0) return s;
    }
    return "";
  }
};

TEST_F(IngressUpTest, PublishesIngressAndPassesItsSettings) {
  auto st = engine.up("/usr/bin/brig");
  ASSERT_TRUE(st.ok()) << st.error().message();
  const Argv a = warden_run();
  EXPECT_TRUE(has_pair(a, "--publish", "127.0.0.1:8443:8443")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ingress-listen", "10.59.0.2:8443")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ingress-domain", "localhost")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ingress-max-body", "67108864")) << str(a);
  EXPECT_THAT(str(a), Not(HasSubstr("--ingress-cert"))) << str(a);
  EXPECT_FALSE(exists(paths.run_dir() + "/warden-ingress"));
  // Warden's own table, inside its network namespace.
  EXPECT_GE(find_call({"nsenter", "--net=/proc/4242/ns/net", "--", "nft", "-f", "-"}), 0) << all_calls();
}

TEST_F(IngressUpTest, CopiesTheUsersCertificateForWardenAndRestartsOnAChange) {
  ASSERT_TRUE(engine.up("/usr/bin/brig").ok());
  const std::string before = config_label(warden_run());
  spit(tmp.path() + "/cert.pem", "-----BEGIN CERTIFICATE-----\nc\n");
  spit(tmp.path() + "/key.pem", "-----BEGIN PRIVATE KEY-----\nk\n");
  auto cfg = load_host_config(paths);
  ASSERT_TRUE(cfg.ok());
  cfg->ingress_cert = tmp.path() + "/cert.pem";
  cfg->ingress_key = tmp.path() + "/key.pem";
  cfg->ingress_domain = "cells.example.com";
  cfg->ingress_publish = "[::1]:9443";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  fake.calls.clear();
  auto st = engine.up("/usr/bin/brig");
  ASSERT_TRUE(st.ok()) << st.error().message();
  const Argv a = warden_run();
  EXPECT_NE(config_label(a), before);
  EXPECT_TRUE(has_pair(a, "--publish", "[::1]:9443:8443")) << str(a);
  EXPECT_TRUE(has_pair(a, "--volume", paths.run_dir() + "/warden-ingress:/brig/ingress:ro")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ingress-cert", "/brig/ingress/cert.pem")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ingress-key", "/brig/ingress/key.pem")) << str(a);
  EXPECT_TRUE(has_pair(a, "--ingress-domain", "cells.example.com")) << str(a);
  EXPECT_EQ(slurp(paths.run_dir() + "/warden-ingress/key.pem"), "-----BEGIN PRIVATE KEY-----\nk\n");
  struct stat st_key {};
  ASSERT_EQ(::stat((paths.run_dir() + "/warden-ingress/key.pem").c_str(), &st_key), 0);
  EXPECT_EQ(st_key.st_mode & 0777, 0400u);
  EXPECT_EQ(st_key.st_uid, 65534u);

  // A renewed certificate at the same path is a new container too.
  const std::string with_cert = config_label(a);
  spit(tmp.path() + "/cert.pem", "-----BEGIN CERTIFICATE-----\nrenewed\n");
  fake.calls.clear();
  ASSERT_TRUE(engine.up("/usr/bin/brig").ok());
  EXPECT_NE(config_label(warden_run()), with_cert);

  // Dropped again: warden's copy goes.
  cfg->ingress_cert = cfg->ingress_key = "";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  ASSERT_TRUE(engine.up("/usr/bin/brig").ok());
  EXPECT_FALSE(exists(paths.run_dir() + "/warden-ingress"));
}

TEST_F(IngressUpTest, RefusesACertificateWithoutItsKey) {
  spit(tmp.path() + "/cert.pem", "-----BEGIN CERTIFICATE-----\n");
  auto cfg = load_host_config(paths);
  ASSERT_TRUE(cfg.ok());
  cfg->ingress_cert = tmp.path() + "/cert.pem";
  ASSERT_TRUE(save_host_config(paths, *cfg).ok());
  auto st = engine.up("/usr/bin/brig");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("ingress_cert is set but ingress_key is not"));
  EXPECT_FALSE(called({"podman", "run"})) << all_calls();
}

}  // namespace
}  // namespace brig::engine
