// WatchState (nats_backbone_impl.hpp): how one NATS watch turns consumer messages into events —
// initial values gathered until nothing is pending, delivered in key order without deletions;
// then changes in order; messages of an older consumer generation, revisions already delivered
// (a re-created consumer) and keys outside the prefix dropped. No server: messages are fed in.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backbone/nats_backbone_impl.hpp"
#include "fakes/queue_executor.hpp"

namespace sb::backbone::nats_detail {
namespace {

class WatchStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_->prefix = "p.";
    state_->executor = executor_;
    state_->handler = [this](KvEvent e) {
      std::lock_guard lock(mutex_);
      seen_.push_back((e.op == KvOp::del ? "-" : "") + e.entry.key + "@" +
                      std::to_string(e.entry.revision));
    };
    state_->generation = 1;
  }
  void TearDown() override { executor_->stop(); }

  static KvEvent put(std::string key, std::uint64_t rev) {
    KvEvent e;
    e.entry = {std::move(key), "v", rev};
    return e;
  }
  static KvEvent del(std::string key, std::uint64_t rev) {
    KvEvent e = put(std::move(key), rev);
    e.op = KvOp::del;
    e.entry.value.clear();
    return e;
  }
  std::vector<std::string> seen() {
    EXPECT_TRUE(executor_->drain());
    std::lock_guard lock(mutex_);
    return seen_;
  }

  std::shared_ptr<test::QueueExecutor> executor_ = std::make_shared<test::QueueExecutor>();
  std::shared_ptr<WatchState> state_ = std::make_shared<WatchState>();
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

TEST_F(WatchStateTest, InitialValuesComeInKeyOrderOnceNothingIsPending) {
  state_->on_message(1, put("p.b", 3), 4);
  state_->on_message(1, put("p.c", 5), 3);
  state_->on_message(1, del("p.c", 6), 2);  // deleted before the snapshot ends: not in it
  state_->on_message(1, put("p.a", 7), 1);
  EXPECT_TRUE(seen().empty()) << "nothing before the initial values are complete";
  state_->on_message(1, put("p.b", 8), 0);  // overwritten during delivery: the latest counts
  EXPECT_EQ(seen(), (std::vector<std::string>{"p.a@7", "p.b@8"}));
  state_->on_message(1, del("p.a", 9), 0);
  state_->on_message(1, put("p.d", 10), 0);
  EXPECT_EQ(seen(), (std::vector<std::string>{"p.a@7", "p.b@8", "-p.a@9", "p.d@10"}));
}

TEST_F(WatchStateTest, AReCreatedConsumerNeitherRepeatsNorMixesGenerations) {
  state_->initial_done = true;  // a watch without initial values
  state_->on_message(1, put("p.a", 4), 0);
  state_->on_message(1, put("p.b", 5), 0);
  state_->generation = 2;                   // re-created after a reconnect
  state_->on_message(1, put("p.c", 6), 0);  // a late message of the old consumer
  state_->on_message(2, put("p.b", 5), 1);  // already delivered
  state_->on_message(2, put("p.c", 6), 0);
  EXPECT_EQ(seen(), (std::vector<std::string>{"p.a@4", "p.b@5", "p.c@6"}));
}

TEST_F(WatchStateTest, KeysOutsideThePrefixAreDroppedButStillEndTheInitialValues) {
  state_->prefix = "p.a";  // the subject filter ("p.>") is wider than the prefix
  state_->on_message(1, put("p.ab", 2), 1);
  state_->on_message(1, put("p.b", 3), 0);
  state_->on_message(1, put("p.a", 4), 0);
  state_->on_message(1, put("p.b", 5), 0);
  EXPECT_EQ(seen(), (std::vector<std::string>{"p.ab@2", "p.a@4"}));
}

TEST_F(WatchStateTest, AnEmptyStartEndsTheInitialPhaseAtTheConsumersStart) {
  state_->on_empty_start(1, 41);
  state_->on_message(1, put("p.a", 41), 0);  // at or before the start: not a change
  state_->on_message(1, put("p.a", 42), 0);
  EXPECT_EQ(seen(), (std::vector<std::string>{"p.a@42"}));
}

TEST_F(WatchStateTest, NothingIsHandledAfterTheWatchIsClosed) {
  std::promise<void> release;
  executor_->post([gate = release.get_future().share()] { gate.wait(); });  // hold the executor
  state_->initial_done = true;
  state_->on_message(1, put("p.a", 1), 0);
  state_->open.store(false);
  release.set_value();
  state_->on_message(1, put("p.a", 2), 0);
  EXPECT_EQ(seen(), (std::vector<std::string>{}));  // closed before the posted task ran, too
}

}  // namespace
}  // namespace sb::backbone::nats_detail
