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
