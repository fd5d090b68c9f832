#include "brig/spec/cell_spec.h"

#include "brig/spec/diagnostics.h"

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

const std::vector<std::string>& field_names() {
  static const std::vector<std::string> names = {
#define BRIG_FIELD_NAME(f) #f,
      BRIG_CELL_SPEC_FIELDS(BRIG_FIELD_NAME)
#undef BRIG_FIELD_NAME
  };
  return names;
}

std::string Diagnostic::str() const {
  std::string out = origin.str() + ": ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

Error to_error(const Diagnostics& diags) {
  std::string msg;
  for (const auto& d : diags) {
    if (!msg.empty()) msg += "\n";
    msg += d.str();
  }
  return Error(Errc::invalid, msg);
}

}  // namespace brig::spec
