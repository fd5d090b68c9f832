// The rollback step runner: reverse order, every undo tried, failures kept.
#include "engine/rollback.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace brig::engine {
namespace {

using Names = std::vector<std::string>;

TEST(Rollback, UndoesInReverseOrderOnce) {
  Names order;
  Rollback rb;
  for (const char* n : {"state", "subnet", "network"}) {
    rb.add(n, [&order, n]() -> Status {
      order.push_back(n);
      return {};
    });
  }
  EXPECT_EQ(rb.names(), (Names{"state", "subnet", "network"}));
  Rollback::Report r = rb.run();
  EXPECT_EQ(order, (Names{"network", "subnet", "state"}));
  EXPECT_EQ(r.undone, (Names{"network", "subnet", "state"}));
  EXPECT_TRUE(r.complete());
  EXPECT_TRUE(rb.names().empty());
  EXPECT_TRUE(rb.run().undone.empty());  // nothing is undone twice
  EXPECT_EQ(order.size(), 3u);
}

TEST(Rollback, AFailedUndoIsReportedAndTheOthersStillRun) {
  Rollback rb;
  Names order;
  rb.add("state", [&]() -> Status {
    order.push_back("state");
    return {};
  });
  rb.add("network", [&]() -> Status {
    order.push_back("network");
    return Error(Errc::failed, "removing network brig-c1: busy", "podman network rm --force brig-c1");
  });
  rb.add("container", [&]() -> Status {
    order.push_back("container");
    throw std::runtime_error("boom");
  });
  Rollback::Report r = rb.run();
  EXPECT_EQ(order, (Names{"container", "network", "state"}));
  EXPECT_EQ(r.undone, (Names{"state"}));
  ASSERT_EQ(r.failed.size(), 2u);
  EXPECT_EQ(r.failed[0].step, "container");
  EXPECT_EQ(r.failed[0].error.message(), "boom");
  EXPECT_EQ(r.failed[1].step, "network");
  EXPECT_EQ(r.failed[1].error.message(), "removing network brig-c1: busy");
  EXPECT_FALSE(r.complete());
}

TEST(Rollback, DestructorUndoesWhatWasNotCommitted) {
  int undone = 0;
  {
    Rollback rb;
    rb.add("a", [&]() -> Status {
      ++undone;
      return {};
    });
  }
  EXPECT_EQ(undone, 1);
  {
    Rollback rb;
    rb.add("a", [&]() -> Status {
      ++undone;
      return {};
    });
    rb.commit();
  }
  EXPECT_EQ(undone, 1);
}

TEST(Rollback, WithRollbackNamesWhatWasLeftBehindAndHowToRemoveIt) {
  const Error original(Errc::failed, "podman could not create the cell: bad image", "brig run --dry-run");
  Rollback::Report complete;
  complete.undone = {"network", "state"};
  Error same = with_rollback(original, complete);
  EXPECT_EQ(same.message(), original.message());
  EXPECT_EQ(same.fix(), original.fix());

  Rollback::Report partial;
  partial.undone = {"state"};
  partial.failed.push_back({"container", Error(Errc::failed, "removing container brig-c1: busy", "podman rm --force brig-c1")});
  partial.failed.push_back({"network", Error(Errc::failed, "removing network brig-c1: busy", "podman network rm --force brig-c1")});
  Error e = with_rollback(original, partial);
  EXPECT_EQ(e.code(), Errc::failed);
  EXPECT_EQ(e.message(),
            "podman could not create the cell: bad image; undoing it failed, left behind: container (removing container "
            "brig-c1: busy), network (removing network brig-c1: busy)");
  EXPECT_EQ(e.fix(), "podman rm --force brig-c1 && podman network rm --force brig-c1");
}

}  // namespace
}  // namespace brig::engine
