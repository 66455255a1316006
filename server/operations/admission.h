// Admission control above the engine: the per-model bound on calls in
// flight (--max_streams_per_model); a refusal carries a retry hint
// (refusals.h), as one for a full model queue does.
//
// A call holds one Ticket per model it uses, from submission until the call
// has ended (its reactor is done), so streams whose last tokens are still
// being sent count as well as queued and running ones.
#ifndef TINYLM_SERVER_OPERATIONS_ADMISSION_H_
#define TINYLM_SERVER_OPERATIONS_ADMISSION_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tinylm {

// Thread-safe; the model set is fixed at construction.
class Admission {
 public:
  // Releases its model's place when destroyed. Move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : count_(other.count_) {
      other.count_ = nullptr;
    }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { Release(); }

   private:
    friend class Admission;
    explicit Ticket(std::atomic<int64_t>* count) : count_(count) {}
    void Release();
    std::atomic<int64_t>* count_ = nullptr;
  };

  // At most `limit` calls in flight per model of `models`; a refusal says
  // to retry after `retry_after`.
  Admission(const std::vector<std::string>& models, int64_t limit,
            absl::Duration retry_after);

  // A place for a call on `model`, or RESOURCE_EXHAUSTED with a retry hint
  // when `limit` calls already hold one. NOT_FOUND for an unknown model.
  absl::StatusOr<Ticket> Acquire(const std::string& model);

  // Calls in flight on `model` (0 for an unknown one).
  int64_t InFlight(const std::string& model) const;

  absl::Duration retry_after() const { return retry_after_; }

 private:
  const int64_t limit_;
  const absl::Duration retry_after_;
  // Built once; only the counters change.
  std::map<std::string, std::unique_ptr<std::atomic<int64_t>>> in_flight_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_ADMISSION_H_
