// Pure argv builders for podman and the plans they are built from. No I/O:
// golden tests pin every flag (tests/unit/engine/podman_args_test.cc).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace brig::engine {

// Names and addresses brig reserves.
inline constexpr const char* kWardenContainer = "brig-warden";
inline constexpr const char* kExternalNetwork = "brig-ext";
inline constexpr const char* kExternalSubnet = "10.59.0.0/24";
inline constexpr const char* kWardenExternalIp = "10.59.0.2";
inline constexpr const char* kCellPool = "10.60.0.0/16";
inline constexpr int kProxyPort = 3128;
// Warden on each cell network also answers DNS (names the policy allows, with
// its own address) and takes plain HTTP and TLS from clients that ignore the
// proxy variables (docs/architecture.md).
inline constexpr int kDnsPort = 53;
inline constexpr int kHttpPort = 80;
inline constexpr int kHttpsPort = 443;
inline constexpr int kOpsPortInContainer = 9464;
inline constexpr int kIngressPortInContainer = 8443;  // warden's ingress listener on kWardenExternalIp
inline constexpr const char* kHostRelayDirInContainer = "/brig/host-relay";  // Paths::host_relay_dir(), read-only
// Where warden finds a user-supplied ingress certificate and key
// ($BRIG_HOME/run/warden-ingress, copied there by `brig system up`).
inline constexpr const char* kIngressTlsDir = "/brig/ingress";
inline constexpr const char* kCellLabel = "brig.cell";
inline constexpr const char* kRoleLabel = "brig.role";

std::string cell_container(const std::string& cell);  // "brig-<cell>"
std::string cell_network(const std::string& cell);    // "brig-<cell>": cells made before spares, image builds

// A cell's /24 in the pool: 10.60.<index>.0/24, gateway .1, warden .2, cell .10.
struct Subnet {
  int index = 0;  // 1..254
  std::string cidr() const;
  std::string gateway() const;
  std::string warden_ip() const;
  std::string cell_ip() const;
  // The cell's MAC address, fixed per subnet (locally administered): a
  // restarted cell keeps it, so warden's neighbour entry for the cell stays
  // right (a new MAC behind the same address leaves warden sending ingress
  // to the old one for seconds).
  std::string cell_mac() const;
};
// "brig_net_<index>": a cell network named after its subnet, so it outlives
// the cell as a spare (engine/subnets.h); never a cell's name (no '_').
std::string subnet_network(const Subnet& subnet);
bool is_subnet_network(const std::string& network);

struct Mount {
  std::string source, target;
  bool read_only = true;
};

// Everything `podman run` needs for a cell, decided before anything runs.
struct CellPlan {
  std::string name;
  std::string image;
  std::vector<std::string> command;          // empty: the image's default
  std::string entrypoint;                    // "": the image's (else the image's command is dropped too)
  std::map<std::string, std::string> env;    // user env + proxy and CA variables
  std::map<std::string, std::string> labels;
  std::string runtime = "runsc";
  std::string oci_runtime;                   // what podman runs ("" = runtime; else the runsc shim's path)
  std::string runsc_network;                 // "host" adds --runtime-flag network=host
  Subnet subnet;
  std::string network;                       // the podman network it joins
  std::string cidfile;                       // podman run --cidfile ("": none)
  std::string memory, cpus;
  std::int64_t pids_limit = 0;
  bool read_only_rootfs = true;
  std::string tmp_size = "256m", run_size = "64m";
  std::vector<Mount> mounts;
  std::string workdir;
  std::vector<std::pair<std::string, std::string>> hosts;  // /etc/hosts: name, address
  std::string seccomp_profile;               // host path; "" = podman's default
  std::vector<std::string> ulimits;
  std::optional<int> timeout_seconds;
  bool interactive = false;                  // stdin kept open (run -i, or piped input)
  bool tty = false;                          // a terminal (run -t)
};

// How the runtime runs one cell, as its record keeps it (record.h cell_runtime).
struct CellRuntime {
  std::string runtime = "runsc";
  std::string runsc_network;   // "host" adds network=host
  std::string runsc_host_uds;  // "host-uds=open" (or "fsgofer-host-uds"): the cell may connect to host sockets
};
// podman's --runtime-flag is a global option that is not stored with the
// container: every podman call that starts a cell passes it again.
std::vector<std::string> runtime_flags(const CellRuntime& r);
// `brig run` makes and starts a cell in one podman process (each costs ~50 ms
// of startup): `podman [runtime flags] run [-d] <the cell's flags> IMAGE [CMD]`.
// Attached, podman forwards the cell's stdout and stderr, and brig's stdin
// when the plan is interactive.
std::vector<std::string> cell_run_args(const CellPlan& plan, const CellRuntime& r, bool detach);
// `brig cell start` of an existing cell, detached.
std::vector<std::string> cell_start_args(const std::string& cell, const CellRuntime& r);
// `network` on `subnet`, labelled brig.cell=`owner` (the cell it was made for).
std::vector<std::string> network_create_args(const std::string& network, const Subnet& subnet, const std::string& owner);
std::vector<std::string> network_connect_args(const std::string& network, const std::string& container,
                                              const std::string& ip);

struct WardenPlan {
  std::string image;                 // localhost/brig-warden:<version>
  std::string home;                  // host $BRIG_HOME
  int ops_port = 9464;               // on the host's 127.0.0.1
  int threads = 2;
  std::vector<std::string> extra_ro_files;  // files warden.yaml references (upstream_ca)
  std::vector<std::string> ulimits;
  std::string config_id;             // label brig.config: what warden was started with
  // Warden's ingress: published on the host at `ingress_publish` (podman's
  // host side, "127.0.0.1:8443" or "[::1]:8443").
  std::string ingress_publish = "127.0.0.1:8443";
  std::string ingress_domain = "localhost";
  std::uint64_t ingress_max_body = 64ull << 20;
  // The user's certificate and key, mounted from run/warden-ingress at
  // kIngressTlsDir (cert.pem, key.pem); without, warden uses brig's CA.
  bool ingress_tls = false;
};
std::vector<std::string> warden_run_args(const WardenPlan& plan);
std::vector<std::string> external_network_create_args();

// What `brig cell <verb>` runs on the terminal, argv[0] "podman" (or "tar").
// logs: --follow streams; tail >= 0 keeps the last `tail` lines (0: none, only
// what follows), tail < 0 every line.
std::vector<std::string> cell_logs_args(const std::string& cell, bool follow, int tail);
// exec: `env` adds variables for this command only (--env K=V).
std::vector<std::string> cell_exec_args(const std::string& cell, bool interactive, bool tty,
                                        const std::vector<std::string>& command,
                                        const std::map<std::string, std::string>& env = {});
// bash if the image has it, else sh. Without a terminal `tty` is false and
// --interactive is passed twice, as brig always has.
std::vector<std::string> cell_shell_args(const std::string& cell, bool tty);
std::vector<std::string> cell_stats_args(const std::string& cell);
// runsc's state directory under podman as root (podman passes --root /run/<runtime>).
inline constexpr const char* kRunscRoot = "/run/runsc";
// `runsc` ("" for a runc cell) and the container's id: `runsc ps` in the sandbox.
std::vector<std::string> cell_top_args(const std::string& cell, const std::string& runsc = "",
                                       const std::string& container_id = "");
std::vector<std::string> cell_diff_args(const std::string& cell);
// `brig cell export`: the workspace as a tar stream to `output` ("" = stdout).
std::vector<std::string> workspace_export_args(const std::string& workspace, const std::string& output);

// `podman ps` listing only brig's cells: the label, plus an anchored name check
// done by the caller (user containers called "my-brig-x" never match).
std::vector<std::string> cell_ps_args(bool all);
bool is_cell_container_name(const std::string& name);

}  // namespace brig::engine
