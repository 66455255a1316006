#include "server/http/connect_protocol.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/http/json_text.h"
#include "server/http/status_mapping.h"

namespace tinylm {
namespace {

constexpr size_t kEnvelopeHeader = 5;

nlohmann::json ErrorObject(const grpc::Status& status) {
  nlohmann::json error = {{"code", ConnectCodeName(status.error_code())}};
  if (!status.error_message().empty()) {
    error["message"] = status.error_message();
  }
  return error;
}

}  // namespace

std::string Envelope(uint8_t flags, absl::string_view payload) {
  const uint32_t n = payload.size();
  std::string out = {static_cast<char>(flags), static_cast<char>(n >> 24),
                     static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)};
  out.append(payload.data(), payload.size());
  return out;
}

absl::StatusOr<std::string> SingleEnvelopePayload(absl::string_view body) {
  if (body.size() < kEnvelopeHeader) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a streaming request's body is one enveloped message (5-byte "
        "header, then the JSON); got ",
        body.size(), " bytes"));
  }
  const auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(body[i]));
  };
  const uint8_t flags = byte(0);
  const uint32_t length =
      byte(1) << 24 | byte(2) << 16 | byte(3) << 8 | byte(4);
  if (flags & kEnvelopeCompressed) {
    return absl::UnimplementedError(
        "compressed messages are not accepted (send no Connect-Content-"
        "Encoding)");
  }
  if (flags != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected envelope flags ", flags));
  }
  if (body.size() - kEnvelopeHeader != length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the envelope announces ", length, " bytes but holds ",
        body.size() - kEnvelopeHeader,
        " (a streaming request is exactly one message)"));
  }
  return std::string(body.substr(kEnvelopeHeader));
}

std::string ConnectErrorJson(const grpc::Status& status) {
  return DumpJson(ErrorObject(status));
}

std::string EndOfStreamJson(const grpc::Status& status) {
  if (status.ok()) return "{}";
  return DumpJson(nlohmann::json{{"error", ErrorObject(status)}});
}

}  // namespace tinylm
