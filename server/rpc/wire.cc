#include "server/rpc/wire.h"

#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/common.h>
#if GOOGLE_PROTOBUF_VERSION < 4022000
#include <google/protobuf/stubs/logging.h>
#endif
#include <google/protobuf/unknown_field_set.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/utf8.h"

namespace tinylm {
namespace {

std::string Flatten(const grpc::ByteBuffer& bytes) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!bytes.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// Why `data` does not parse as `message`: a string field (of the top-level
// message, where the API keeps its strings) that is not valid UTF-8, or a
// generic parse failure.
absl::Status Explain(const std::string& data,
                     const google::protobuf::Message& message) {
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  google::protobuf::UnknownFieldSet fields;
  if (fields.ParseFromString(data)) {
    for (int i = 0; i < fields.field_count(); ++i) {
      const google::protobuf::UnknownField& field = fields.field(i);
      if (field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
        continue;
      const google::protobuf::FieldDescriptor* known =
          type->FindFieldByNumber(field.number());
      if (known == nullptr ||
          known->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
        continue;
      }
      const std::string& text = field.length_delimited();
      const size_t valid = ValidUtf8Prefix(text);
      if (valid == text.size()) continue;
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: not valid UTF-8 (byte 0x%02x at offset %d)", known->name(),
          static_cast<unsigned char>(text[valid]), valid));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the request is not a valid ", type->full_name()));
}

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message* message) {
  const std::string data = Flatten(bytes);
#if GOOGLE_PROTOBUF_VERSION < 4022000
  // Protobuf logs an ERROR line for every string that is not valid UTF-8;
  // the client hears about it (Explain), and a client sending many would
  // otherwise fill the server's log.
  google::protobuf::LogSilencer quiet;
#endif
  if (message->ParseFromString(data)) return absl::OkStatus();
  return Explain(data, *message);
}

void SerializeResponse(const google::protobuf::Message& message,
                       grpc::ByteBuffer* bytes) {
  const std::string data = message.SerializeAsString();
  grpc::Slice slice(data);
  *bytes = grpc::ByteBuffer(&slice, 1);
}

}  // namespace tinylm
