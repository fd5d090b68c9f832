// resolve(): profiles, defaults, validation after the merge and
// untrusted-by-content.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "brig/core/strings.h"
#include "brig/spec/json.h"
#include "brig/spec/merge.h"
#include "brig/spec/parse.h"
#include "brig/spec/resolve.h"
#include "unit/spec/merge_test_util.h"
#include "unit/spec/spec_test_util.h"

namespace brig::spec {
namespace {

using nlohmann::json;
using testing::expected;
using testing::has_field;
using testing::kLayerOrigin;
using testing::n;
using testing::origin_of;
using testing::set_field;

// --- resolve() -----------------------------------------------------------------

Sources with_yaml(const std::string& yaml) {
  Sources src;
  src.yaml = testing::cell(yaml);
  return src;
}

std::string resolve_all_errors(const Sources& src) {
  auto r = resolve(src);
  EXPECT_FALSE(r) << "expected resolve() to fail";
  if (r) return "";
  EXPECT_EQ(r.error().code(), Errc::invalid);
  return r.error().message();
}

// resolve_all_errors() without the "not supported yet" refusals of
// host_services, host_sockets, ... (validate_test checks those): what the
// rules about them say.
std::string resolve_error(const Sources& src) {
  std::vector<std::string> kept;
  for (auto& line : str::split(resolve_all_errors(src), '\n')) {
    if (line.find(": not supported yet (") == std::string::npos) kept.push_back(line);
  }
  return str::join(kept, "\n");
}

// A user-profile loader answering `name` with parse_profile(text).
std::function<Result<std::optional<CellSpec>>(const std::string&)> user_profile(const std::string& name,
                                                                               const std::string& text) {
  return [name, text](const std::string& want) -> Result<std::optional<CellSpec>> {
    if (want != name) return std::optional<CellSpec>();
    auto p = parse_profile(text, "/home/u/.brig/profiles/" + name + ".yaml", name);
    if (!p) return p.error();
    return std::optional<CellSpec>(std::move(*p));
  };
}

TEST(Resolve, PrecedenceForEveryFieldFlagOverYamlOverProfileOverDefault) {
  for (const auto& field : field_names()) {
    if (field == "profile") continue;  // selects the profile layer: tested below
    for (int top = 1; top <= 3; ++top) {
      SCOPED_TRACE(field + " up to layer " + n(top));
      CellSpec prof, yaml, flags;
      prof.image.set("localhost/base", kLayerOrigin[1]);
      set_field(prof, field, 1);
      yaml.profile.set("custom", kLayerOrigin[2]);
      if (top >= 2) set_field(yaml, field, 2);
      if (top >= 3) set_field(flags, field, 3);
      Sources src;
      src.yaml = yaml;
      src.flags = flags;
      src.user_profile = [&prof](const std::string& want) -> Result<std::optional<CellSpec>> {
        if (want != "custom") return std::optional<CellSpec>();
        return std::optional<CellSpec>(prof);
      };
      auto r = resolve(src);
      if (field == "workspace_quota") {
        // Refused as not supported yet, naming the layer that won.
        ASSERT_FALSE(r);
        const std::string want = kLayerOrigin[top].str() + ": " + field + ": not supported yet (";
        EXPECT_EQ(r.error().message().substr(0, want.size()), want);
        continue;
      }
      ASSERT_TRUE(r) << r.error().message();
      std::vector<int> set;
      for (int i = 1; i <= top; ++i) set.push_back(i);
      auto want = expected(field, set);
      if (field == "labels") want["brig.profile"] = "custom";  // resolve() always states the profile
      EXPECT_EQ(to_json(r->spec)[field], want);
      EXPECT_EQ(origin_of(r->spec, field).str(), kLayerOrigin[top].str());
    }
  }
}

TEST(Resolve, ProfileLabelCannotBeContradicted) {
  Sources src;
  CellSpec yaml;
  yaml.image.set("img", Origin::file("cell.yaml", 1));
  yaml.profile.set("untrusted", Origin::file("cell.yaml", 2));
  yaml.labels.set({{"brig.profile", "supervised"}}, Origin::file("cell.yaml", 3));
  src.yaml = yaml;
  auto r = resolve(src);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->untrusted);
  EXPECT_EQ(r->spec.labels->at("brig.profile"), "untrusted");
}

TEST(Resolve, AirgappedRefusesHostAccessAndCa) {
  Sources src;
  CellSpec yaml;
  yaml.image.set("img", Origin::file("cell.yaml", 1));
  yaml.profile.set("airgapped", Origin::file("cell.yaml", 2));
  yaml.trust_warden_ca.set(true, Origin::file("cell.yaml", 3));
  HostService svc;
  svc.name = "db";
  svc.port = 5432;
  svc.origin = Origin::file("cell.yaml", 5);
  yaml.host_services.set({svc}, Origin::file("cell.yaml", 4));
  src.yaml = yaml;
  auto r = resolve(src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "cell.yaml:3: trust_warden_ca: the airgapped profile mounts no CA (there is no egress to inspect)\n"
            "cell.yaml:4: host_services: the airgapped profile allows no egress at all");
}

TEST(Resolve, DefaultsFillWhatNoLayerSets) {
  auto r = resolve(with_yaml("image: alpine\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->spec.runtime, "runsc");
  EXPECT_EQ(r->spec.runtime.origin.str(), "default");
  EXPECT_EQ(*r->spec.workspace_mount, "/work");
  EXPECT_EQ(*r->spec.profile, "supervised");
  EXPECT_EQ(r->spec.profile.origin.str(), "default");
  EXPECT_EQ(*r->spec.memory, "2g");  // from the supervised profile
  EXPECT_EQ(r->spec.memory.origin.str(), "profile supervised");
  EXPECT_FALSE(r->untrusted);
  EXPECT_FALSE(r->airgapped);
}

TEST(Resolve, ProfileOverridesDefaults) {
  Sources src = with_yaml("image: alpine\nprofile: airgapped\n");
  auto r = resolve(src);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(*r->spec.trust_warden_ca);
  EXPECT_EQ(r->spec.trust_warden_ca.origin.str(), "profile airgapped");
  EXPECT_TRUE(r->airgapped);
}

TEST(Resolve, ProfileChoiceFlagOverYamlOverDefault) {
  std::vector<std::string> asked;
  Sources src = with_yaml("image: alpine\nprofile: dev\n");
  src.user_profile = [&asked](const std::string& name) -> Result<std::optional<CellSpec>> {
    asked.push_back(name);
    return std::optional<CellSpec>();
  };
  auto from_yaml = resolve(src);
  ASSERT_TRUE(from_yaml) << from_yaml.error().message();
  EXPECT_EQ(*from_yaml->spec.profile, "dev");
  EXPECT_EQ(from_yaml->spec.profile.origin.str(), "cell.yaml:2");
  EXPECT_TRUE(*from_yaml->spec.writable_rootfs);

  src.flags.profile.set("untrusted", Origin::flag("--profile"));
  auto from_flag = resolve(src);
  ASSERT_TRUE(from_flag) << from_flag.error().message();
  EXPECT_EQ(*from_flag->spec.profile, "untrusted");
  EXPECT_EQ(from_flag->spec.profile.origin.str(), "--profile");
  EXPECT_EQ(*from_flag->spec.memory, "1g");
  EXPECT_TRUE(from_flag->untrusted);
  EXPECT_EQ(asked, (std::vector<std::string>{"dev", "untrusted"}));
}

TEST(Resolve, EveryBuiltinProfileResolves) {
  for (const auto& name : builtin_profiles()) {
    Sources src = with_yaml("image: alpine\n");
    src.flags.profile.set(name, Origin::flag("--profile"));
    auto r = resolve(src);
    ASSERT_TRUE(r) << name << ": " << r.error().message();
    EXPECT_EQ(r->untrusted, name == "untrusted") << name;
    EXPECT_EQ(r->airgapped, name == "airgapped") << name;
  }
}

TEST(Resolve, ValidatesOnceAfterTheMerge) {
  // The yaml's bad memory is overridden by the flag: no error.
  Sources src = with_yaml("image: alpine\nmemory: 2x\n");
  src.flags.memory.set("3g", Origin::flag("--memory"));
  auto r = resolve(src);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->spec.memory, "3g");

  // A flag's bad value is reported with the flag's name.
  Sources bad = with_yaml("image: alpine\n");
  bad.flags.memory.set("2x", Origin::flag("--memory"));
  EXPECT_EQ(resolve_error(bad), "--memory: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or 2g");
}

TEST(Resolve, AllDiagnosticsOneErrorOnePerLine) {
  EXPECT_EQ(resolve_error(with_yaml("image: alpine\nname: Bad\ncpus: 0\n")),
            "cell.yaml:2: name: invalid cell name \"Bad\"; use 1-63 lowercase letters, digits and '-', starting with a "
            "letter or digit\n"
            "cell.yaml:3: cpus: invalid CPU count \"0\"; use a positive number such as 1, 2 or 0.5");
}

// Problems the caller found in the sources (the yaml's shape errors,
// malformed flags) come together with validation's, never instead of them.
TEST(Resolve, SourceDiagnosticsComeWithValidation) {
  Sources src = with_yaml("image: alpine\nmemory: 2x\n");
  src.diags = {{Origin::flag("--env"), "env", "\"NOEQ\" is not KEY=VALUE"}};
  EXPECT_EQ(resolve_all_errors(src),
            "cell.yaml:2: memory: invalid size \"2x\"; use a number with a unit, e.g. 512m or 2g\n"
            "--env: env: \"NOEQ\" is not KEY=VALUE");
}

// A field the parser reported (and left unset) gets no second word from validation.
TEST(Resolve, AFieldAlreadyReportedIsNotJudgedAgain) {
  Sources src = with_yaml("cpus: 0\n");
  src.diags = {{Origin::file("cell.yaml", 1), "image", "expected an image reference, got a list"}};
  EXPECT_EQ(resolve_all_errors(src),
            "cell.yaml:1: image: expected an image reference, got a list\n"
            "cell.yaml:1: cpus: invalid CPU count \"0\"; use a positive number such as 1, 2 or 0.5");
}

TEST(Resolve, UnknownProfileKeepsTheSourceDiagnostics) {
  Sources src = with_yaml("image: alpine\n");
  src.flags.profile.set("untrustd", Origin::flag("--profile"));
  src.diags = {{Origin::flag("--env"), "env", "\"NOEQ\" is not KEY=VALUE"}};
  auto r = resolve(src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "--env: env: \"NOEQ\" is not KEY=VALUE\n"
            "--profile: profile: unknown profile \"untrustd\"; did you mean \"untrusted\"?");
  EXPECT_EQ(r.error().fix().rfind("use one of: ", 0), 0u);
}

TEST(Resolve, UnknownProfileWithDidYouMean) {
  Sources src = with_yaml("image: alpine\n");
  src.flags.profile.set("supervisd", Origin::flag("--profile"));
  auto r = resolve(src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(r.error().message(), "--profile: profile: unknown profile \"supervisd\"; did you mean \"supervised\"?");
  EXPECT_EQ(r.error().fix(), "use one of: untrusted, supervised, dev, airgapped");
}

TEST(Resolve, UnknownProfileHintsIncludeUserProfiles) {
  Sources src = with_yaml("image: alpine\nprofile: team-strikt\n");
  src.user_profile_names = {"team-strict"};
  src.user_profile = [](const std::string&) -> Result<std::optional<CellSpec>> { return std::optional<CellSpec>(); };
  auto r = resolve(src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cell.yaml:2: profile: unknown profile \"team-strikt\"; did you mean \"team-strict\"?");
  EXPECT_EQ(r.error().fix(), "use one of: untrusted, supervised, dev, airgapped, team-strict");

  Sources far = with_yaml("image: alpine\nprofile: zzzzzzzzzz\n");
  auto r2 = resolve(far);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(), "cell.yaml:2: profile: unknown profile \"zzzzzzzzzz\"");
}

TEST(Resolve, UserProfileErrorsPropagate) {
  Sources src = with_yaml("image: alpine\nprofile: broken\n");
  src.user_profile = user_profile("broken", "memroy: 1g\n");
  EXPECT_EQ(resolve_error(src), "/home/u/.brig/profiles/broken.yaml:1: unknown key \"memroy\"; did you mean \"memory\"?");
}

TEST(Resolve, UserProfileShadowsTheBuiltin) {
  Sources src = with_yaml("image: alpine\nprofile: dev\n");
  src.user_profile = user_profile("dev", "memory: 8g\n");
  auto r = resolve(src);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->spec.memory, "8g");
  EXPECT_EQ(r->spec.memory.origin.str(), "/home/u/.brig/profiles/dev.yaml:1");
  EXPECT_FALSE(*r->spec.writable_rootfs);  // the builtin dev's value is not merged in
}

// --- untrusted and airgapped, recognised by content --------------------------

constexpr const char* kSocketYaml =
    "image: alpine\nprofile: sandbox\n"
    "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n";

TEST(Resolve, UserProfileLabelledUntrustedIsUntrusted) {
  Sources src = with_yaml("image: alpine\nprofile: sandbox\n");
  src.user_profile = user_profile("sandbox", "memory: 1g\nlabels: {brig.profile: untrusted}\n");
  auto ok = resolve(src);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_TRUE(ok->untrusted);

  Sources sockets = with_yaml(kSocketYaml);
  sockets.user_profile = src.user_profile;
  EXPECT_EQ(resolve_error(sockets),
            "cell.yaml:3: host_sockets: the untrusted profile forbids host sockets (traffic over them bypasses warden)");

  Sources tcp = with_yaml("image: alpine\nprofile: sandbox\nhost_services: [{name: db, port: 5432, protocol: tcp}]\n");
  tcp.user_profile = src.user_profile;
  EXPECT_EQ(resolve_error(tcp),
            "cell.yaml:3: host_services[0].protocol: the untrusted profile forbids tcp host services (warden cannot "
            "inspect them); use protocol: http");

  Sources pass = with_yaml("image: alpine\nprofile: sandbox\npolicy: {allow: [a.com], tls_passthrough: [a.com]}\n");
  pass.user_profile = src.user_profile;
  EXPECT_EQ(resolve_error(pass),
            "cell.yaml:3: policy.tls_passthrough: the untrusted profile forbids TLS passthrough (uninspected egress)");
}

TEST(Resolve, SameUserProfileWithoutTheLabelIsNotUntrusted) {
  Sources src = with_yaml(kSocketYaml);
  src.user_profile = user_profile("sandbox", "memory: 1g\n");
  // The untrusted rule does not fire.
  auto with_sockets = resolve(src);
  ASSERT_TRUE(with_sockets) << with_sockets.error().message();
  EXPECT_FALSE(with_sockets->untrusted);
  Sources plain = with_yaml("image: alpine\nprofile: sandbox\n");
  plain.user_profile = src.user_profile;
  auto ok = resolve(plain);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_FALSE(ok->untrusted);
}

TEST(Resolve, RelaxedUserProfileNamedUntrustedIsStillUntrusted) {
  const char* relaxed = "memory: 8g\npids_limit: 4096\nlabels: {brig.profile: supervised}\n";
  Sources src = with_yaml("image: alpine\nprofile: untrusted\n");
  src.user_profile = user_profile("untrusted", relaxed);
  auto r = resolve(src);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->untrusted);
  EXPECT_EQ(*r->spec.memory, "8g");

  Sources wr = with_yaml("image: alpine\nprofile: untrusted\nwritable_rootfs: true\n");
  wr.user_profile = src.user_profile;
  EXPECT_EQ(resolve_error(wr),
            "cell.yaml:3: writable_rootfs: the untrusted profile keeps the root filesystem read-only; write to the "
            "workspace, /tmp or /run instead");

  Sources sockets = with_yaml("image: alpine\nprofile: untrusted\n"
                              "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  sockets.user_profile = src.user_profile;
  EXPECT_EQ(resolve_error(sockets),
            "cell.yaml:3: host_sockets: the untrusted profile forbids host sockets (traffic over them bypasses warden)");

  Sources runc = with_yaml("image: alpine\nprofile: untrusted\nruntime: runc\n");
  runc.user_profile = src.user_profile;
  EXPECT_EQ(resolve_error(runc), "cell.yaml:3: runtime: the untrusted profile requires runsc (gVisor)");
}

TEST(Resolve, CellLabelMarkingItselfUntrustedIsUntrusted) {
  auto r = resolve(with_yaml("image: alpine\nlabels: {brig.profile: untrusted}\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->untrusted);
}

TEST(Resolve, BuiltinUntrustedForbidsHostAccessAndPassthrough) {
  Sources src = with_yaml("image: alpine\nprofile: untrusted\n"
                          "policy: {allow: [a.com], tls_passthrough: [a.com]}\n"
                          "host_services: [{name: db, port: 5432, protocol: tcp}, {name: llm, port: 4000}]\n"
                          "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  EXPECT_EQ(resolve_error(src),
            "cell.yaml:3: policy.tls_passthrough: the untrusted profile forbids TLS passthrough (uninspected egress)\n"
            "cell.yaml:4: host_services[0].protocol: the untrusted profile forbids tcp host services (warden cannot "
            "inspect them); use protocol: http\n"
            "cell.yaml:5: host_sockets: the untrusted profile forbids host sockets (traffic over them bypasses warden)");
}

TEST(Resolve, SupervisedAllowsHostAccessAndPassthrough) {
  Sources src = with_yaml("image: alpine\n"
                          "policy: {allow: [a.com], tls_passthrough: [a.com]}\n"
                          "host_services: [{name: db, port: 5432, protocol: tcp}]\n"
                          "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  // The untrusted rules do not fire.
  auto r = resolve(src);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r->spec.host_services)[0].protocol, "tcp");
}

// The macOS thin client's mark reaches validation: host sockets are refused.
TEST(Resolve, HostSocketsRefusedWhenForwardedFromAMac) {
  Sources src = with_yaml("image: alpine\n"
                          "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  ASSERT_TRUE(resolve(src));
  src.from_mac = true;
  EXPECT_EQ(resolve_all_errors(src),
            "cell.yaml:2: host_sockets: not supported yet on macOS (brig cannot bridge a socket on the Mac into its "
            "VM today); remove it, or run brig on a Linux host");
}

TEST(Resolve, AirgappedForbidsAllowAndWritableRootfs) {
  EXPECT_EQ(resolve_error(with_yaml("image: alpine\nprofile: airgapped\npolicy:\n  allow: [a.com]\n")),
            "cell.yaml:4: policy.allow: the airgapped profile allows no egress; remove policy.allow or choose another "
            "profile");
  Sources wr = with_yaml("image: alpine\nprofile: airgapped\n");
  wr.flags.writable_rootfs.set(true, Origin::flag("--writable-rootfs"));
  EXPECT_EQ(resolve_error(wr),
            "--writable-rootfs: writable_rootfs: the airgapped profile keeps the root filesystem read-only; write to "
            "the workspace, /tmp or /run instead");
}

TEST(Resolve, UserProfileLabelledAirgappedIsAirgapped) {
  Sources src = with_yaml("image: alpine\nprofile: offline\npolicy: {allow: [a.com]}\n");
  src.user_profile = user_profile("offline", "labels: {brig.profile: airgapped}\n");
  EXPECT_EQ(resolve_error(src),
            "cell.yaml:3: policy.allow: the airgapped profile allows no egress; remove policy.allow or choose another "
            "profile");
}

TEST(Resolve, HostChecksUseTheProbe) {
  testing::FakeProbe probe;
  probe.add("/tmp/pg.sock", Probe::Kind::socket, "/var/run/docker.sock");
  Sources src = with_yaml("image: alpine\n"
                          "host_sockets: [{name: pg, host_path: /tmp/pg.sock, mount_point: /run/host/pg.sock}]\n");
  src.probe = &probe;
  EXPECT_EQ(resolve_error(src),
            "cell.yaml:2: host_sockets[0].host_path: /tmp/pg.sock resolves to /var/run/docker.sock, a docker engine "
            "socket; it is never allowed");
}

}  // namespace
}  // namespace brig::spec
