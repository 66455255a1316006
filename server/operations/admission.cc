#include "server/operations/admission.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/operations/refusals.h"
#include "util/quote.h"

namespace tinylm {

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    count_ = other.count_;
    other.count_ = nullptr;
  }
  return *this;
}

void Admission::Ticket::Release() {
  if (count_ != nullptr) count_->fetch_sub(1);
  count_ = nullptr;
}

Admission::Admission(const std::vector<std::string>& models, int64_t limit,
                     absl::Duration retry_after)
    : limit_(limit), retry_after_(retry_after) {
  for (const std::string& model : models) {
    in_flight_[model] = std::make_unique<std::atomic<int64_t>>(0);
  }
}

absl::StatusOr<Admission::Ticket> Admission::Acquire(const std::string& model) {
  auto it = in_flight_.find(model);
  if (it == in_flight_.end()) {
    return absl::NotFoundError(
        absl::StrCat("model ", Quote(model), " is not loaded"));
  }
  std::atomic<int64_t>& count = *it->second;
  // Optimistic: take the place, give it back when over the limit.
  if (count.fetch_add(1) >= limit_) {
    count.fetch_sub(1);
    return LoadRefusal(
        absl::StrCat(
            "model ", Quote(model), " has ", limit_,
            " calls in flight, the server's limit (--max_streams_per_model)"),
        retry_after_);
  }
  return Ticket(&count);
}

int64_t Admission::InFlight(const std::string& model) const {
  auto it = in_flight_.find(model);
  return it == in_flight_.end() ? 0 : it->second->load();
}

}  // namespace tinylm
