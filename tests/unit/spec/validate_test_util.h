// Helpers shared by the validate*_test.cc files: parse a cell.yaml body, validate
// it, and compare the diagnostics as text.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "brig/core/strings.h"
#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec::testing {

inline constexpr const char* kImage = "image: localhost/agent:latest\n";

// Parses kImage + `body` as cell.yaml (so `body` starts on line 2) and
// validates it; returns every diagnostic as text.
inline std::vector<std::string> all_errs(const std::string& body, const ValidateOptions& opts = {}) {
  return strs(validate(cell(kImage + body), opts));
}

// Like all_errs(), without the "not supported yet" refusals (ValidateUnsupported
// tests those): what the detailed rules of ingress, host_services, ... say.
inline std::vector<std::string> without_unsupported(std::vector<std::string> e) {
  std::erase_if(e, [](const std::string& line) { return line.find(": not supported yet (") != std::string::npos; });
  return e;
}
inline std::vector<std::string> errs(const std::string& body, const ValidateOptions& opts = {}) {
  return without_unsupported(all_errs(body, opts));
}

// The single diagnostic for `body`; fails the test if there are none or several.
inline std::string err(const std::string& body, const ValidateOptions& opts = {}) {
  auto e = errs(body, opts);
  EXPECT_EQ(e.size(), 1u) << body << "\n-> " << str::join(e, "\n-> ");
  return e.empty() ? "" : e.front();
}

inline void expect_ok(const std::string& body, const ValidateOptions& opts = {}) {
  auto e = errs(body, opts);
  EXPECT_TRUE(e.empty()) << body << "\n-> " << str::join(e, "\n-> ");
}

inline ValidateOptions untrusted() { return {.untrusted = true}; }
inline ValidateOptions airgapped() { return {.airgapped = true}; }
inline ValidateOptions with(const Probe& p, bool is_untrusted = false) {
  return {.untrusted = is_untrusted, .probe = &p};
}

}  // namespace brig::spec::testing

// The helpers every validate_*_test.cc uses, by their short names.
namespace brig::spec {
using testing::airgapped;
using testing::all_errs;
using testing::err;
using testing::errs;
using testing::expect_ok;
using testing::FakeProbe;
using testing::kImage;
using testing::strs;
using testing::untrusted;
using testing::with;
using testing::without_unsupported;
using Kind = Probe::Kind;
}  // namespace brig::spec
