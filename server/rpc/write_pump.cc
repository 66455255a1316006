#include "server/rpc/write_pump.h"

#include <utility>

namespace tinylm {

WritePump::WritePump(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WritePump::~WritePump() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void WritePump::Post(std::function<void()> task) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  // Workers drain the queue before they sleep, so a queue that already
  // held tasks has a worker on it: one wake-up per burst, not per task.
  if (was_empty) ready_.notify_one();
}

void WritePump::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, nothing left
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    // More work than this thread: let another one help.
    if (!tasks_.empty()) ready_.notify_one();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace tinylm
