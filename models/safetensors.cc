// The reading half of safetensors.h and the dtype table (the writer is in
// safetensors_writer.cc).
#include "models/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/file_io.h"
#include "nlohmann/json.hpp"

// Tensor bytes are copied as they lie in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors I/O assumes a little-endian host");

namespace tinylm {
namespace {

using nlohmann::json;

struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
};

// BOOL and the 8-bit floats exist in the format but are left out: tinylm
// never stores them, and a BOOL byte other than 0/1 is not a valid bool.
constexpr DtypeInfo kDtypes[] = {
    {"F64", c10::kDouble},    {"F32", c10::kFloat}, {"F16", c10::kHalf},
    {"BF16", c10::kBFloat16}, {"I64", c10::kLong},  {"I32", c10::kInt},
    {"I16", c10::kShort},     {"I8", c10::kChar},   {"U8", c10::kByte},
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// A JSON value that is a non-negative integer fitting in int64.
bool AsNonNegative(const json& value, uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

// Parses the header, failing on duplicate keys in any object: nlohmann's
// object keeps only the last of them, which would hide a broken file.
absl::StatusOr<json> ParseHeaderJson(absl::string_view text,
                                     const std::string& source) {
  std::vector<std::set<std::string>> keys_per_object;
  std::string duplicate;
  auto track = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys_per_object.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys_per_object.pop_back();
    } else if (event == json::parse_event_t::key && duplicate.empty() &&
               !keys_per_object.back()
                    .insert(parsed.get<std::string>())
                    .second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), track);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": header is not valid JSON: ", e.what()));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": header has the key '", duplicate, "' more than once"));
  }
  if (!header.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": header is not a JSON object but a ", header.type_name()));
  }
  return header;
}

// Checks one tensor's description; `data_size` is the data buffer's length.
absl::StatusOr<SafetensorsEntry> ParseEntry(const std::string& name,
                                            const json& value,
                                            uint64_t data_size,
                                            const std::string& source) {
  const std::string where = absl::StrCat(source, ": tensor '", name, "'");
  auto fail = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", parts...));
  };
  if (!value.is_object()) return fail("is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) return fail("has no '", key, "'");
  }
  SafetensorsEntry entry;
  entry.name = name;
  const json& dtype = value["dtype"];
  if (!dtype.is_string()) return fail("'dtype' is not a string");
  entry.dtype_name = dtype.get<std::string>();
  absl::StatusOr<c10::ScalarType> type =
      SafetensorsScalarType(entry.dtype_name);
  if (!type.ok()) return fail(type.status().message());
  entry.dtype = *type;

  const json& shape = value["shape"];
  if (!shape.is_array()) return fail("'shape' is not an array");
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& dim : shape) {
    uint64_t d = 0;
    if (!AsNonNegative(dim, d)) {
      return fail("'shape' ", dim.dump(),
                  " is not a list of non-negative integers");
    }
    entry.shape.push_back(static_cast<int64_t>(d));
    overflow |= __builtin_mul_overflow(numel, d, &numel);
  }
  uint64_t nbytes = 0;
  overflow |=
      __builtin_mul_overflow(numel, c10::elementSize(entry.dtype), &nbytes);
  if (overflow) return fail("shape ", shape.dump(), " is too large");

  const json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 ||
      !AsNonNegative(offsets[0], entry.begin) ||
      !AsNonNegative(offsets[1], entry.end)) {
    return fail("'data_offsets' ", offsets.dump(),
                " is not a pair of non-negative integers");
  }
  if (entry.begin > entry.end) {
    return fail("data_offsets ", offsets.dump(), " begin after they end");
  }
  if (entry.end > data_size) {
    return fail("data_offsets ", offsets.dump(),
                " run past the end of the data buffer (", data_size, " bytes)");
  }
  if (entry.end - entry.begin != nbytes) {
    return fail("data_offsets ", offsets.dump(), " span ",
                entry.end - entry.begin, " bytes, but dtype ", entry.dtype_name,
                " and shape ", ShapeString(entry.shape), " need ", nbytes);
  }
  return entry;
}

// The tensors must cover the data buffer exactly: no overlaps (a write to
// one would change another), no holes or trailing bytes (the format says
// the buffer is fully indexed; stray bytes suggest a damaged file).
absl::Status CheckCoverage(std::vector<const SafetensorsEntry*> entries,
                           uint64_t data_size, const std::string& source) {
  std::sort(entries.begin(), entries.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
              return std::tie(a->begin, a->end, a->name) <
                     std::tie(b->begin, b->end, b->name);
            });
  uint64_t covered = 0;
  const SafetensorsEntry* last = nullptr;
  for (const SafetensorsEntry* e : entries) {
    if (e->begin < covered) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensors '", last->name, "' [", last->begin,
                       ", ", last->end, ") and '", e->name, "' [", e->begin,
                       ", ", e->end, ") overlap"));
    }
    if (e->begin > covered) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": bytes [", covered, ", ", e->begin,
                       ") of the data buffer belong to no tensor"));
    }
    if (e->end > covered || last == nullptr) {
      covered = e->end;
      last = e;
    }
  }
  if (covered != data_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the data buffer has ", data_size - covered,
                     " trailing bytes that belong to no tensor (", data_size,
                     " bytes, tensors end at ", covered, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> SafetensorsDtypeName(c10::ScalarType type) {
  for (const DtypeInfo& d : kDtypes) {
    if (d.type == type) return std::string(d.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("scalar type ", c10::toString(type),
                   " has no supported safetensors dtype"));
}

absl::StatusOr<c10::ScalarType> SafetensorsScalarType(absl::string_view name) {
  for (const DtypeInfo& d : kDtypes) {
    if (name == d.name) return d.type;
  }
  std::vector<const char*> known;
  for (const DtypeInfo& d : kDtypes) known.push_back(d.name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown or unsupported dtype '", name,
                   "' (supported: ", absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Read(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return Parse(*std::move(bytes), path);
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Parse(std::string bytes,
                                                       std::string source) {
  auto fail = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", parts...));
  };
  if (bytes.size() < 8) {
    return fail("file is ", bytes.size(),
                " bytes long, too short for the 8-byte header length");
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | static_cast<unsigned char>(bytes[i]);
  }
  if (header_size > kSafetensorsMaxHeaderBytes) {
    return fail("header length ", header_size, " exceeds the limit of ",
                kSafetensorsMaxHeaderBytes, " bytes");
  }
  if (header_size > bytes.size() - 8) {
    return fail("header length ", header_size, " runs past the end of the ",
                bytes.size(), "-byte file");
  }
  absl::StatusOr<json> header =
      ParseHeaderJson(absl::string_view(bytes).substr(8, header_size), source);
  if (!header.ok()) return header.status();

  SafetensorsFile file;
  file.data_start_ = 8 + header_size;
  const uint64_t data_size = bytes.size() - file.data_start_;
  for (const auto& [key, value] : header->items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return fail("__metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          return fail("__metadata__ must map strings to strings, but '",
                      meta_key, "' is a ", meta_value.type_name());
        }
        file.metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    absl::StatusOr<SafetensorsEntry> entry =
        ParseEntry(key, value, data_size, source);
    if (!entry.ok()) return entry.status();
    file.entries_.push_back(*std::move(entry));  // json keys come sorted
  }
  std::vector<const SafetensorsEntry*> by_offset;
  for (const SafetensorsEntry& e : file.entries_) by_offset.push_back(&e);
  absl::Status covered = CheckCoverage(std::move(by_offset), data_size, source);
  if (!covered.ok()) return covered;

  file.source_ = std::move(source);
  file.bytes_ = std::move(bytes);
  return file;
}

const SafetensorsEntry* SafetensorsFile::Find(absl::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const SafetensorsEntry& e,
                                absl::string_view n) { return e.name < n; });
  if (it == entries_.end() || it->name != name) return nullptr;
  return &*it;
}

absl::StatusOr<at::Tensor> SafetensorsFile::ToTensor(
    const SafetensorsEntry& entry) const {
  // Parse() proved these bounds for its own entries; re-checked so that a
  // foreign entry cannot make this read outside the buffer.
  const uint64_t data_size = bytes_.size() - data_start_;
  if (entry.begin > entry.end || entry.end > data_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": tensor '", entry.name, "' lies outside the data buffer"));
  }
  try {
    at::Tensor tensor = at::empty(entry.shape, at::dtype(entry.dtype));
    const uint64_t nbytes = entry.end - entry.begin;
    if (tensor.nbytes() != nbytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ": tensor '", entry.name, "' has ", nbytes,
          " bytes of data for ", tensor.nbytes(), " bytes of tensor"));
    }
    if (nbytes > 0) {
      std::memcpy(tensor.data_ptr(), bytes_.data() + data_start_ + entry.begin,
                  nbytes);
    }
    return tensor;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(source_, ": tensor '", entry.name,
                                            "': ", e.what_without_backtrace()));
  }
}

}  // namespace tinylm
