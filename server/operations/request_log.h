// The request log: one line per finished TinyLM call on stderr, as JSON
// (default) or as key=value text (--log_requests). Field list and examples
// in docs/operations.md.
#ifndef TINYLM_SERVER_OPERATIONS_REQUEST_LOG_H_
#define TINYLM_SERVER_OPERATIONS_REQUEST_LOG_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tinylm {

enum class LogFormat { kOff, kJson, kText };

// "json", "text" or "off"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

struct RequestLogEntry {
  absl::Time time;  // when the call ended
  std::string request_id;
  std::string rpc;               // "Generate", "TopK", ...
  std::string model;             // comma-separated for Compare; "" when unknown
  std::string code;              // gRPC status code name, e.g. "OK"
  std::string error;             // the status message when not OK
  std::string peer;              // the client's address
  int64_t prompt_tokens = 0;     // summed over a Compare's models
  int64_t generated_tokens = 0;  // likewise
  std::optional<double> ttft_ms;  // arrival to first token, when one came
  double total_ms = 0.0;          // call start to end
};

std::string FormatJson(const RequestLogEntry& entry);
std::string FormatText(const RequestLogEntry& entry);

// Thread-safe: lines from concurrent calls never interleave.
class RequestLog {
 public:
  // `out` outlives the log.
  explicit RequestLog(LogFormat format, std::ostream* out);

  bool enabled() const { return format_ != LogFormat::kOff; }
  void Write(const RequestLogEntry& entry);

 private:
  const LogFormat format_;
  std::mutex mu_;
  std::ostream* out_;  // guarded by mu_
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_OPERATIONS_REQUEST_LOG_H_
