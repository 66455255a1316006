#include "server/engine/stream.h"

#include <utility>

namespace tinylm {

void GenerationStream::SetWakeup(std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = std::move(wake);
  }
  bool pending = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending = !events_.empty();
  }
  if (pending) Wake();  // events pushed before the hook existed
}

void GenerationStream::ClearWakeup() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  wake_ = nullptr;
}

bool GenerationStream::TryBeginWrite(StreamEvent* event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (writing_ || events_.empty()) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  writing_ = true;
  return true;
}

void GenerationStream::TakeMoreTokens(size_t max,
                                      std::vector<TokenEvent>* tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  while (tokens->size() < max && !events_.empty() &&
         events_.front().kind == StreamEvent::Kind::kToken) {
    tokens->push_back(std::move(events_.front().token));
    events_.pop_front();
  }
}

void GenerationStream::EndWrite() {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
}

StreamEvent GenerationStream::WaitNext() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !events_.empty(); });
  StreamEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void GenerationStream::Push(StreamEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
  Wake();
}

void GenerationStream::Wake() {
  // Under the lock: no copy of the hook per token, and ClearWakeup()
  // returns only once no hook runs.
  std::lock_guard<std::mutex> lock(wake_mu_);
  if (wake_) wake_();
}

}  // namespace tinylm
