// The writing half of safetensors.h: tensors and metadata to a file image.
#include "models/safetensors.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "util/file_io.h"
#include "nlohmann/json.hpp"

namespace tinylm {
namespace {

struct Item {
  const std::string* name;
  at::Tensor data;  // CPU, contiguous
  std::string dtype_name;
  uint64_t begin = 0, end = 0;  // in the data buffer
};

// Checks the names and dtypes and brings every tensor to contiguous CPU
// memory.
absl::StatusOr<std::vector<Item>> PrepareItems(const NamedTensors& tensors) {
  std::vector<Item> items;
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name '", name, "' is reserved or empty"));
    }
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor name '", name, "' appears twice"));
    }
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' is undefined"));
    }
    absl::StatusOr<std::string> dtype_name =
        SafetensorsDtypeName(tensor.scalar_type());
    if (!dtype_name.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "': ", dtype_name.status().message()));
    }
    try {
      items.push_back(
          {&name, tensor.detach().to(at::kCPU).contiguous(), *dtype_name});
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("tensor '", name, "': ", e.what_without_backtrace()));
    }
  }
  return items;
}

// Sets the items' offsets and returns them in data order: larger elements
// first, as the Python library does, so that each tensor starts at a
// multiple of its element size in an 8-aligned buffer.
std::vector<const Item*> LayOut(std::vector<Item>& items) {
  std::vector<Item*> layout;
  for (Item& item : items) layout.push_back(&item);
  std::sort(layout.begin(), layout.end(), [](const Item* a, const Item* b) {
    const size_t sa = a->data.element_size(), sb = b->data.element_size();
    return sa != sb ? sa > sb : *a->name < *b->name;
  });
  uint64_t offset = 0;
  for (Item* item : layout) {
    item->begin = offset;
    offset += item->data.nbytes();
    item->end = offset;
  }
  return {layout.begin(), layout.end()};
}

// The header JSON padded with spaces (JSON whitespace) to a multiple of 8
// bytes, so that the data buffer starts 8-aligned. Keys sorted (metadata
// first, then tensor names); each entry's fields in the format's order.
absl::StatusOr<std::string> HeaderText(
    const std::vector<Item>& items,
    const std::map<std::string, std::string>& metadata) {
  std::vector<const Item*> by_name;
  for (const Item& item : items) by_name.push_back(&item);
  std::sort(by_name.begin(), by_name.end(),
            [](const Item* a, const Item* b) { return *a->name < *b->name; });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  for (const Item* item : by_name) {
    nlohmann::ordered_json entry;
    entry["dtype"] = item->dtype_name;
    entry["shape"] = item->data.sizes().vec();
    entry["data_offsets"] = {item->begin, item->end};
    header[*item->name] = std::move(entry);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a tensor name or metadata string is not valid UTF-8: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

absl::StatusOr<std::string> SerializeSafetensors(
    const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::vector<Item>> items = PrepareItems(tensors);
  if (!items.ok()) return items.status();
  const std::vector<const Item*> layout = LayOut(*items);
  absl::StatusOr<std::string> header = HeaderText(*items, metadata);
  if (!header.ok()) return header.status();

  const uint64_t data_size = layout.empty() ? 0 : layout.back()->end;
  std::string out;
  out.reserve(8 + header->size() + data_size);
  const uint64_t header_size = header->size();
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  }
  out += *header;
  for (const Item* item : layout) {
    out.append(static_cast<const char*>(item->data.data_ptr()),
               item->data.nbytes());
  }
  return out;
}

absl::StatusOr<std::string> SerializeSafetensorsFor(
    const std::string& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::string> image = SerializeSafetensors(tensors, metadata);
  if (!image.ok()) {
    return absl::Status(image.status().code(),
                        absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

absl::Status WriteSafetensors(
    const std::string& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::string> image =
      SerializeSafetensorsFor(path, tensors, metadata);
  if (!image.ok()) return image.status();
  return WriteFileAtomically(path, *image);
}

}  // namespace tinylm
