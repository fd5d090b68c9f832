// Helpers shared by the policy unit tests: compile a policy from YAML, ask it
// a question, and check the verdict.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "brig/policy/policy.h"
#include "brig/spec/parse.h"

namespace brig::policy::testing {

inline spec::PolicyBlock block(std::string_view yaml, const std::string& file) {
  auto b = spec::parse_policy(yaml, file);
  EXPECT_TRUE(b.ok()) << yaml << ": " << (b ? "" : b.error().message());
  return b ? *b : spec::PolicyBlock{};
}

inline Policy compile(std::string_view global, std::string_view cell = {}, Options opts = {}) {
  const auto g = block(global, "global.yaml");
  const auto c = cell.empty() ? spec::PolicyBlock{} : block(cell, "cell.yaml");
  auto p = Policy::compile(g, cell.empty() ? nullptr : &c, opts);
  EXPECT_TRUE(p.ok()) << (p ? "" : p.error().message());
  return p ? std::move(*p) : Policy{};
}

// A CONNECT-level question: host and port only.
inline Verdict connect(const Policy& p, std::string_view host, std::uint16_t port = 443) {
  return p.evaluate({host, port, "", ""});
}

inline Verdict request(const Policy& p, std::string_view host, std::string_view method, std::string_view path,
                       std::uint16_t port = 443) {
  return p.evaluate({host, port, method, path});
}

inline ::testing::AssertionResult Allowed(const Verdict& v) {
  if (v.allowed() && v.reason == Reason::allowed && v.rule != "default deny") return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "denied: " << reason_text(v.reason) << " (" << v.rule << ")";
}

inline ::testing::AssertionResult Denied(const Verdict& v, Reason why) {
  if (!v.allowed() && v.reason == why && !v.rule.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << (v.allowed() ? "allowed" : "denied") << ": " << reason_text(v.reason)
                                       << " (" << v.rule << "), wanted " << reason_text(why);
}

}  // namespace brig::policy::testing
