// $BRIG_HOME/state/system/host-services.json: which cell may reach which
// service on the user's machine (spec `host_services`), by cell. The engine
// writes it under the state lock (an entry made from the spec when the cell
// is made, marked running when it starts and stopped when it stops, edited
// live by `brig policy set --host-service|--remove-host-service`, removed
// with the cell); warden reads it live to route <name>.host.brig and to open
// a listener per TCP port; the host relay (warden/host_relay.h) reads it on
// every connection and connects only to a port a running cell declared.
//
//   {"agent": {"address": "10.60.3.10", "running": true,
//              "services": [{"name": "db", "port": 5432, "protocol": "tcp"},
//                           {"name": "llm", "port": 4000, "protocol": "http"}]}}
//
// This file is the format's one owner: every writer and reader goes through it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/paths.h"

namespace brig::state {

inline constexpr std::string_view kHostServiceSuffix = ".host.brig";

struct HostServiceEntry {
  std::string name;             // 1-31 of [a-z0-9-], no leading or trailing '-': <name>.host.brig
  int port = 0;                 // on the user's machine's loopback
  std::string protocol = "http";  // http | tcp
  bool operator==(const HostServiceEntry&) const = default;
};

struct HostServiceCell {
  std::string address;  // IPv4 literal of the cell on its own network
  bool running = false;
  std::vector<HostServiceEntry> services;  // 0-16, names unique
  bool operator==(const HostServiceCell&) const = default;
  // The service called `name`, or null.
  const HostServiceEntry* find(std::string_view name) const;
};

using HostServiceTable = std::map<std::string, HostServiceCell>;  // by cell name

inline constexpr std::size_t kMaxHostServicesBytes = 1u << 20;

std::string host_services_path(const Paths& paths);  // state/system/host-services.json

// Where a cell reaches a service: "http://NAME.host.brig/" or
// "tcp://NAME.host.brig:PORT".
std::string host_service_url(const HostServiceEntry& e);

// The service label of a canonical host name ("db" for "db.host.brig"), or
// "" when the host is not <label>.host.brig.
std::string host_service_label(std::string_view canonical_host);

// Pure. Errc::invalid, each message starting with `source`, unless the text
// is a JSON object of cells in the shape above: cell names as the subnet
// map's, an IPv4 literal, at most 16 services with valid, unique names,
// ports 1-65535 and protocol http or tcp.
Result<HostServiceTable> parse_host_services(std::string_view text, const std::string& source);
// Pure. The same checks, then two-space indented JSON with a final newline.
Result<std::string> serialize_host_services(const HostServiceTable& table);

// The table on disk; an absent file is an empty table.
Result<HostServiceTable> load_host_services(const Paths& paths);

// Read-modify-write under the state lock (state/lock.h): `change` gets the
// whole table and returns whether it changed it; the file is then written
// atomically (0644: warden, another uid, reads it), or removed when the table
// becomes empty. An error from `change` leaves the file as it was. When it
// changed, `published` then gets the new table, still under the lock (so
// whatever it derives from the table is applied in the order of the edits);
// if that fails, the file is put back as it was and its error returned.
Status edit_host_services(const Paths& paths, const std::function<Result<bool>(HostServiceTable&)>& change,
                          const std::function<Status(const HostServiceTable&)>& published = {});
// Sets the cell's entry.
Status put_host_service_cell(const Paths& paths, const std::string& cell, const HostServiceCell& entry);
// Marks the cell's entry running or stopped; nothing to do when it has none.
Status set_host_service_cell_running(const Paths& paths, const std::string& cell, bool running);
// Removes the cell's entry; nothing to do when it has none.
Status remove_host_service_cell(const Paths& paths, const std::string& cell);

}  // namespace brig::state
