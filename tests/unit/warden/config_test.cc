#include "brig/warden/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace brig::warden {
namespace {

namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "brig-config-test-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override {
    std::error_code ec;
    stdfs::remove_all(dir_, ec);
  }
  std::string write(const std::string& text) {
    const std::string path = dir_ + "/warden.yaml";
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigFile, AbsentFileIsFine) {
  Config cfg;
  auto st = load_config_file(dir_ + "/missing.yaml", cfg);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(cfg.resolve.empty());
  EXPECT_EQ(cfg.limits.header_limit, 64u * 1024);
}

TEST_F(ConfigFile, EmptyFileIsFine) {
  Config cfg;
  EXPECT_TRUE(load_config_file(write(""), cfg));
  EXPECT_TRUE(load_config_file(write("# nothing yet\n"), cfg));
  EXPECT_EQ(cfg.limits.cert_cache, 1024u);
}

TEST_F(ConfigFile, EveryKey) {
  const auto path = write(
      "resolve_overrides:\n"
      "  - api.example.com:443:198.18.0.2\n"
      "  - \"Internal.Example.com:8443:[fd00::2]\"\n"
      "upstream_ca: /etc/ssl/corp.pem\n"
      "limits:\n"
      "  header_limit: 32768\n"
      "  header_timeout_ms: 5000\n"
      "  idle_timeout_ms: 30000\n"
      "  connect_timeout_ms: 2000\n"
      "  max_tunnels_per_cell: 16\n"
      "  max_connections: 100\n"
      "  cert_cache: 8\n"
      "  pool_idle_per_host: 4\n"
      "  pool_idle_max: 64\n"
      "  drain_timeout_ms: 1500\n"
      "  dns_rate: 50\n"
      "  dns_burst: 100\n"
      "  dns_tcp_connections: 8\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_TRUE(st) << st.error().message();
  ASSERT_EQ(cfg.resolve.size(), 2u);
  EXPECT_EQ(cfg.resolve[0].host, "api.example.com");
  EXPECT_EQ(cfg.resolve[0].port, 443);
  EXPECT_EQ(cfg.resolve[0].addr, "198.18.0.2");
  EXPECT_EQ(cfg.resolve[1].host, "internal.example.com");
  EXPECT_EQ(cfg.resolve[1].port, 8443);
  EXPECT_EQ(cfg.resolve[1].addr, "fd00::2");
  EXPECT_EQ(cfg.upstream_ca, "/etc/ssl/corp.pem");
  EXPECT_EQ(cfg.limits.header_limit, 32768u);
  EXPECT_EQ(cfg.limits.header_timeout, 5000ms);
  EXPECT_EQ(cfg.limits.idle_timeout, 30000ms);
  EXPECT_EQ(cfg.limits.connect_timeout, 2000ms);
  EXPECT_EQ(cfg.limits.max_tunnels_per_cell, 16u);
  EXPECT_EQ(cfg.limits.max_connections, 100u);
  EXPECT_EQ(cfg.limits.pool_idle_per_host, 4u);
  EXPECT_EQ(cfg.limits.pool_idle_max, 64u);
  EXPECT_EQ(cfg.limits.cert_cache, 8u);
  EXPECT_EQ(cfg.limits.drain_timeout, 1500ms);
  EXPECT_EQ(cfg.limits.dns_rate, 50);
  EXPECT_EQ(cfg.limits.dns_burst, 100);
  EXPECT_EQ(cfg.limits.dns_tcp_connections, 8u);
}

TEST_F(ConfigFile, UnsetLimitsKeepTheirDefaults) {
  Config cfg;
  ASSERT_TRUE(load_config_file(write("limits:\n  cert_cache: 8\n"), cfg));
  EXPECT_EQ(cfg.limits.cert_cache, 8u);
  EXPECT_EQ(cfg.limits.idle_timeout, 60000ms);
  EXPECT_EQ(cfg.limits.max_tunnels_per_cell, 256u);
}

TEST_F(ConfigFile, UnknownKeyWithDidYouMean) {
  const auto path = write("upstream_ca: /a.pem\nupstream_cs: /b.pem\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::invalid);
  EXPECT_EQ(st.error().message(), path + ":2: unknown key \"upstream_cs\"; did you mean \"upstream_ca\"?");
}

TEST_F(ConfigFile, UnknownKeyWithoutHint) {
  const auto path = write("\n\nproxy_port: 3128\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), path + ":3: unknown key \"proxy_port\"");
}

TEST_F(ConfigFile, UnknownLimit) {
  const auto path = write("limits:\n  header_limit: 1024\n  idle_timeout: 5\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), path + ":3: limits: unknown key \"idle_timeout\"");
}

TEST_F(ConfigFile, BadOverrideNamesFileAndLine) {
  const auto path = write(
      "resolve_overrides:\n"
      "  - api.example.com:443:198.18.0.2\n"
      "  - api.example.com:0:198.18.0.2\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::invalid);
  EXPECT_EQ(st.error().message(),
            path + ":3: resolve override \"api.example.com:0:198.18.0.2\" is not HOST:PORT:ADDR");
}

TEST_F(ConfigFile, BadOverrideTexts) {
  for (const char* bad : {"api.example.com", "api.example.com:443", "api.example.com:443:api.internal",
                          "bad host:443:1.2.3.4"}) {
    Config cfg;
    auto st = load_config_file(write(std::string("resolve_overrides:\n  - \"") + bad + "\"\n"), cfg);
    EXPECT_FALSE(st) << bad;
  }
}

TEST_F(ConfigFile, WrongValueTypeNamesFileAndLine) {
  const auto path = write("limits:\n  header_limit: lots\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::invalid);
  EXPECT_EQ(st.error().message().rfind(path + ":2: ", 0), 0u) << st.error().message();
}

TEST_F(ConfigFile, YamlSyntaxErrorNamesFileAndLine) {
  const auto path = write("limits:\n  header_limit: [1, 2\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message().rfind(path + ":", 0), 0u) << st.error().message();
}

TEST_F(ConfigFile, TopLevelMustBeAMapping) {
  const auto path = write("- a\n- b\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), path + ": expected a mapping");
}

// A scalar where a list or mapping belongs must not be silently ignored.
TEST_F(ConfigFile, WrongShapeIsAnError) {
  for (const char* text : {"resolve_overrides: api.example.com:443:198.18.0.2\n", "limits: 5\n",
                           "limits:\n  - header_limit\n", "resolve_overrides:\n  a: b\n"}) {
    Config cfg;
    auto st = load_config_file(write(text), cfg);
    EXPECT_FALSE(st) << text;
    EXPECT_TRUE(cfg.resolve.empty()) << text;
  }
  const auto path = write("limits: 5\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), path + ":1: limits must be a mapping");
}

TEST_F(ConfigFile, NegativeLimitsAreErrors) {
  for (const char* text : {"limits:\n  header_limit: -1\n", "limits:\n  idle_timeout_ms: -5\n",
                           "limits:\n  max_connections: -1\n"}) {
    Config cfg;
    auto st = load_config_file(write(text), cfg);
    EXPECT_FALSE(st) << text;
  }
  const auto path = write("limits:\n  idle_timeout_ms: -5\n");
  Config cfg;
  auto st = load_config_file(path, cfg);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), path + ":2: limits: idle_timeout_ms must not be negative");
  EXPECT_EQ(cfg.limits.idle_timeout, 60000ms);
  const auto rate = write("limits:\n  dns_rate: 0\n");
  auto zero = load_config_file(rate, cfg);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message(), rate + ":2: limits: dns_rate must be positive");
}

// Endpoint -------------------------------------------------------------------

TEST(Endpoint, Parse) {
  auto v4 = Endpoint::parse("127.0.0.1:3128");
  ASSERT_TRUE(v4) << v4.error().message();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 3128);
  EXPECT_EQ(v4->str(), "127.0.0.1:3128");

  auto v6 = Endpoint::parse("[::1]:9464");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9464);
  EXPECT_EQ(v6->str(), "[::1]:9464");

  auto any = Endpoint::parse("0.0.0.0:0");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->port, 0) << "port 0 picks one";
}

TEST(Endpoint, Invalid) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
                          "localhost:80", "[::1]", "[::1]:", ":80", "[localhost]:80", "127.0.0.1 junk:80",
                          "::1:80"}) {  // IPv6 needs brackets (hostname::split_authority)
    auto r = Endpoint::parse(bad);
    EXPECT_FALSE(r) << bad;
  }
  auto r = Endpoint::parse("localhost:80");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_EQ(r.error().message(), "listen address \"localhost:80\" is not ADDR:PORT");
  EXPECT_EQ(r.error().fix(), "e.g. 127.0.0.1:3128 (port 0 picks one)");
}

// ResolveOverride --------------------------------------------------------------

TEST(ResolveOverride, Parse) {
  auto r = ResolveOverride::parse("API.Example.com.:443:198.18.0.2");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->host, "api.example.com");
  EXPECT_EQ(r->port, 443);
  EXPECT_EQ(r->addr, "198.18.0.2");
}

TEST(ResolveOverride, Ipv6Address) {
  for (const char* text : {"db.internal:5432:[fd00::1:2]", "db.internal:5432:fd00::1:2", "db.internal:5432:FD00:0::1:2"}) {
    auto r = ResolveOverride::parse(text);
    ASSERT_TRUE(r) << text << ": " << r.error().message();
    EXPECT_EQ(r->host, "db.internal");
    EXPECT_EQ(r->port, 5432);
    EXPECT_EQ(r->addr, "fd00::1:2") << text;
  }
}

TEST(ResolveOverride, AddressIsCanonical) {
  auto r = ResolveOverride::parse("a.test:80:127.1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->addr, "127.0.0.1");
}

TEST(ResolveOverride, Invalid) {
  for (const char* bad : {"", "a.test", "a.test:443", "a.test:0:1.2.3.4", "a.test:65536:1.2.3.4", "a.test::1.2.3.4",
                          "a.test:4x3:1.2.3.4", ":443:1.2.3.4", "a.test:443:", "a.test:443:a.other",
                          "a b:443:1.2.3.4", "a.test:443:[::1", "a.test:443:1.2.3.4 junk"}) {
    auto r = ResolveOverride::parse(bad);
    EXPECT_FALSE(r) << bad;
  }
  auto r = ResolveOverride::parse("a.test:0:1.2.3.4");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_EQ(r.error().message(), "resolve override \"a.test:0:1.2.3.4\" is not HOST:PORT:ADDR");
  EXPECT_EQ(r.error().fix(), "e.g. api.example.com:443:198.18.0.2");
}

}  // namespace
}  // namespace brig::warden
