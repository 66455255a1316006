#include "server/rpc/write_pump.h"

#include <pthread.h>

#include <chrono>
#include <utility>

namespace tinylm {
namespace {

// Longer than the gaps between a burst's posts to one lane (microseconds),
// shorter than the gaps between a decode step's bursts.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(50);

// A hint to the core that this is a wait loop.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Until `lane_has_tasks` or kSpinBeforeSleep has passed.
void SpinWhileEmpty(const std::atomic<bool>& lane_has_tasks) {
  const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
  while (!lane_has_tasks.load(std::memory_order_acquire)) {
    for (int i = 0; i < 64; ++i) CpuRelax();
    if (std::chrono::steady_clock::now() > until) return;
  }
}

}  // namespace

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
    lane.has_tasks.store(true, std::memory_order_release);
    wake = lane.sleeping;
  }
  if (wake) lane.ready.notify_one();
}

void WritePump::Work(Lane& lane) {
  pthread_setname_np(pthread_self(), "tinylm-write");  // for top -H, perf
  std::vector<std::function<void()>> batch;
  while (true) {
    SpinWhileEmpty(lane.has_tasks);
    {
      std::unique_lock<std::mutex> lock(lane.mu);
      lane.sleeping = true;
      lane.ready.wait(lock,
                      [&] { return lane.stopping || !lane.tasks.empty(); });
      lane.sleeping = false;
      if (lane.tasks.empty()) return;  // stopping, nothing left
      batch.swap(lane.tasks);
      lane.has_tasks.store(false, std::memory_order_relaxed);
    }
    for (std::function<void()>& task : batch) task();
    batch.clear();
  }
}

}  // namespace tinylm
