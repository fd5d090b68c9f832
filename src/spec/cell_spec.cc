#include "brig/spec/cell_spec.h"

#include "brig/spec/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace brig::spec {

std::string Origin::str() const {
  switch (kind) {
    case Kind::file: return where + ":" + std::to_string(line);
    case Kind::flag: return where;
    case Kind::profile: return "profile " + where;
    case Kind::builtin: return "default";
    case Kind::none: break;
  }
  return "spec";
}

SecretList secret_files(const StringList& names, const Origin& origin) {
  SecretList out;
  for (const auto& n : names) out.push_back({n, "", {}, false, origin});
  return out;
}

const std::vector<std::string>& field_names() {
  static const std::vector<std::string> names = {
#define BRIG_FIELD_NAME(f) #f,
      BRIG_CELL_SPEC_FIELDS(BRIG_FIELD_NAME)
#undef BRIG_FIELD_NAME
  };
  return names;
}

std::string Diagnostic::str() const {
  std::string out = origin.kind == Origin::Kind::none ? "" : origin.str() + ": ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

void add_unreported(Diagnostics& out, const Diagnostics& more) {
  // "policy.allow[2].paths" -> "policy.allow": a parser that skips an entry
  // shifts the indices after it, so the whole list counts as reported.
  auto base = [](const std::string& f) { return f.substr(0, f.find('[')); };
  auto covered = [&](const std::string& field) {
    const std::string b = base(field);
    return std::any_of(out.begin(), out.end(), [&](const Diagnostic& d) {
      const std::string r = base(d.field);
      return !r.empty() && (b == r || b.rfind(r + ".", 0) == 0 || r.rfind(b + ".", 0) == 0);
    });
  };
  Diagnostics kept;
  for (const auto& d : more) {
    if (!covered(d.field)) kept.push_back(d);
  }
  out.insert(out.end(), kept.begin(), kept.end());
}

Error to_error(const Diagnostics& input) {
  // Reported in file order, like a compiler; non-file origins (flags) last.
  Diagnostics diags = input;
  std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
    const bool fa = a.origin.kind == Origin::Kind::file, fb = b.origin.kind == Origin::Kind::file;
    if (fa != fb) return fa;
    if (!fa) return false;
    return std::tie(a.origin.where, a.origin.line) < std::tie(b.origin.where, b.origin.line);
  });
  std::string msg;
  for (const auto& d : diags) {
    if (!msg.empty()) msg += "\n";
    msg += d.str();
  }
  return Error(Errc::invalid, msg);
}

}  // namespace brig::spec
