#include "server/operations/request_log.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace tinylm {
namespace {

std::string Timestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

double Round3(double ms) { return std::round(ms * 1000.0) / 1000.0; }

// A JSON string; invalid UTF-8 (a client's text quoted in an error message)
// becomes U+FFFD rather than an exception.
std::string Quoted(const std::string& value) {
  return nlohmann::json(value).dump(-1, ' ', false,
                                    nlohmann::json::error_handler_t::replace);
}

// Text values are quoted (JSON string rules) when they could be misread:
// empty, or holding spaces, quotes, '=' or anything but printable ASCII.
std::string TextValue(const std::string& value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c <= ' ' || c > '~' || c == '"' || c == '=') plain = false;
  }
  return plain ? value : Quoted(value);
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "json") return LogFormat::kJson;
  if (name == "text") return LogFormat::kText;
  if (name == "off") return LogFormat::kOff;
  return absl::InvalidArgumentError(
      absl::StrCat("--log_requests=", name, ": expected json, text or off"));
}

std::string FormatJson(const RequestLogEntry& e) {
  nlohmann::ordered_json line = {
      {"time", Timestamp(e.time)},
      {"request_id", e.request_id},
      {"rpc", e.rpc},
      {"model", e.model},
      {"code", e.code},
      {"prompt_tokens", e.prompt_tokens},
      {"generated_tokens", e.generated_tokens},
      {"ttft_ms", e.ttft_ms ? nlohmann::ordered_json(Round3(*e.ttft_ms))
                            : nlohmann::ordered_json(nullptr)},
      {"total_ms", Round3(e.total_ms)},
      {"peer", e.peer},
  };
  if (!e.error.empty()) line["error"] = e.error;
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatText(const RequestLogEntry& e) {
  std::string line = absl::StrCat(
      Timestamp(e.time), " request_id=", TextValue(e.request_id),
      " rpc=", e.rpc, " model=", TextValue(e.model), " code=", e.code,
      " prompt_tokens=", e.prompt_tokens,
      " generated_tokens=", e.generated_tokens,
      " ttft_ms=", e.ttft_ms ? absl::StrFormat("%.3f", *e.ttft_ms) : "-",
      absl::StrFormat(" total_ms=%.3f", e.total_ms),
      " peer=", TextValue(e.peer));
  if (!e.error.empty()) {
    absl::StrAppend(&line, " error=", Quoted(e.error));
  }
  return line;
}

RequestLog::RequestLog(LogFormat format, std::ostream* out)
    : format_(format), out_(out) {}

void RequestLog::Write(const RequestLogEntry& entry) {
  if (format_ == LogFormat::kOff) return;
  const std::string line =
      format_ == LogFormat::kJson ? FormatJson(entry) : FormatText(entry);
  std::lock_guard<std::mutex> lock(mu_);
  *out_ << line << std::endl;
}

}  // namespace tinylm
