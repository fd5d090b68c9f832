// Rendering vm/lima.yaml and reading its gVisor pin.
#include "brig/vm/template.h"

#include <cctype>

#include "brig/core/strings.h"

namespace brig::vm {
namespace {

bool is_size(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || digits > 6 || s[0] == '0') return false;
  auto unit = s.substr(digits);
  return unit == "MiB" || unit == "GiB" || unit == "TiB";
}

// Safe inside "..." in YAML and '...' in sh: no quotes, backslashes, `$`,
// newlines or other control characters.
bool safe_path_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '_' || c == '.' || c == '-' || c == '/' ||
         c == '+' || c == '@' || c == ',' || c == ':';
}

Status check_path(const std::string& what, const std::string& flag, const std::string& p) {
  if (p.empty() || p[0] != '/') {
    return Error(Errc::usage, what + " must be an absolute path, got " + str::quote(p), "pass an absolute path to " + flag);
  }
  for (char c : p) {
    if (!safe_path_char(c)) {
      return Error(Errc::usage, what + " " + str::quote(p) + " holds a character the VM template cannot carry safely",
                   "use a path made of letters, digits, space and _.-/+@,: (" + flag + ")");
    }
  }
  return {};
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

bool is_hex128(std::string_view s) {
  if (s.size() != 128) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// YYYYMMDD or YYYYMMDD.N
bool is_release(std::string_view s) {
  auto all_digits = [](std::string_view d) {
    if (d.empty()) return false;
    for (char c : d) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  };
  auto dot = s.find('.');
  auto date = s.substr(0, dot);
  if (date.size() != 8 || !all_digits(date) || date.substr(0, 2) != "20") return false;
  return dot == std::string_view::npos || all_digits(s.substr(dot + 1));
}

}  // namespace

Status validate_values(const TemplateValues& v) {
  if (v.cpus < 1 || v.cpus > 256) {
    return Error(Errc::usage, "--cpus must be 1 to 256, got " + std::to_string(v.cpus), "e.g. --cpus 4");
  }
  if (!is_size(v.memory)) {
    return Error(Errc::usage, "--memory must be a size like 8GiB, got " + str::quote(v.memory),
                 "use a whole number with MiB, GiB or TiB, e.g. --memory 8GiB");
  }
  if (!is_size(v.disk)) {
    return Error(Errc::usage, "--disk must be a size like 50GiB, got " + str::quote(v.disk),
                 "use a whole number with MiB, GiB or TiB, e.g. --disk 50GiB");
  }
  BRIG_TRY(check_path("BRIG_HOME", "BRIG_HOME", v.brig_home));
  BRIG_TRY(check_path("the brig source tree", "--source", v.source_dir));
  return {};
}

Result<std::string> render_template(std::string_view tmpl, const TemplateValues& v) {
  BRIG_TRY(validate_values(v));
  std::string out(tmpl);
  replace_all(out, "{{BRIG_HOME}}", v.brig_home);
  replace_all(out, "{{SOURCE_DIR}}", v.source_dir);
  replace_all(out, "{{CPUS}}", std::to_string(v.cpus));
  replace_all(out, "{{MEMORY}}", v.memory);
  replace_all(out, "{{DISK}}", v.disk);
  for (size_t at = out.find("{{"); at != std::string::npos; at = out.find("{{", at + 2)) {
    if (at + 2 < out.size() && (std::isupper(static_cast<unsigned char>(out[at + 2])) || out[at + 2] == '_')) {
      auto end = out.find("}}", at);
      return Error(Errc::invalid, "the VM template holds an unknown placeholder " +
                                      str::quote(out.substr(at, end == std::string::npos ? 20 : end + 2 - at)),
                   "fix vm/lima.yaml (known: BRIG_HOME, SOURCE_DIR, CPUS, MEMORY, DISK)");
    }
  }
  return out;
}

Result<GvisorPin> parse_gvisor_pin(std::string_view tmpl) {
  GvisorPin pin;
  auto value_of = [&](std::string_view key, std::string& dst) -> Status {
    int seen = 0;
    for (const auto& raw : str::split(tmpl, '\n')) {
      auto line = str::trim(raw);
      if (line.substr(0, key.size()) != key || line.size() <= key.size() || line[key.size()] != '=') continue;
      auto v = line.substr(key.size() + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      dst = std::string(v);
      ++seen;
    }
    if (seen != 1) {
      return Error(Errc::invalid, "the VM template must set " + std::string(key) + " exactly once (found " +
                                      std::to_string(seen) + ")",
                   "run scripts/pin-gvisor.sh RELEASE");
    }
    return {};
  };
  BRIG_TRY(value_of("GVISOR_CHANNEL", pin.channel));
  BRIG_TRY(value_of("GVISOR_RELEASE", pin.release));
  BRIG_TRY(value_of("GVISOR_KEY_FINGERPRINT", pin.key_fingerprint));
  BRIG_TRY(value_of("GVISOR_SHA512_X86_64", pin.sha512_x86_64));
  BRIG_TRY(value_of("GVISOR_SHA512_AARCH64", pin.sha512_aarch64));
  if (!is_release(pin.release)) {
    return Error(Errc::invalid, "GVISOR_RELEASE " + str::quote(pin.release) + " is not a release like 20240212.0",
                 "run scripts/pin-gvisor.sh RELEASE");
  }
  const std::string repin = "run scripts/pin-gvisor.sh " + pin.release;
  const std::string date = pin.release.substr(0, 8);
  if (pin.channel != "release" && pin.channel != date) {
    return Error(Errc::invalid, "GVISOR_CHANNEL " + str::quote(pin.channel) + " is neither \"release\" nor the dated suite " +
                                    date + " of GVISOR_RELEASE " + pin.release,
                 repin);
  }
  for (const auto& f : str::split(pin.key_fingerprint, ' ')) {
    if (f.empty()) continue;
    bool hex = f.size() == 40 || f.size() == 64;
    for (char c : f) hex = hex && (std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F'));
    if (!hex) {
      return Error(Errc::invalid, "GVISOR_KEY_FINGERPRINT holds " + str::quote(std::string(f)) +
                                      ", not a fingerprint of 40 (or 64) uppercase hex digits",
                   repin);
    }
  }
  if (pin.sha512_x86_64.empty() != pin.sha512_aarch64.empty()) {
    return Error(Errc::invalid, "the VM template pins the runsc sha512 of one architecture only",
                 "run scripts/pin-gvisor.sh --sha512 " + pin.release + " (or " + pin.release + " for the apt repository)");
  }
  if (pin.binary()) {
    for (const auto* h : {&pin.sha512_x86_64, &pin.sha512_aarch64}) {
      if (!is_hex128(*h)) {
        return Error(Errc::invalid, "a gVisor sha512 in the VM template is not 128 lowercase hex digits",
                     "run scripts/pin-gvisor.sh --sha512 " + pin.release);
      }
    }
  }
  return pin;
}

std::string describe_gvisor_pin(const GvisorPin& pin) {
  if (pin.binary()) return "runsc " + pin.release + ": the release's binary, checked against its pinned sha512";
  return "runsc " + pin.release + ": from gVisor's signed apt repository (suite " + pin.channel + "), archive key " +
         (pin.key_fingerprint.empty() ? "fingerprint printed while provisioning (none recorded)"
                                      : "checked against " + pin.key_fingerprint);
}

}  // namespace brig::vm
