#include "brig/spec/resolve.h"

#include "brig/core/strings.h"
#include "brig/spec/merge.h"

namespace brig::spec {
namespace {

bool labelled(const CellSpec& s, const char* value) {
  if (!s.labels.has()) return false;
  auto it = s.labels->find("brig.profile");
  return it != s.labels->end() && it->second == value;
}

// An error that ends resolution early, with the problems the sources already
// had in front of it, so none is hidden.
Error with_source_diags(const Sources& src, const Error& e) {
  if (src.diags.empty()) return e;
  return Error(Errc::invalid, to_error(src.diags).message() + "\n" + e.message(), e.fix());
}

}  // namespace

Result<Resolved> resolve(const Sources& src) {
  // The profile itself follows the same precedence as every other field.
  Field<std::string> profile = defaults().profile;
  if (src.yaml && src.yaml->profile.has()) profile = src.yaml->profile;
  if (src.flags.profile.has()) profile = src.flags.profile;

  std::optional<CellSpec> layer;
  if (src.user_profile) {
    auto user = src.user_profile(*profile);
    if (!user) return with_source_diags(src, user.error());
    layer = std::move(*user);
  }
  if (!layer) layer = builtin_profile(*profile);
  if (!layer) {
    auto names = builtin_profiles();
    names.insert(names.end(), src.user_profile_names.begin(), src.user_profile_names.end());
    std::string msg = profile.origin.str() + ": profile: unknown profile " + str::quote(*profile);
    if (auto s = str::closest(*profile, names)) msg += "; did you mean " + str::quote(*s) + "?";
    return with_source_diags(src, Error(Errc::invalid, msg, "use one of: " + str::join(names, ", ")));
  }

  CellSpec merged = merge(defaults(), *layer);
  if (src.yaml) merged = merge(merged, *src.yaml);
  merged = merge(merged, src.flags);
  merged.profile = profile;

  Resolved r;
  r.untrusted = profile_is_untrusted(*profile, *layer) || labelled(merged, "untrusted");
  r.airgapped = *profile == "airgapped" || labelled(*layer, "airgapped") || labelled(merged, "airgapped");
  // An airgapped cell gets no CA unless something above the defaults asked (an error then).
  if (r.airgapped && merged.trust_warden_ca.origin.kind == Origin::Kind::builtin) {
    merged.trust_warden_ca.set(false, merged.trust_warden_ca.origin);
  }
  // The label says what the cell is, never something a layer above contradicts.
  StringMap labels = merged.labels.value_or(StringMap{});
  labels["brig.profile"] = r.untrusted ? "untrusted" : r.airgapped ? "airgapped" : *profile;
  merged.labels.set(std::move(labels), merged.labels.has() ? merged.labels.origin : profile.origin);
  ValidateOptions opts;
  opts.untrusted = r.untrusted;
  opts.airgapped = r.airgapped;
  opts.probe = src.probe;
  opts.from_mac = src.from_mac;
  opts.host_socket_bridges = src.host_socket_bridges;
  Diagnostics diags = src.diags;
  add_unreported(diags, validate(merged, opts));
  if (!diags.empty()) return to_error(diags);
  r.spec = std::move(merged);
  if (src.from_mac) r.host_socket_bridges = src.host_socket_bridges;
  return r;
}

}  // namespace brig::spec
