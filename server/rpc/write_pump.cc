#include "server/rpc/write_pump.h"

#include <pthread.h>

#include <utility>

namespace tinylm {

WritePump::WritePump(int threads) {
  for (int i = 0; i < threads; ++i) lanes_.push_back(std::make_unique<Lane>());
  for (auto& lane : lanes_) {
    lane->thread = std::thread([&lane = *lane] { Work(lane); });
  }
}

WritePump::~WritePump() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->stopping = true;
    }
    lane->ready.notify_one();
  }
  for (auto& lane : lanes_) lane->thread.join();
}

void WritePump::Post(std::function<void()> task) {
  Lane& lane = *lanes_[next_lane_.fetch_add(1, std::memory_order_relaxed) %
                       lanes_.size()];
  bool wake;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.tasks.push_back(std::move(task));
    wake = lane.sleeping;
  }
  if (wake) lane.ready.notify_one();
}

void WritePump::Work(Lane& lane) {
  pthread_setname_np(pthread_self(), "tinylm-write");  // for top -H, perf
  std::vector<std::function<void()>> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(lane.mu);
      lane.sleeping = true;
      lane.ready.wait(lock,
                      [&] { return lane.stopping || !lane.tasks.empty(); });
      lane.sleeping = false;
      if (lane.tasks.empty()) return;  // stopping, nothing left
      batch.swap(lane.tasks);
    }
    for (std::function<void()>& task : batch) task();
    batch.clear();
  }
}

}  // namespace tinylm
