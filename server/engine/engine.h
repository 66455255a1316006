// Engine: what the service needs of a model's serving engine, behind a small
// interface so that nothing above server/engine/ includes LibTorch. The
// scheduler (scheduler.h) implements it.
//
// Thread-safety: every method may be called from any thread.
#ifndef TINYLM_SERVER_ENGINE_ENGINE_H_
#define TINYLM_SERVER_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/engine/request_queue.h"

namespace tinylm {

class Engine {
 public:
  virtual ~Engine() = default;

  // Starts serving (the scheduler's thread). Once.
  virtual void Start() = 0;

  // Queues `job`; its events arrive on job->stream. RESOURCE_EXHAUSTED when
  // the queue is full, UNAVAILABLE once shutting down (RequestQueue::Push).
  virtual absl::Status Submit(std::shared_ptr<Job> job) = 0;

  // Fails queued requests (UNAVAILABLE), ends running ones with
  // FinishReason::kCancelled, and stops. Idempotent.
  virtual void Shutdown() = 0;

  // Sequences decoded together at most (KV cache slots).
  virtual int64_t max_batch() const = 0;
  // Requests waiting for a slot.
  virtual int64_t queued() const = 0;
  // How the model steps run, for the start-up log.
  virtual std::string step_description() const = 0;
  // Where the scheduler thread's time went so far (ActivityClock::Report),
  // for the shutdown log.
  virtual std::string time_report() const = 0;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_ENGINE_H_
