// What warden knows about cells at one moment: the subnet map and each
// cell's effective policy (policy::effective), rate bucket and counters, as an
// immutable snapshot that handlers read without locks. build_snapshot() makes
// one from the files' texts alone — no file access, no clock — so it is unit
// tested directly and `brig policy test` can be checked against it;
// PolicyStore (policy_store.h) reads the files and publishes the result.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/hostname.h"
#include "brig/policy/policy.h"
#include "brig/spec/cell_spec.h"
#include "brig/state/host_services.h"
#include "brig/state/ingress_routes.h"
#include "brig/state/secret_injections.h"
#include "brig/state/subnet_map.h"
#include "brig/warden/netaddr.h"
#include "metrics.h"
#include "rate_limit.h"

namespace brig::warden {

// A secret warden injects for a cell (state/secret_injections.h), with its
// host patterns parsed.
struct CellSecret {
  state::InjectedSecret secret;
  std::vector<hostname::Pattern> hosts;
  bool for_host(std::string_view canonical_host) const;
};

struct CellState {
  std::string name;
  std::shared_ptr<const policy::Policy> policy;
  std::vector<CellSecret> secrets;
  std::vector<std::string> placeholders;  // each secret's, in order: what request bodies are scanned for
  std::shared_ptr<TokenBucket> bucket;
  std::shared_ptr<CellMetrics> metrics;
  std::shared_ptr<std::atomic<int>> tunnels;  // open CONNECT tunnels
  // Its host services (state/host_services.h) while its entry says running, else none.
  std::vector<state::HostServiceEntry> host_services;
  // The host service called `name`, or null.
  const state::HostServiceEntry* host_service(std::string_view name) const;
  // The host service declared tcp on `port`, or null.
  const state::HostServiceEntry* tcp_service_on(int port) const;
};

struct Snapshot {
  std::uint64_t generation = 0;
  std::int64_t now = 0;          // the time its policies were compiled at (SnapshotSources::now)
  std::int64_t next_expiry = 0;  // the soonest time-boxed grant to lapse, or 0: build again then
  std::vector<std::pair<Cidr, std::shared_ptr<CellState>>> subnets;
  // The cell whose subnet holds `addr` (v4-mapped v6 unwrapped), or null.
  const CellState* cell_for(const IpAddr& addr) const;
  // The cell named `name`, or null.
  const CellState* cell_named(std::string_view name) const;

  // Ingress routes by cell (state/ingress_routes.h): the last good version
  // of the route table.
  state::IngressTable ingress;
  // The host-services table (state/host_services.h): its last good version.
  state::HostServiceTable host_services;
  // Every port some cell declares a tcp host service on (warden listens on each).
  std::vector<std::uint16_t> tcp_service_ports() const;

  // Carried to the next build: the last good version of each file, used
  // when a file turns invalid.
  state::SubnetMap good_subnets;
  std::map<std::string, spec::PolicyBlock> good_policies;  // by path
  std::map<std::string, std::vector<state::InjectedSecret>> good_secrets;  // by path
};

// A file as read: its path (for messages) and its text, or why it could not
// be read (Errc::not_found: the file is absent).
struct SourceFile {
  std::string path;
  Result<std::string> text = Error(Errc::not_found, "absent");
};

struct SnapshotSources {
  SourceFile subnet_map;     // absent: no cells
  SourceFile global_policy;  // absent: an empty global policy
  std::map<std::string, SourceFile> cell_policies;  // by cell name; a cell missing here has no file
  SourceFile ingress_routes;                        // absent: no ingress routes
  SourceFile host_services;                         // absent: no host services
  std::map<std::string, SourceFile> cell_secrets;   // by cell name: its injected secrets, if any
  std::int64_t now = 0;  // seconds since the epoch: time-boxed grants lapsed by then are left out
};

// A time-boxed grant that lapsed between two builds.
struct LapsedGrant {
  std::string cell;
  std::string rule;  // as displayed ("allow api.x.com (policy set) until ...")
};

struct BuiltSnapshot {
  std::shared_ptr<const Snapshot> snapshot;  // never null
  // One line per problem ("policy reload: <error>; keeping the previous
  // version"); empty when every file was good.
  std::vector<std::string> errors;
  // Grants whose `expires` fell in (previous.now, in.now]: each cell using
  // them (a global one is named for every cell). Empty on a first build.
  std::vector<LapsedGrant> lapsed;
};

// Pure: the snapshot after `previous` given the files' texts. Generation is
// previous's + 1. A cell keeps its bucket and tunnel counter from `previous`
// (its counters come from `metrics`, which creates them once per cell). A
// file that is unreadable or invalid keeps its last good version from
// `previous`; a cell whose file was never good, or whose effective policy
// does not compile, denies everything (fail closed: the file may have said
// airgapped). Each is reported in `errors`. A secrets file that is invalid
// keeps its last good version too; one never good injects nothing.
BuiltSnapshot build_snapshot(const SnapshotSources& in, const Snapshot& previous, Metrics& metrics);

}  // namespace brig::warden
