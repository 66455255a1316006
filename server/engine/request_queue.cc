#include "server/engine/request_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tinylm {

absl::Status RequestQueue::Push(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      return absl::UnavailableError("the server is shutting down");
    }
    if (int64_t(jobs_.size()) >= capacity_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "too many queued requests for this model (limit ", capacity_,
          ")"));
    }
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return absl::OkStatus();
}

std::vector<std::shared_ptr<Job>> RequestQueue::Take(int64_t max, bool wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (wait) cv_.wait(lock, [this] { return closed_ || !jobs_.empty(); });
  std::vector<std::shared_ptr<Job>> out;
  while (!jobs_.empty() && int64_t(out.size()) < max) {
    out.push_back(std::move(jobs_.front()));
    jobs_.pop_front();
  }
  return out;
}

void RequestQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool RequestQueue::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

int64_t RequestQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

}  // namespace tinylm
