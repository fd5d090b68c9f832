// The $BRIG_HOME layout. Every path brig reads or writes is derived here, so
// tests that set BRIG_HOME never touch the user's real ~/.brig.
#pragma once

#include <string>

namespace brig {

class Paths {
 public:
  explicit Paths(std::string home) : home_(std::move(home)) {}

  // $BRIG_HOME if set and non-empty, else $HOME/.brig.
  static Paths from_env();

  const std::string& home() const { return home_; }
  std::string config_json() const { return home_ + "/config.json"; }
  std::string warden_yaml() const { return home_ + "/warden.yaml"; }
  std::string ca_dir() const { return home_ + "/ca"; }
  std::string ca_cert() const { return ca_dir() + "/ca.crt"; }
  std::string ca_key() const { return ca_dir() + "/ca.key"; }
  std::string policy_dir() const { return home_ + "/policy"; }
  std::string global_policy() const { return policy_dir() + "/network-policy.json"; }
  std::string cell_policy(const std::string& cell) const { return policy_dir() + "/cells/" + cell + ".json"; }
  std::string state_dir() const { return home_ + "/state"; }
  std::string system_state() const { return state_dir() + "/system"; }
  std::string subnet_map() const { return system_state() + "/subnet-map.json"; }
  std::string cell_state(const std::string& cell) const { return state_dir() + "/" + cell; }
  std::string workspace(const std::string& cell) const { return cell_state(cell) + "/workspace"; }
  std::string secrets_dir() const { return home_ + "/secrets"; }
  std::string secret(const std::string& name) const { return secrets_dir() + "/" + name; }
  std::string profiles_dir() const { return home_ + "/profiles"; }
  std::string logs_dir() const { return home_ + "/logs"; }
  std::string cell_log(const std::string& cell) const { return logs_dir() + "/cells/" + cell + ".jsonl"; }
  std::string events_log() const { return logs_dir() + "/events.jsonl"; }
  std::string run_dir() const { return home_ + "/run"; }
  // The host relay (warden/host_relay.h): its socket's directory (mounted
  // into warden's container), the socket, its pid and log.
  std::string host_relay_dir() const { return run_dir() + "/host-relay"; }
  std::string host_relay_socket() const { return host_relay_dir() + "/relay.sock"; }
  std::string host_relay_pidfile() const { return run_dir() + "/host-relay.pid"; }
  std::string host_relay_log() const { return logs_dir() + "/host-relay.log"; }
  // brig api serve, as system up starts it.
  std::string api_socket() const { return run_dir() + "/api.sock"; }
  std::string api_pidfile() const { return run_dir() + "/api.pid"; }
  std::string api_log() const { return logs_dir() + "/api.log"; }
  // What podman runs as the cells' runtime where runsc needs a shim (named
  // runsc so podman treats it as runsc).
  std::string runsc_shim() const { return home_ + "/run/bin/runsc"; }
  std::string runsc_build() const { return home_ + "/run/bin/runsc-build"; }
  // Warm pools (engine/pools.h): each one's definition, its refiller's pid
  // and log, and a member's ready mark (in the member's state).
  std::string pools_dir() const { return home_ + "/pools"; }
  std::string pool(const std::string& name) const { return pools_dir() + "/" + name + ".json"; }
  std::string pool_pidfile(const std::string& name) const { return run_dir() + "/pools/" + name + ".pid"; }
  std::string pool_log(const std::string& name) const { return logs_dir() + "/pools/" + name + ".log"; }
  std::string pool_member(const std::string& cell) const { return cell_state(cell) + "/pool-member.json"; }
  // One image build's files (CA bundle, stat shim), removed when it ends.
  std::string build_dir(const std::string& id) const { return home_ + "/run/builds/" + id; }

 private:
  std::string home_;
};

}  // namespace brig
