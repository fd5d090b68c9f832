// Validation of a merged cell spec. Pure: filesystem questions go through Probe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "brig/spec/cell_spec.h"
#include "brig/spec/diagnostics.h"

namespace brig::spec {

// What validation may ask about the host. The CLI passes a real one; tests fake it.
class Probe {
 public:
  enum class Kind { missing, socket, symlink, directory, file, other };
  virtual ~Probe() = default;
  virtual Kind kind(const std::string& path) const = 0;  // lstat, no following
  virtual std::optional<std::string> realpath(const std::string& path) const = 0;
};

struct ValidateOptions {
  bool untrusted = false;        // the resolved profile is untrusted (by content)
  bool airgapped = false;        // no egress at all
  const Probe* probe = nullptr;  // null: host-side checks are skipped
  // The command came through the macOS thin client (vm/thin_client.h): host
  // paths name files in the VM, not on the Mac, so host sockets are refused
  // unless the thin client bridged them into the VM.
  bool from_mac = false;
  // With from_mac: host socket name -> the VM path the thin client bridges
  // its host_path to (vm/host_socket_bridge.h). The thin client checked the
  // Mac's file (host_socket_path_problem); the engine checks the bridged one.
  std::map<std::string, std::string> host_socket_bridges = {};
};

// Ports warden itself listens on (the proxy, ingress, ops): no host service
// may use them. A tcp one gets a listener of warden's on its port, so it may
// not use the ports warden serves cells on either (DNS, transparent HTTP and
// HTTPS); an http one is reached by name, on any host port but these.
inline constexpr int kWardenReservedPorts[] = {3128, 8443, 9464};
inline constexpr int kWardenCellPorts[] = {53, 80, 443};
inline constexpr std::size_t kMaxHostSockets = 8;

// The engine ("docker", "podman", "containerd", "crio", "cri-o",
// "firecracker", "lima") whose control socket `path` names, by its file name
// or a directory on the way (/run/podman/x, ~/.lima/vm/ha.sock), or nullopt.
// Such a socket gives control of the host: never mounted into a cell. The one
// rule for validation (on host_path and its realpath) and for the engine's
// start-time check (on the real path of the opened file).
std::optional<std::string> engine_socket(std::string_view path);

// Why `host_path` cannot be a host socket's, or nullopt: it is absolute
// without '..' and names no engine's socket; with `probe`, the file exists,
// is no symlink, is a unix socket and its real path names no engine's socket.
// The one rule for validation and for the macOS thin client, which judges the
// Mac's file with it before bridging it into the VM.
std::optional<std::string> host_socket_path_problem(const std::string& host_path, const Probe* probe);

// The variables brig sets in every cell (engine/cell_files.cc): the proxy
// (and Node's switch to use it), what bypasses it, the CA bundle (where the
// spec's env: sets none) and the cell's name. An injected secret's `env` may
// be none of them.
inline constexpr std::string_view kCellProxyEnv[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"};
inline constexpr std::string_view kCellNoProxyEnv[] = {"NO_PROXY", "no_proxy"};
inline constexpr std::string_view kCellCaBundleEnv[] = {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                                        "NODE_EXTRA_CA_CERTS"};
inline constexpr std::string_view kCellNameEnv = "BRIG_CELL";
// Node.js (24+) honours the proxy variables only when this is set to 1.
inline constexpr std::string_view kCellNodeProxyEnv = "NODE_USE_ENV_PROXY";
// `name` is one of the above.
bool brig_sets_env(std::string_view name);
inline constexpr std::size_t kMaxHostServices = 16;

// "./my-cell/" -> "localhost/my-cell": the name of an image built from a
// directory (brig image build's default tag, with ":latest").
std::string local_image_name(std::string_view dir);

// What is wrong with an image digest (sha256: + 64, or sha512: + 128,
// lowercase hex), or nullopt: the one rule for image, image_digest and the
// image verbs' --digest.
std::optional<std::string> digest_problem(std::string_view digest);

// The first problem with one host service, as {field suffix, message}
// (".name", ".port", ".protocol"), or nullopt: the one rule for a spec's
// host_services entries and `brig policy set --host-service`. `untrusted`:
// the cell's profile is untrusted (no tcp).
struct FieldProblem {
  std::string field, message;
};
std::optional<FieldProblem> host_service_problem(const HostService& e, bool untrusted);
// `brig policy set --host-service NAME:PORT[/tcp|/http]` (http when no
// protocol is given), checked by host_service_problem. Errc::usage with a fix.
Result<HostService> parse_host_service_flag(std::string_view text, bool untrusted);

// Checks every rule of the cell spec (docs/reference/cell-spec.md). Returns
// all problems found, not just the first.
Diagnostics validate(const CellSpec& spec, const ValidateOptions& opts);

// Checks a policy block on its own (also used for the global policy file).
Diagnostics validate_policy(const PolicyBlock& block, const std::string& field_prefix);

// The TLS passthrough rules of one policy block, the same for a cell spec's
// `policy:` and for `brig policy set --passthrough`: every passthrough host is
// covered by an allow entry of the same block on port 443 for every path and
// method (warden cannot see inside the tunnel), and an untrusted cell has none.
// Fields are named "<prefix>.tls_passthrough[i]" (no prefix: "tls_passthrough[i]").
Diagnostics check_passthrough(const PolicyBlock& block, const std::string& field_prefix, bool untrusted);

// The list of a policy a host entry is for: allow takes "host[:port]"; deny
// and tls_passthrough a host only (deny blocks it on every port, passthrough
// is for port 443).
enum class PolicyList { allow, deny, tls_passthrough };

// Why one policy host entry as written is not one.
struct HostEntryProblem {
  std::string message;    // names the common mistakes: a URL, a port where none belongs
  std::string corrected;  // the entry to write instead ("example.com"), "" when there is no one answer
};

// One policy host entry as written ("host", "*.domain", "host:port" in allow):
// nullopt when it is one. A URL says "give a host, not a URL: example.com"; a
// port on a deny or passthrough entry says which host to give. `flag`
// ("--deny"): the entry came from that flag, so no file line is involved and
// the hint is the flag to give ("--deny example.com"). The one check of a
// policy host for files (validate_policy), `brig run --allow` and `brig policy set`.
std::optional<HostEntryProblem> check_policy_host(std::string_view entry, PolicyList list, std::string_view flag = "");

// Size strings: "512m", "2g", "1.5G", "1073741824". Returns bytes.
std::optional<std::uint64_t> parse_size(std::string_view s);
// Durations: "90s", "15m", "2h", "1d", "1h30m". Returns seconds.
std::optional<std::uint64_t> parse_duration(std::string_view s);
// Secret names: the reason `name` is not one ("it contains '/'"), or nullopt.
std::optional<std::string> check_secret_name(std::string_view name);
// Cell names: the whole message when `name` is not one ("invalid cell name
// \"X\"; use 1-63 lowercase ...", or "... is reserved for brig's own use ..."),
// or nullopt. The one check for cell names (not check_secret_name's).
std::optional<std::string> check_cell_name(std::string_view name);
bool valid_cell_name(std::string_view name);     // the pattern, and not reserved
bool reserved_cell_name(std::string_view name);  // system, warden, ext

}  // namespace brig::spec
