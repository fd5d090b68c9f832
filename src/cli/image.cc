// brig image build|pull|list|rm|verify.
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "brig/core/strings.h"
#include "brig/engine/engine.h"
#include "brig/engine/images.h"
#include "brig/spec/json.h"
#include "context.h"
#include "spec_loader.h"

namespace brig::cli {
namespace {

std::string short_id(const std::string& id) { return id.substr(0, 12); }

std::string human_size(std::int64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", v, units[u]);
  return buf;
}

void print_image_line(const Context& ctx, const char* verb, const std::string& name, const engine::ImageInfo& i) {
  if (ctx.json()) {
    std::printf("%s\n", i.to_json().dump().c_str());
    return;
  }
  std::printf("%s %s (ID %s, digest %s)\n", verb, name.c_str(), short_id(i.id).c_str(), i.digest.c_str());
}

// The egress policy of a build through warden: --file's policy: (resolved
// as a cell's would be), plus --allow.
Result<nlohmann::json> build_policy(const Context& ctx, const std::string& file, const std::vector<std::string>& allow,
                                    const std::string& tag) {
  spec::CellSpec flags;
  spec::Diagnostics bad;
  add_allow_flags(flags, allow, bad);
  // The spec is judged as the spec of a cell running the image being built.
  flags.image.set(tag, spec::Origin::flag("-t"));
  auto resolved = load_spec(ctx.paths, file.empty() ? std::nullopt : std::optional(file), flags, bad);
  if (!resolved) return resolved.error();
  nlohmann::json doc = resolved->spec.policy.has() ? spec::to_json(*resolved->spec.policy) : nlohmann::json::object();
  if (resolved->airgapped) doc["airgapped"] = true;
  return doc;
}

}  // namespace

void add_image(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("image", "build, pull, list, remove and verify images");
  static proc::PosixRunner runner;
  auto images = [&ctx]() {
    struct Owned {
      engine::Engine e;
      engine::Images images;
      explicit Owned(const Paths& p) : e(runner, p), images(e.context()) {}
    };
    return std::make_unique<Owned>(ctx.paths);
  };

  // --- build ---
  static engine::BuildRequest build;
  static std::string build_file_spec;
  static std::vector<std::string> build_allow;
  auto* b = n->add_subcommand("build", "build an image from a directory (RUN steps under gVisor, no network)");
  b->add_option("CONTEXT", build.context, "the directory to build from")->required();
  b->add_option("-f,--containerfile", build.file, "the Containerfile (default: CONTEXT/Containerfile, then Dockerfile)");
  b->add_option("-t,--tag", build.tag, "the image's name (default: localhost/<directory name>:latest)");
  b->add_option("--build-arg", build.build_args, "KEY=VALUE for an ARG of the Containerfile (repeatable)");
  b->add_flag("--no-cache", build.no_cache, "rebuild every step");
  b->add_flag("--use-warden", build.use_warden, "RUN steps reach the network through warden, under --allow or --file's policy");
  b->add_option("--allow", build_allow, "with --use-warden: allow DOMAIN[:PORT] (repeatable)");
  b->add_option("--file", build_file_spec, "with --use-warden: take the build's policy from this cell spec's policy:");
  on_run(b, ctx, [&ctx, images]() -> Result<int> {
    if (!build.use_warden && (!build_allow.empty() || !build_file_spec.empty())) {
      return Error(Errc::usage, "--allow and --file (a cell spec) set the policy of a build through warden",
                   "add --use-warden (without it, RUN steps have no network); the Containerfile is -f/--containerfile");
    }
    if (build.use_warden) {
      auto policy = build_policy(ctx, build_file_spec, build_allow,
                                 build.tag.empty() ? engine::default_build_tag(build.context) : build.tag);
      if (!policy) return policy.error();
      build.policy = *policy;
    }
    build.quiet = ctx.quiet || ctx.json();  // --format json: one JSON line on stdout
    auto o = images();
    auto built = o->images.build(build, [&](const std::string& line) {
      // Warnings always; notes unless -q.
      if (!ctx.quiet || line.rfind("warning:", 0) == 0) std::fprintf(stderr, "%s\n", line.c_str());
    });
    if (!built) return built.error();
    const std::string tag = build.tag.empty() ? engine::default_build_tag(build.context) : build.tag;
    print_image_line(ctx, "built", tag, *built);
    return 0;
  });

  // --- pull ---
  static engine::PullRequest pull;
  static bool pull_insecure = false;
  auto* p = n->add_subcommand("pull", "pull an image from a registry (progress on a terminal); prints its digest");
  p->add_option("IMAGE", pull.ref, "NAME[:TAG] or NAME@sha256:...")->required();
  p->add_flag("--insecure", pull_insecure, "allow plain HTTP or an unverified certificate (a registry on this machine)");
  on_run(p, ctx, [&ctx, images]() -> Result<int> {
    pull.tls_verify = !pull_insecure;
    pull.progress = !ctx.quiet && !ctx.json() && ::isatty(1) && ::isatty(2);
    auto o = images();
    auto got = o->images.pull(pull);
    if (!got) return got.error();
    print_image_line(ctx, "pulled", pull.ref, *got);
    return 0;
  });

  // --- list ---
  auto* l = n->add_subcommand("list", "the images in local storage (--format json: an array)");
  l->alias("ls");
  on_run(l, ctx, [&ctx, images]() -> Result<int> {
    auto o = images();
    auto list = o->images.list();
    if (!list) return list.error();
    if (ctx.json()) {
      auto arr = nlohmann::json::array();
      for (const auto& i : *list) arr.push_back(i.to_json());
      std::printf("%s\n", arr.dump(2).c_str());
      return 0;
    }
    std::printf("%-44s %-12s %-19s %9s  %s\n", "NAME", "ID", "DIGEST", "SIZE", "CREATED");
    for (const auto& i : *list) {
      const std::string digest = i.digest.size() > 19 ? i.digest.substr(0, 19) : i.digest;
      auto names = i.names.empty() ? std::vector<std::string>{"<none>"} : i.names;
      for (const auto& name : names) {
        std::printf("%-44s %-12s %-19s %9s  %s\n", name.c_str(), short_id(i.id).c_str(), digest.c_str(),
                    human_size(i.size).c_str(), i.created.c_str());
      }
    }
    return 0;
  });

  // --- rm ---
  static std::vector<std::string> rm_images;
  auto* r = n->add_subcommand("rm", "remove images from local storage (not while a cell uses one)");
  r->add_option("IMAGE", rm_images, "name or ID")->required();
  on_run(r, ctx, [&ctx, images]() -> Result<int> {
    auto o = images();
    for (const auto& img : rm_images) {
      BRIG_TRY(o->images.remove(img));
      if (!ctx.quiet) std::printf("removed %s\n", img.c_str());
    }
    return 0;
  });

  // --- verify ---
  static std::string verify_image, verify_digest, verify_file, verify_policy = "/etc/containers/policy.json";
  auto* v = n->add_subcommand("verify", "check a local image against its pinned digest and podman's signature policy");
  v->add_option("IMAGE", verify_image, "name (default: --file's image)");
  v->add_option("--digest", verify_digest, "the pin: sha256:...");
  v->add_option("--file", verify_file, "a cell spec whose image_digest (and image) to check");
  v->add_option("--signature-policy", verify_policy, "podman's policy.json (default /etc/containers/policy.json)");
  on_run(v, ctx, [&ctx, images]() -> Result<int> {
    std::string image = verify_image, pin = verify_digest;
    if (!verify_file.empty()) {
      auto s = read_cell_file(verify_file);
      if (!s) return s.error();
      if (image.empty() && s->image.has()) image = *s->image;
      if (pin.empty() && s->image_digest.has()) pin = *s->image_digest;
    }
    if (image.empty()) return Error(Errc::usage, "no image given", "brig image verify IMAGE --digest sha256:...");
    auto o = images();
    auto res = o->images.verify(image, pin, verify_policy);
    if (!res) return res.error();
    if (ctx.json()) {
      std::printf("%s\n", nlohmann::json{{"image", image}, {"verified", res->verified}, {"checks", res->lines}}.dump().c_str());
    } else {
      for (const auto& line : res->lines) std::printf("%s\n", line.c_str());
      std::printf("%s %s\n", res->verified ? "verified" : "NOT verified:", image.c_str());
    }
    return res->verified ? 0 : 1;
  });
}

}  // namespace brig::cli
