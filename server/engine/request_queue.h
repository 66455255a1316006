// RequestQueue: the bounded hand-over point between request threads and a
// model's scheduler thread. All waiting on new work happens here.
//
// Ownership: a Job pushed successfully belongs to the queue until Take()
// hands it to the scheduler; a failed Push leaves it with the caller.
// Thread-safe.
#ifndef TINYLM_SERVER_ENGINE_REQUEST_QUEUE_H_
#define TINYLM_SERVER_ENGINE_REQUEST_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "server/engine/request.h"
#include "server/engine/stream.h"

namespace tinylm {

// A request on its way through the engine, with the stream its events go to.
struct Job {
  GenerationRequest request;
  std::shared_ptr<GenerationStream> stream;
};

class RequestQueue {
 public:
  explicit RequestQueue(int64_t capacity) : capacity_(capacity) {}

  // RESOURCE_EXHAUSTED when `capacity` jobs wait, UNAVAILABLE once closed.
  absl::Status Push(std::shared_ptr<Job> job);

  // Up to `max` jobs in arrival order. With `wait`, blocks until at least
  // one job is queued or the queue is closed.
  std::vector<std::shared_ptr<Job>> Take(int64_t max, bool wait);

  // Refuses further pushes and wakes a waiting Take; queued jobs stay to be
  // taken (and failed) by the scheduler.
  void Close();
  bool closed() const;
  int64_t size() const;

 private:
  const int64_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;  // guarded by mu_
  bool closed_ = false;                    // guarded by mu_
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_REQUEST_QUEUE_H_
