// The layer table merge_test.cc and resolve_test.cc share: a value per field
// and layer, its expected merged value, and the field's origin.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "brig/spec/cell_spec.h"
#include "brig/spec/json.h"

namespace brig::spec::testing {

// The layers of a merge, lowest first, each with its own origin.
inline const Origin kLayerOrigin[] = {Origin::builtin(), Origin::profile("p"), Origin::file("cell.yaml", 7),
                               Origin::flag("--x")};

inline const Origin& origin_of(const CellSpec& s, const std::string& field) {
#define BRIG_ORIGIN_OF(f) \
  if (field == #f) return s.f.origin;
  BRIG_CELL_SPEC_FIELDS(BRIG_ORIGIN_OF)
#undef BRIG_ORIGIN_OF
  ADD_FAILURE() << "no field " << field;
  static const Origin none;
  return none;
}

inline bool has_field(const CellSpec& s, const std::string& field) {
#define BRIG_HAS(f) \
  if (field == #f) return s.f.has();
  BRIG_CELL_SPEC_FIELDS(BRIG_HAS)
#undef BRIG_HAS
  return false;
}

inline std::string n(int i) { return std::to_string(i); }

// Sets `field` in `s` to a value distinct for layer `i` (0..3), valid for
// validate() so the same table can drive resolve().
inline void set_field(CellSpec& s, const std::string& field, int i) {
  const Origin& o = kLayerOrigin[i];
  if (field == "name") s.name.set("cell-" + n(i), o);
  else if (field == "image") s.image.set("localhost/img" + n(i), o);
  else if (field == "image_digest") s.image_digest.set("sha256:" + std::string(64, static_cast<char>('0' + i)), o);
  else if (field == "command") s.command.set({"cmd" + n(i)}, o);
  else if (field == "env") s.env.set({{"SHARED", "v" + n(i)}, {"K" + n(i), "x"}}, o);
  else if (field == "profile") s.profile.set("prof" + n(i), o);
  else if (field == "runtime") s.runtime.set(i % 2 ? "runc" : "runsc", o);
  else if (field == "memory") s.memory.set(n(i + 1) + "g", o);
  else if (field == "cpus") s.cpus.set(n(i + 1), o);
  else if (field == "pids_limit") s.pids_limit.set(1000 + i, o);
  else if (field == "workspace") s.workspace.set("/srv/ws" + n(i), o);
  else if (field == "workspace_mount") s.workspace_mount.set("/work" + n(i), o);
  else if (field == "workspace_quota") s.workspace_quota.set(n(i + 1) + "g", o);
  else if (field == "writable_rootfs") s.writable_rootfs.set(i % 2 == 1, o);
  else if (field == "trust_warden_ca") s.trust_warden_ca.set(i % 2 == 0, o);
  else if (field == "secrets") s.secrets.set(secret_files({"common", "s" + n(i)}, o), o);
  else if (field == "timeout") s.timeout.set(n(i + 1) + "h", o);
  else if (field == "labels") s.labels.set({{"shared", "v" + n(i)}, {"k" + n(i), "x"}}, o);
  else if (field == "policy") {
    PolicyBlock b;
    b.allow.push_back({"a" + n(i) + ".com", std::nullopt, {}, {}, o});
    b.deny.push_back({"d" + n(i) + ".com", o});
    b.tls_passthrough.push_back({"a" + n(i) + ".com", o});
    b.rate_default = RateLimit{static_cast<double>(i + 1), 100, o};
    b.rate_cells["shared"] = RateLimit{static_cast<double>(i + 1), 100, o};
    b.rate_cells["c" + n(i)] = RateLimit{1, 1, o};
    s.policy.set(std::move(b), o);
  } else if (field == "ingress") s.ingress.set({Ingress{"web" + n(i), 8080 + i, "/", "bearer", o}}, o);
  else if (field == "host_services") s.host_services.set({HostService{"svc" + n(i), 5000 + i, "http", o}}, o);
  else if (field == "host_sockets") {
    s.host_sockets.set({HostSocket{"s" + n(i), "/tmp/s" + n(i) + ".sock", "/run/host/s" + n(i), "ro", o}}, o);
  } else {
    ADD_FAILURE() << "set_field does not know " << field;
  }
}

// What the merged field must be when the layers in `set` (ascending) set it:
// the highest layer's value, except key-wise maps and unions.
inline nlohmann::json expected(const std::string& field, const std::vector<int>& set) {
  using nlohmann::json;
  const int top = set.back();
  if (field == "env" || field == "labels") {
    json m = json::object();
    for (int i : set) m[(field == "env" ? "K" : "k") + n(i)] = "x";
    m[field == "env" ? "SHARED" : "shared"] = "v" + n(top);
    return m;
  }
  if (field == "secrets") {
    json l = {"common"};
    for (int i : set) l.push_back("s" + n(i));
    return l;
  }
  if (field == "policy") {
    json allow = json::array(), deny = json::array();
    json cells = json::object();
    for (int i : set) {
      allow.push_back("a" + n(i) + ".com");
      deny.push_back("d" + n(i) + ".com");
      cells["c" + n(i)] = {{"rate", 1.0}, {"burst", 1.0}};
    }
    cells["shared"] = {{"rate", top + 1.0}, {"burst", 100.0}};
    return {{"allow", allow},
            {"deny", deny},
            {"tls_passthrough", allow},
            {"rate_limits", {{"default", {{"rate", top + 1.0}, {"burst", 100.0}}}, {"cells", cells}}}};
  }
  CellSpec only;
  set_field(only, field, top);
  return to_json(only)[field];
}

}  // namespace brig::spec::testing
