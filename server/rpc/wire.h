// Request and response bytes <-> API messages.
//
// The service receives raw bytes and parses them here rather than in gRPC:
// protobuf refuses a proto3 string field that is not valid UTF-8, and gRPC
// would answer that with an empty UNIMPLEMENTED. Parsed here, it becomes an
// INVALID_ARGUMENT that names the field and the offending byte.
#ifndef TINYLM_SERVER_RPC_WIRE_H_
#define TINYLM_SERVER_RPC_WIRE_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"

namespace tinylm {

absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message* message);

void SerializeResponse(const google::protobuf::Message& message,
                       grpc::ByteBuffer* bytes);

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_WIRE_H_
