// The Connect protocol's framing (connectrpc.com/docs/protocol), JSON codec
// only: unary calls are a plain JSON body each way, errors a JSON object
// {"code", "message"}; server-streaming calls frame each message in an
// envelope (one flags byte, a 4-byte big-endian length, the payload) and end
// with an end-of-stream envelope that carries the error, if any.
#ifndef TINYLM_SERVER_HTTP_CONNECT_PROTOCOL_H_
#define TINYLM_SERVER_HTTP_CONNECT_PROTOCOL_H_

#include <cstdint>
#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

inline constexpr char kConnectUnaryType[] = "application/json";
inline constexpr char kConnectStreamType[] = "application/connect+json";
inline constexpr uint8_t kEnvelopeCompressed = 0x01;
inline constexpr uint8_t kEnvelopeEndStream = 0x02;

std::string Envelope(uint8_t flags, absl::string_view payload);

// The payload of a request body that must hold exactly one uncompressed
// message envelope (a server-streaming call's request).
absl::StatusOr<std::string> SingleEnvelopePayload(absl::string_view body);

// {"code": "invalid_argument", "message": "..."}
std::string ConnectErrorJson(const grpc::Status& status);

// The end-of-stream message: {} or {"error": {...}}.
std::string EndOfStreamJson(const grpc::Status& status);

}  // namespace tinylm

#endif  // TINYLM_SERVER_HTTP_CONNECT_PROTOCOL_H_
