// Images: the pure rules (names, references, pins, the unpinned warning) and
// the podman build argv. The builds themselves run in tests/e2e/images_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "brig/engine/host.h"
#include "brig/engine/images.h"

namespace brig::engine {
namespace {

using ::testing::HasSubstr;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

TEST(ImageNames, DefaultTagIsTheDirectoryLowercased) {
  EXPECT_EQ(default_build_tag("/home/me/My Agent/"), "localhost/my-agent:latest");
  EXPECT_EQ(default_build_tag("agent"), "localhost/agent:latest");
  EXPECT_EQ(default_build_tag("./x/Web_App.v2"), "localhost/web_app.v2:latest");
  EXPECT_EQ(default_build_tag("/tmp/---"), "localhost/cell:latest");
  EXPECT_FALSE(image_tag_problem(default_build_tag("/srv/Ünïcode dir")));
}

TEST(ImageNames, TagsAreValidated) {
  for (const char* ok : {"localhost/agent:latest", "agent", "registry.example:5000/team/agent:v1.2",
                         "localhost/a-b_c.d:1", "x/y/z"}) {
    EXPECT_FALSE(image_tag_problem(ok)) << ok;
  }
  for (const char* bad : {"", "Agent", "localhost/agent:", "localhost/-agent", "agent@" , "a//b", "agent:bad tag",
                          "localhost/agent:.x"}) {
    EXPECT_TRUE(image_tag_problem(bad)) << bad;
  }
  EXPECT_THAT(*image_tag_problem("agent@" + kA), HasSubstr("cannot hold a digest"));
}

TEST(ImageRefs, SplitNameTagDigest) {
  auto r = parse_image_ref("registry:5000/team/agent:v1@" + kA);
  EXPECT_EQ(r.name, "registry:5000/team/agent");
  EXPECT_EQ(r.tag, "v1");
  EXPECT_EQ(r.digest, kA);
  EXPECT_EQ(r.without_digest(), "registry:5000/team/agent:v1");
  auto port_only = parse_image_ref("registry:5000/agent");
  EXPECT_EQ(port_only.name, "registry:5000/agent");
  EXPECT_EQ(port_only.tag, "");
  // A pin is looked up by tag when there is one (then its digest is checked), else by digest.
  EXPECT_EQ(r.lookup(kA), "registry:5000/team/agent:v1");
  EXPECT_EQ(parse_image_ref("docker.io/x@" + kA).lookup(kA), "docker.io/x@" + kA);
}

TEST(ImagePins, TheDigestMustBeTheImagesForThatRepository) {
  ImageInfo local;
  local.id = std::string(64, 'c');
  local.digest = kA;
  local.names = {"localhost/agent:latest"};
  local.repo_digests = {"localhost/agent@" + kA};
  EXPECT_FALSE(pin_problem(parse_image_ref("localhost/agent:latest"), kA, local));
  auto p = pin_problem(parse_image_ref("localhost/agent:latest"), kB, local);
  ASSERT_TRUE(p);
  EXPECT_THAT(*p, HasSubstr("has digest " + kA));
  EXPECT_THAT(*p, HasSubstr("pinned to " + kB));
  // podman finds an image by digest whatever name is written in front: the
  // repository must be the image's own.
  EXPECT_TRUE(pin_problem(parse_image_ref("localhost/other@" + kA), kA, local));
  // A pulled multi-arch image: the pin is the index digest in RepoDigests.
  ImageInfo pulled;
  pulled.digest = kA;
  pulled.names = {"docker.io/library/alpine:3"};
  pulled.repo_digests = {"docker.io/library/alpine@" + kA, "docker.io/library/alpine@" + kB};
  EXPECT_FALSE(pin_problem(parse_image_ref("docker.io/library/alpine@" + kB), kB, pulled));
  EXPECT_FALSE(pin_problem(parse_image_ref("library/alpine:3"), kB, pulled));
}

TEST(ImagePins, OnlyRemoteUnpinnedImagesWarn) {
  EXPECT_FALSE(unpinned_image_warning("localhost/agent:latest", ""));
  EXPECT_FALSE(unpinned_image_warning("docker.io/library/python:3.12@" + kA, ""));
  EXPECT_FALSE(unpinned_image_warning("docker.io/library/python:3.12", kA));
  auto w = unpinned_image_warning("docker.io/library/python:3.12", "");
  ASSERT_TRUE(w);
  EXPECT_THAT(*w, HasSubstr("not pinned by digest"));
  EXPECT_THAT(*w, HasSubstr("brig config set warn_unpinned_images false"));
}

TEST(ImageBuildArgs, Golden) {
  BuildPlan p;
  p.staged = "/h/run/builds/build-1/context";
  p.containerfile = "/src/agent/Containerfile";
  p.tag = "localhost/agent:latest";
  p.iidfile = "/h/run/builds/build-1/iid";
  p.ignorefile = "/h/run/builds/build-1/empty.ignore";
  p.runtime = "/h/run/bin/runsc-build";
  p.runtime_flags = {"oci-seccomp", "network=none"};
  p.ulimits = {"nofile=1024:1024"};
  p.mounts = {{"/h/run/builds/build-1/brig", "/run/brig"}};
  p.build_args = {"A=1"};
  p.no_cache = true;
  const std::vector<std::string> want = {
      "podman", "build", "--file", "/src/agent/Containerfile", "--tag", "localhost/agent:latest", "--iidfile",
      "/h/run/builds/build-1/iid", "--pull=never", "--network", "none", "--isolation", "oci", "--ignorefile",
      "/h/run/builds/build-1/empty.ignore", "--runtime", "/h/run/bin/runsc-build",
      "--runtime-flag", "oci-seccomp", "--runtime-flag", "network=none", "--ulimit", "nofile=1024:1024", "--volume",
      "/h/run/builds/build-1/brig:/run/brig:ro", "--build-arg", "A=1", "--no-cache", "/h/run/builds/build-1/context"};
  EXPECT_EQ(image_build_args(p), want);
  p.network = "brig-build-1";
  p.dns = "10.60.3.2";
  p.no_cache = false;
  p.quiet = true;
  auto a = image_build_args(p);
  EXPECT_THAT(a, ::testing::Contains("--quiet"));
  EXPECT_THAT(std::vector<std::string>(a.begin() + 9, a.begin() + 11), (std::vector<std::string>{"--network", "brig-build-1"}));
  EXPECT_THAT(std::vector<std::string>(a.begin() + 15, a.begin() + 17), (std::vector<std::string>{"--dns", "10.60.3.2"}));
}

// Through warden, every stage's RUN steps get the CA variables without an ARG line.
TEST(ImageBuildArgs, CaVariablesAreDeclaredAfterEveryFrom) {
  const std::string in =
      "# syntax comment\n"
      "FROM localhost/base:1 AS build\n"
      "RUN make\n"
      "from \\\n"
      "  localhost/runtime:2\n"
      "COPY --from=build /out /out";
  EXPECT_EQ(containerfile_with_args(in, {"SSL_CERT_FILE", "PIP_CERT"}),
            "# syntax comment\n"
            "FROM localhost/base:1 AS build\n"
            "ARG SSL_CERT_FILE\nARG PIP_CERT\n"
            "RUN make\n"
            "from \\\n"
            "  localhost/runtime:2\n"
            "ARG SSL_CERT_FILE\nARG PIP_CERT\n"
            "COPY --from=build /out /out\n");
  EXPECT_EQ(containerfile_with_args("RUN from here\nFROMAGE x\n", {"A"}), "RUN from here\nFROMAGE x\n");
  // A heredoc's body is not an instruction; CRLF line ends are read as podman reads them.
  EXPECT_EQ(containerfile_with_args("FROM a\r\nRUN python3 <<EOF\nfrom pathlib import Path\nEOF\nFROM b\n", {"A"}),
            "FROM a\nARG A\nRUN python3 <<EOF\nfrom pathlib import Path\nEOF\nFROM b\nARG A\n");
  EXPECT_EQ(containerfile_with_args("FROM a \\\n# a comment\n  AS x\nRUN true\n", {"A"}),
            "FROM a \\\n# a comment\n  AS x\nARG A\nRUN true\n");
}

// podman fetches an ADD's URL or git source on the host, outside the sandbox
// and warden: refused before anything is built.
TEST(ImageBuild, AddOfAUrlOrGitSourceIsRefused) {
  EXPECT_FALSE(containerfile_problem("FROM a\nADD app.tar.gz /app/\nCOPY . /src\nRUN curl https://x/ -o /y\n"));
  for (const char* bad : {"FROM a\nADD https://example.com/x.tar.gz /x\n",
                          "FROM a\nadd --chown=1:1 http://h/f /f\n",
                          "FROM a\nADD [\"git@github.com:o/r.git\", \"/r\"]\n",
                          "FROM a\nADD \\\n  https://h/f \\\n  /f\n"}) {
    auto p = containerfile_problem(bad);
    ASSERT_TRUE(p) << bad;
    EXPECT_THAT(*p, HasSubstr("fetched by podman on this host"));
  }
  // Text in a heredoc is not an instruction.
  EXPECT_FALSE(containerfile_problem("FROM a\nRUN cat <<EOF > /notes\nADD https://h/f /f\nEOF\n"));
}

// buildah's monitor reaps runsc's gofer only after `runsc delete` returns:
// the build runtime answers delete at once and deletes in the background.
TEST(ImageBuildRuntime, DeleteReturnsAtOnceAndRunsLater) {
  const std::string s = runsc_build_script("/usr/bin/runsc");
  EXPECT_EQ(s.rfind("#!/bin/sh\n", 0), 0u);
  EXPECT_THAT(s, HasSubstr("if [ \"$a\" = delete ]"));
  EXPECT_THAT(s, HasSubstr("(sleep 2; exec '/usr/bin/runsc' \"$@\") </dev/null >/dev/null 2>&1 &"));
  EXPECT_THAT(s, HasSubstr("exec '/usr/bin/runsc' \"$@\"\n"));
  EXPECT_THAT(runsc_build_script("/opt/it's/runsc"), HasSubstr("'/opt/it'\\''s/runsc'"));
}

}  // namespace
}  // namespace brig::engine
