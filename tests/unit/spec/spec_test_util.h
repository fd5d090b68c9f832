// Helpers shared by the spec unit tests: parse-or-fail, error text, a fake Probe.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "brig/core/strings.h"
#include "brig/spec/parse.h"
#include "brig/spec/validate.h"

namespace brig::spec::testing {

// The SPEC §4 example, every field set.
inline constexpr const char* kFull = R"(name: my-agent
image: localhost/agent:latest
image_digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
command: ["agent", "serve"]
env: {LOG_LEVEL: info}
profile: supervised
runtime: runsc
memory: 2g
cpus: "2"
pids_limit: 1024
workspace: /srv/agent
workspace_mount: /work
workspace_quota: 10g
writable_rootfs: false
trust_warden_ca: true
secrets: [openai-key]
timeout: 2h
labels: {team: x}
policy:
  allow:
    - api.github.com
    - "*.amazonaws.com"
    - {domain: api.example.com, paths: ["/v1/*"], methods: [GET, POST]}
  deny: [evil.example]
  tls_passthrough: [chatgpt.com]
  rate_limits: {default: {rate: 100, burst: 500}}
ingress:
  - {name: web, port: 8080, path_prefix: /app, auth: bearer}
host_services:
  - {name: db, port: 5432, protocol: tcp}
  - {name: llm, port: 4000}
host_sockets:
  - {name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock, mode: rw}
)";

// Parses `yaml` as cell.yaml; a parse error fails the test.
inline CellSpec cell(const std::string& yaml) {
  auto r = parse_cell(yaml, "cell.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r ? *r : CellSpec{};
}

// The error message parse_cell gives for `yaml`; "" (and a failure) if it parses.
inline std::string parse_error(const std::string& yaml) {
  auto r = parse_cell(yaml, "cell.yaml");
  EXPECT_FALSE(r.ok()) << "expected a parse error for:\n" << yaml;
  if (r) return "";
  EXPECT_EQ(r.error().code(), Errc::invalid);
  return r.error().message();
}

inline std::string policy_error(const std::string& text, const std::string& file = "policy.json") {
  auto r = parse_policy(text, file);
  EXPECT_FALSE(r.ok()) << "expected a policy parse error for:\n" << text;
  return r ? "" : r.error().message();
}

inline std::vector<std::string> strs(const Diagnostics& diags) {
  std::vector<std::string> out;
  for (const auto& d : diags) out.push_back(d.str());
  return out;
}

// Answers lstat/realpath from tables; anything not listed is missing.
class FakeProbe final : public Probe {
 public:
  FakeProbe& add(const std::string& path, Kind k, std::string real = "") {
    kinds_[path] = k;
    reals_[path] = real.empty() ? path : std::move(real);
    return *this;
  }
  Kind kind(const std::string& path) const override {
    auto it = kinds_.find(path);
    return it == kinds_.end() ? Kind::missing : it->second;
  }
  std::optional<std::string> realpath(const std::string& path) const override {
    auto it = reals_.find(path);
    if (it == reals_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, Kind> kinds_;
  std::map<std::string, std::string> reals_;
};

}  // namespace brig::spec::testing
