// vm/lima.yaml: the Lima template compiled into brig, its placeholders, and
// the gVisor pin it carries.
#pragma once

#include <string>
#include <string_view>

#include "brig/core/error.h"

namespace brig::vm {

// What `brig vm create` fills into {{BRIG_HOME}}, {{SOURCE_DIR}}, {{CPUS}},
// {{MEMORY}} and {{DISK}}.
struct TemplateValues {
  std::string brig_home;   // absolute; mounted writable at the same path
  std::string source_dir;  // absolute; the brig source tree, mounted read-only
  int cpus = 4;
  std::string memory = "8GiB";
  std::string disk = "50GiB";
};

// The text of vm/lima.yaml as it was when brig was built.
std::string_view lima_template();

// The brig source tree brig was built from (the default --source).
std::string_view build_source_dir();

// Checks every value: cpus 1..256; sizes like "8GiB" (MiB, GiB, TiB); paths
// absolute, made only of letters, digits, space and `_.-/+@,:` (they land in
// double-quoted YAML and single-quoted shell inside the template), and the
// source dir holding CMakeLists.txt is the caller's job. Errc::usage with a fix.
Status validate_values(const TemplateValues& v);

// Substitutes the placeholders. Errc::invalid if the template still holds an
// unknown {{UPPERCASE}} placeholder afterwards (Lima's own {{.Field}}
// templates are left alone).
Result<std::string> render_template(std::string_view tmpl, const TemplateValues& v);

// The pinned gVisor release, from the GVISOR_* lines of provisioning step 3
// (scripts/pin-gvisor.sh rewrites them; scripts/check-gvisor-pin.sh checks
// them). With no sha512s runsc comes from gVisor's signed apt repository;
// with both, the release's runsc binary is installed, checked by sha512.
struct GvisorPin {
  std::string channel;          // apt suite: "release" or the dated suite YYYYMMDD of `release`
  std::string release;          // YYYYMMDD or YYYYMMDD.N: the runsc package version
  std::string key_fingerprint;  // "" (not recorded) or primary-key fingerprints, space-separated
  std::string sha512_x86_64;    // "" or 128 lowercase hex digits; both set or both ""
  std::string sha512_aarch64;
  bool binary() const { return !sha512_x86_64.empty(); }
};
// Errc::invalid, with scripts/pin-gvisor.sh as the fix, if a line is missing,
// repeated or malformed: channel `release` or the release's own date; release
// `YYYYMMDD` or `YYYYMMDD.N`; fingerprints of 40 or 64 uppercase hex digits;
// the sha512s both empty or both 128 lowercase hex digits.
Result<GvisorPin> parse_gvisor_pin(std::string_view tmpl);

// One line for `brig vm create`: where the VM's runsc will come from.
std::string describe_gvisor_pin(const GvisorPin& pin);

}  // namespace brig::vm
