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

// The pinned gVisor release: GVISOR_RELEASE= and GVISOR_SHA512_X86_64= /
// GVISOR_SHA512_AARCH64= lines in the template (scripts/pin-gvisor.sh
// rewrites them; scripts/check-gvisor-pin.sh checks them).
struct GvisorPin {
  std::string release;
  std::string sha512_x86_64;
  std::string sha512_aarch64;
};
// Errc::invalid if a line is missing or malformed (release `YYYYMMDD` or
// `YYYYMMDD.N`, 128 lowercase hex digits per hash).
Result<GvisorPin> parse_gvisor_pin(std::string_view tmpl);

}  // namespace brig::vm
