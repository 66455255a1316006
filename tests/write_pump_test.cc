// WritePump runs every posted task, on its own threads, including the ones
// still queued when it is destroyed, and wakes its workers for each burst.
#include "server/rpc/write_pump.h"

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tinylm {
namespace {

TEST(WritePumpTest, RunsTasksOffThePostingThread) {
  WritePump pump(2);
  std::promise<std::thread::id> ran_on;
  pump.Post([&ran_on] { ran_on.set_value(std::this_thread::get_id()); });
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
}

// Each task is posted only after the one before has run, so every post
// finds the workers asleep or about to sleep: a lost wake-up hangs here.
TEST(WritePumpTest, WakesSleepingWorkersForEveryLaterPost) {
  WritePump pump(3);
  for (int i = 0; i < 300; ++i) {
    std::promise<int> ran;
    pump.Post([&ran, i] { ran.set_value(i); });
    EXPECT_EQ(ran.get_future().get(), i);
  }
}

TEST(WritePumpTest, RunsEveryTaskPostedFromManyThreadsBeforeDestruction) {
  constexpr int kPosters = 4, kTasksEach = 2000;
  std::atomic<int> done{0};
  {
    WritePump pump(3);
    std::vector<std::thread> posters;
    for (int p = 0; p < kPosters; ++p) {
      posters.emplace_back([&] {
        for (int i = 0; i < kTasksEach; ++i) {
          pump.Post([&done] { done.fetch_add(1); });
        }
      });
    }
    for (std::thread& poster : posters) poster.join();
  }  // the destructor drains what is left
  EXPECT_EQ(done.load(), kPosters * kTasksEach);
}

}  // namespace
}  // namespace tinylm
