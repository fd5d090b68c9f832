// The cell spec: one schema filled from several sources (defaults, a profile,
// a YAML file, CLI flags), merged with strict precedence, validated once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace brig::spec {

// Where a value came from, for error messages and `run --dry-run`.
struct Origin {
  enum class Kind { none, builtin, profile, file, flag };
  Kind kind = Kind::none;
  std::string where;  // profile name, file path, or flag name ("--memory")
  int line = 0;       // 1-based, for Kind::file

  static Origin builtin() { return {Kind::builtin, "default", 0}; }
  static Origin profile(std::string name) { return {Kind::profile, std::move(name), 0}; }
  static Origin file(std::string path, int line) { return {Kind::file, std::move(path), line}; }
  static Origin flag(std::string name) { return {Kind::flag, std::move(name), 0}; }

  // "cell.yaml:7", "--memory", "profile untrusted", "default".
  std::string str() const;
};

template <class T>
struct Field {
  std::optional<T> value;
  Origin origin;

  bool has() const { return value.has_value(); }
  // The value, or `def` when the field is unset.
  template <class U>
  T value_or(U&& def) const {
    return value.value_or(std::forward<U>(def));
  }
  const T& operator*() const { return *value; }
  const T* operator->() const { return &*value; }
  void set(T v, Origin o) {
    value = std::move(v);
    origin = std::move(o);
  }
};

struct RateLimit {
  double rate = 0;   // tokens per second
  double burst = 0;  // bucket size
  Origin origin;
};

// One allow entry: "host", "host:port", "*.host" or {domain, paths, methods}.
struct AllowEntry {
  std::string domain;                // as written, "*." prefix kept, port removed
  std::optional<std::uint16_t> port; // from "host:port"; none = 80 and 443
  std::vector<std::string> paths;    // globs; empty = any path
  std::vector<std::string> methods;  // uppercase; empty = any method
  Origin origin;
  // A time-boxed grant (`brig policy set --allow HOST --ttl 15m`): the entry
  // lapses at this time, in seconds since the epoch. Policy documents only
  // ("expires": RFC 3339 UTC); a cell spec's `policy:` may not say it.
  std::optional<std::int64_t> expires = std::nullopt;
};

struct DomainEntry {
  std::string domain;
  Origin origin;
};

// A policy document: the global network-policy file and a cell's `policy:`
// block have this same shape.
struct PolicyBlock {
  std::vector<AllowEntry> allow;
  std::vector<DomainEntry> deny;
  std::vector<DomainEntry> tls_passthrough;
  std::optional<RateLimit> rate_default;
  std::map<std::string, RateLimit> rate_cells;  // rate_limits.cells.<name>
  // Cell policy files only (written by the engine for an airgapped cell):
  // nothing is allowed, whatever the global policy says.
  bool airgapped = false;
};

struct Ingress {
  std::string name;
  int port = 0;
  std::string path_prefix = "/";
  std::string auth = "bearer";
  Origin origin;
};

struct HostService {
  std::string name;
  int port = 0;
  std::string protocol = "http";  // http | tcp
  Origin origin;
};

struct HostSocket {
  std::string name;
  std::string host_path;
  std::string mount_point;
  std::string mode = "ro";  // ro | rw
  Origin origin;
};

using StringMap = std::map<std::string, std::string>;
using StringList = std::vector<std::string>;

// One entry of `secrets:`. The file form ("openai-key", `--secret NAME`) is
// mounted read-only at /run/secrets/NAME. The mapping form with `env` is
// injected by warden: the cell's variable `env` holds a placeholder, and
// warden puts the value in place of it in requests to `hosts` only
// (docs/security.md).
struct SecretRef {
  std::string name;
  std::string env;                 // empty: the file form
  std::vector<std::string> hosts;  // with env: policy-style hosts ("api.x.com", "*.x.com")
  bool allow_plaintext = false;    // with env: also over plain HTTP
  Origin origin;

  bool injected() const { return !env.empty(); }
};
using SecretList = std::vector<SecretRef>;

// The file form of each name (`--secret NAME`), each from `origin`.
SecretList secret_files(const StringList& names, const Origin& origin = {});

// Every field of a cell. The X-macro below lists them once so parse, merge,
// JSON output and unknown-key checks can never forget one.
struct CellSpec {
  Field<std::string> name;
  Field<std::string> image;
  Field<std::string> image_digest;
  Field<StringList> command;
  Field<StringMap> env;
  Field<std::string> profile;
  Field<std::string> runtime;          // runsc (default) | runc: a weaker runtime only by name
  Field<std::string> memory;
  Field<std::string> cpus;
  Field<std::int64_t> pids_limit;
  Field<std::string> workspace;        // host directory; default $BRIG_HOME/state/<cell>/workspace
  Field<std::string> workspace_mount;
  Field<std::string> workspace_quota;
  Field<bool> writable_rootfs;
  Field<bool> trust_warden_ca;
  Field<SecretList> secrets;
  Field<std::string> timeout;
  Field<StringMap> labels;
  Field<PolicyBlock> policy;
  Field<std::vector<Ingress>> ingress;
  Field<std::vector<HostService>> host_services;
  Field<std::vector<HostSocket>> host_sockets;
};

#define BRIG_CELL_SPEC_FIELDS(X)                                                                        \
  X(name) X(image) X(image_digest) X(command) X(env) X(profile) X(runtime) X(memory) X(cpus)          \
  X(pids_limit) X(workspace) X(workspace_mount) X(workspace_quota) X(writable_rootfs) X(trust_warden_ca) \
  X(secrets) X(timeout) X(labels) X(policy) X(ingress) X(host_services) X(host_sockets)

// The top-level keys a cell YAML may contain.
const std::vector<std::string>& field_names();

}  // namespace brig::spec
