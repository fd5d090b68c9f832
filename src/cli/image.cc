// brig image build|pull|verify.
#include "context.h"

namespace brig::cli {

void add_image(CLI::App& root, Context& ctx) {
  auto* n = root.add_subcommand("image", "build, pull and verify images");
  stub_verb(n, ctx, "build", "build an image from a directory", {"CONTEXT", "-f,--file", "-t,--tag", "--build-arg"}, {"--use-warden"});
  stub_verb(n, ctx, "pull", "pull an image (with progress)", {"IMAGE"});
  stub_verb(n, ctx, "verify", "verify an image's digest", {"IMAGE"});
}

}  // namespace brig::cli
