// CallRecord: one TinyLM call as operators see it. It carries the request
// id (the client's "x-request-id" metadata when usable, else a fresh one,
// sent back in the initial and trailing metadata), holds the call's
// admission tickets, and at the end counts the call in the metrics and
// writes its request log line.
//
// Owned by the call: the handler, then the reactor that finishes the call
// (the tickets are released when the reactor is done). Thread-safe.
#ifndef TINYLM_SERVER_OPERATIONS_CALL_RECORD_H_
#define TINYLM_SERVER_OPERATIONS_CALL_RECORD_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/operations/admission.h"
#include "server/engine/request.h"
#include "server/operations/metrics.h"
#include "server/operations/request_log.h"

namespace tinylm {

inline constexpr char kRequestIdKey[] = "x-request-id";
inline constexpr char kRetryAfterKey[] = "retry-after-ms";
inline constexpr char kRetryPushbackKey[] = "grpc-retry-pushback-ms";

// Where a call's record goes; either may be null.
struct CallObservers {
  ServerMetrics* metrics = nullptr;
  RequestLog* log = nullptr;
};

// Whether a client's request id is used as given: 1 to 128 characters of
// [A-Za-z0-9._:-] (anything else could garble the log).
bool UsableRequestId(absl::string_view id);

class CallRecord {
 public:
  // Adds the request id to `context`'s initial metadata. `context` must
  // stay valid until End().
  CallRecord(grpc::CallbackServerContext* context, std::string rpc,
             const CallObservers& observers);
  // A call that never reached End() is recorded as CANCELLED.
  ~CallRecord();
  CallRecord(const CallRecord&) = delete;
  CallRecord& operator=(const CallRecord&) = delete;

  const std::string& request_id() const { return request_id_; }

  // The model(s) the call is for; a Compare's comma-separated.
  void SetModel(absl::string_view model);
  void AddPromptTokens(int64_t tokens);
  void Hold(Admission::Ticket ticket);
  // A token sent on a stream (Generate).
  void CountStreamedToken();
  // A finished request of the call (Generate, TopK, AttentionMaps, each
  // model of a Compare).
  void AddSummary(const Summary& summary);

  // Records the end with `status`: trailing metadata (the request id, and
  // for a load refusal (refusals.h) the retry hint as "retry-after-ms" and
  // "grpc-retry-pushback-ms"), metrics, log line. Returns the status to finish
  // the call with. Call once, before the call's Finish.
  grpc::Status End(const absl::Status& status);

 private:
  void Record(const grpc::Status& status);

  grpc::CallbackServerContext* const context_;
  const std::string rpc_;
  const CallObservers observers_;
  const absl::Time start_;
  std::string request_id_;
  std::string peer_;

  std::mutex mu_;
  std::string model_;                         // guarded by mu_
  std::vector<Admission::Ticket> tickets_;    // guarded by mu_
  int64_t prompt_tokens_ = 0;                 // guarded by mu_
  int64_t generated_tokens_ = 0;              // guarded by mu_
  int64_t streamed_tokens_ = 0;               // guarded by mu_
  bool summarized_ = false;                   // guarded by mu_
  std::optional<absl::Time> first_streamed_;  // guarded by mu_
  std::optional<double> ttft_ms_;             // guarded by mu_
  bool ended_ = false;                        // guarded by mu_
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_CALL_RECORD_H_
