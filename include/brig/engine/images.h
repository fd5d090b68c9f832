// Images: build from a directory (brig assembles the context, RUN steps run
// under gVisor without network, or through warden), pull, list, remove,
// verify, and the digest pins `brig run` enforces.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "brig/core/error.h"
#include "brig/engine/context.h"
#include "brig/engine/podman_client.h"

namespace brig::engine {

// One image as podman's local storage knows it.
struct ImageInfo {
  std::string id;                          // 64 hex
  std::string digest;                      // sha256:... of its manifest
  std::vector<std::string> names;          // "localhost/agent:latest"
  std::vector<std::string> repo_digests;   // "localhost/agent@sha256:..."
  std::int64_t size = 0;
  std::string created;                     // RFC 3339
  nlohmann::json to_json() const;
};

// --- pure ---

// localhost/<the directory's name, lowercased; characters a repository name
// may not hold become '-'>:latest.
std::string default_build_tag(const std::string& context_dir);
// What is wrong with a tag `brig image build -t` would give (a repository
// name, optionally :TAG; no digest), or nullopt.
std::optional<std::string> image_tag_problem(const std::string& tag);

// An image reference split: NAME[:TAG][@DIGEST].
struct ImageRef {
  std::string name;    // repository, as written ("localhost/agent", "docker.io/library/x")
  std::string tag;     // "" when none
  std::string digest;  // "" when none
  std::string without_digest() const { return tag.empty() ? name : name + ":" + tag; }
  // What to look up in local storage for a pin: NAME:TAG when tagged (its
  // digest is then checked), else NAME@PIN (podman finds that by digest alone:
  // pin_problem checks the repository).
  std::string lookup(const std::string& pin) const { return tag.empty() ? name + "@" + pin : name + ":" + tag; }
};
ImageRef parse_image_ref(const std::string& ref);
// localhost/... : built here, never pulled.
bool is_local_image(const std::string& ref);
// The warning `brig run` prints for an image neither local nor pinned, or nullopt.
std::optional<std::string> unpinned_image_warning(const std::string& image, const std::string& image_digest);

// The pin of `image` (its @digest, else `image_digest`) checked against a
// local image: the digest must be its manifest digest or one of its repo
// digests *for the same repository* (podman finds an image by digest alone,
// whatever name is written in front of it). The problem, naming both
// digests, or nullopt.
std::optional<std::string> pin_problem(const ImageRef& ref, const std::string& pin, const ImageInfo& local);

// The Containerfile `text` with `ARG NAME` for each of `args` after every
// FROM instruction (continuation lines included, heredoc bodies skipped), so each stage's RUN steps see those
// build arguments without the user declaring them: podman passes a build
// argument only to an ARG that names it. ARG values stay out of the image's
// configuration.
std::string containerfile_with_args(const std::string& text, const std::vector<std::string>& args);

// What in a Containerfile brig refuses to build, or nullopt: an ADD of a URL
// or git source, which podman would fetch on the host, outside the sandbox
// and warden. Heredoc bodies and continuation lines are read as podman reads
// them.
std::optional<std::string> containerfile_problem(const std::string& text);

// The `podman build` argv (golden-tested). `runtime` "" is podman's default.
struct BuildPlan {
  std::string staged, containerfile, tag, iidfile;
  std::string ignorefile;  // an empty file: brig filtered the context already
  std::vector<std::string> build_args;  // "K=V", the user's then brig's
  std::vector<std::pair<std::string, std::string>> mounts;  // host -> in the RUN steps, read-only
  std::string network = "none";  // or a cell network (--use-warden)
  std::string dns;               // with a network: the resolver
  std::string runtime;           // path of the runtime for RUN steps
  std::vector<std::string> runtime_flags;
  std::vector<std::string> ulimits;
  bool no_cache = false, quiet = false;
};
std::vector<std::string> image_build_args(const BuildPlan& p);

// `podman image inspect IMAGE`; nullopt when there is no such image.
Result<std::optional<ImageInfo>> inspect_image(const Podman& podman, const std::string& image);

// Whether image build `name` ("build-<6 hex>") is under way: its process
// holds the lock in its build directory. `brig system prune` leaves a
// running build's network, subnet and files alone and removes a dead one's.
bool image_build_running(const Paths& paths, const std::string& name);

// --- the verbs ---

struct BuildRequest {
  std::string context;   // directory
  std::string file;      // -f ("" finds Containerfile, then Dockerfile)
  std::string tag;       // "" -> default_build_tag
  std::vector<std::string> build_args;  // K=V
  bool no_cache = false;
  bool quiet = false;    // no step output
  // --use-warden: RUN steps reach the network through warden under `policy`
  // (a policy document, as a cell's).
  bool use_warden = false;
  nlohmann::json policy = nlohmann::json::object();
};

struct PullRequest {
  std::string ref;
  bool progress = false;   // podman's progress on the terminal
  bool tls_verify = true;
};

struct Verification {
  bool verified = false;
  std::vector<std::string> lines;  // what was checked, each "ok: ..." or "FAILED: ..."
};

class Images {
 public:
  explicit Images(EngineContext& ctx) : ctx_(ctx) {}

  // `note` gets each line brig says about the build (warnings, the runtime).
  Result<ImageInfo> build(const BuildRequest& req, const std::function<void(const std::string&)>& note);
  Result<ImageInfo> pull(const PullRequest& req);
  Result<std::vector<ImageInfo>> list();
  // nullopt when there is no such image.
  Result<std::optional<ImageInfo>> inspect(const std::string& image);
  // Refused while a cell's container uses it (never podman's --force).
  Status remove(const std::string& image);
  // Against `pin` (else the digest in `image`; one is needed) and, for an
  // image pulled from a registry, the signature policy (policy.json) for
  // its repository: a policy that wants signatures has podman pull the
  // pinned manifest again under it.
  Result<Verification> verify(const std::string& image, const std::string& pin,
                              const std::string& signature_policy = "/etc/containers/policy.json");

 private:
  EngineContext& ctx_;
};

}  // namespace brig::engine
