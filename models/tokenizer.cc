#include "models/tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "models/spm_loader.h"
#include "util/file_io.h"
#include "util/status_macros.h"
#include "util/utf8.h"

namespace tinylm {
namespace {

// U+2581, which sentencepiece writes for a space.
constexpr char kSpaceSymbol[] = "\xE2\x96\x81";

// "<0xE3>" -> '\xE3'; false if `piece` is not of that form.
bool ParseBytePiece(const std::string& piece, char& byte) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') {
    return false;
  }
  char* end = nullptr;
  const std::string hex = piece.substr(3, 2);
  const long value = std::strtol(hex.c_str(), &end, 16);
  if (end != hex.c_str() + 2) return false;
  byte = static_cast<char>(value);
  return true;
}

// Every byte that is not part of valid UTF-8 becomes "<0xNN>".
std::string EscapeInvalidUtf8(absl::string_view text) {
  std::string out;
  while (!text.empty()) {
    const size_t valid = ValidUtf8Prefix(text);
    out.append(text.data(), valid);
    text.remove_prefix(valid);
    if (!text.empty()) {
      absl::StrAppend(&out, absl::StrFormat("<0x%02X>", text[0] & 0xFF));
      text.remove_prefix(1);
    }
  }
  return out;
}

}  // namespace

// Owns one loaded model of the module. The per-id tables are filled once at
// load so that the accessors are cheap and need no module call (attention
// maps label every position; streams call TokenBytes per token).
struct Tokenizer::Impl {
  const SpmModule* module = nullptr;  // lives until exit
  TinylmSpmModel* model = nullptr;
  std::string model_path;

  std::vector<std::string> pieces;
  std::vector<std::string> token_bytes;
  std::vector<std::string> display;
  std::vector<bool> is_byte;
  std::vector<bool> is_control;
  int64_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  int64_t max_token_bytes = 1;
  bool add_bos = false;

  ~Impl() {
    if (model != nullptr) module->free_model(model);
  }

  bool InRange(int64_t id) const {
    return id >= 0 && id < static_cast<int64_t>(pieces.size());
  }

  absl::StatusOr<std::string> DecodeInts(const std::vector<int>& ids) const {
    char* text = nullptr;
    size_t len = 0;
    char* error = nullptr;
    if (module->decode(model, ids.data(), ids.size(), &text, &len, &error) !=
        0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer '", model_path, "': ", module->TakeError(error)));
    }
    std::string out(text, len);
    module->free_string(text);
    return out;
  }

  absl::Status BuildTables() {
    const int size = module->vocab_size(model);
    if (size <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer model '", model_path, "' has no pieces"));
    }
    bos_id = module->bos_id(model);
    eos_id = module->eos_id(model);
    unk_id = module->unk_id(model);
    pad_id = module->pad_id(model);
    pieces.resize(size);
    token_bytes.resize(size);
    display.resize(size);
    is_byte.resize(size);
    is_control.resize(size);
    for (int id = 0; id < size; ++id) {
      size_t len = 0;
      const char* piece = module->id_to_piece(model, id, &len);
      pieces[id] = piece != nullptr ? std::string(piece, len) : "";
      is_byte[id] = module->is_byte(model, id) != 0;
      is_control[id] = module->is_control(model, id) != 0;
      char byte;
      if (is_control[id]) {
        token_bytes[id] = "";
      } else if (is_byte[id] && ParseBytePiece(pieces[id], byte)) {
        token_bytes[id] = std::string(1, byte);
      } else if (module->is_unknown(model, id) != 0) {
        TINYLM_ASSIGN_OR_RETURN(token_bytes[id], DecodeInts({id}));
      } else {
        token_bytes[id] =
            absl::StrReplaceAll(pieces[id], {{kSpaceSymbol, " "}});
      }
      const std::string& bytes = token_bytes[id];
      display[id] = !bytes.empty() && IsValidUtf8(bytes)
                        ? bytes
                        : EscapeInvalidUtf8(pieces[id]);
      // The piece's own length covers the text it matched, whose spaces it
      // holds as the 3-byte "▁"; the token's bytes cover the decoded form.
      max_token_bytes = std::max<int64_t>(
          {max_token_bytes, int64_t(pieces[id].size()),
           int64_t(bytes.size())});
    }
    return absl::OkStatus();
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(
    const std::string& model_path, const std::string& module_path,
    bool add_bos) {
  TINYLM_ASSIGN_OR_RETURN(const SpmModule* module, LoadSpmModule(module_path));
  if (!IsRegularFile(model_path)) {
    return absl::NotFoundError(absl::StrCat(
        "tokenizer model '", model_path, "' does not exist or is not a file"));
  }
  auto impl = std::make_unique<Impl>();
  impl->module = module;
  impl->model_path = model_path;
  char* error = nullptr;
  impl->model = module->load(model_path.c_str(), &error);
  if (impl->model == nullptr) {
    // The module's message names the file and sentencepiece's reason.
    return absl::InvalidArgumentError(module->TakeError(error));
  }
  TINYLM_RETURN_IF_ERROR(impl->BuildTables());
  if (add_bos && impl->bos_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer model '", model_path,
                     "' has no BOS piece to start prompts with"));
  }
  impl->add_bos = add_bos;
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

absl::StatusOr<std::vector<int64_t>> Tokenizer::Encode(
    absl::string_view text) const {
  // sentencepiece would silently replace invalid bytes with U+FFFD, and the
  // round trip would no longer give back the input.
  const size_t valid = ValidUtf8Prefix(text);
  if (valid != text.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "text to tokenize is not valid UTF-8 (byte 0x%02X at offset %d)",
        text[valid] & 0xFF, valid));
  }
  int* ids = nullptr;
  size_t num_ids = 0;
  char* error = nullptr;
  if (impl_->module->encode(impl_->model, text.data(), text.size(), &ids,
                            &num_ids, &error) != 0) {
    return absl::InternalError(
        absl::StrCat("tokenizer '", impl_->model_path,
                     "': ", impl_->module->TakeError(error)));
  }
  std::vector<int64_t> out;
  out.reserve(num_ids + 1);
  if (impl_->add_bos) out.push_back(impl_->bos_id);
  out.insert(out.end(), ids, ids + num_ids);
  impl_->module->free_ids(ids);
  return out;
}

bool Tokenizer::adds_bos() const { return impl_->add_bos; }

absl::StatusOr<std::string> Tokenizer::Decode(
    const std::vector<int64_t>& ids) const {
  std::vector<int> narrow(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    // Checked here as int64: narrowing first could turn a bad id good.
    if (!impl_->InRange(ids[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", ids[i], " at position ", i,
          " is outside the vocabulary [0, ", impl_->pieces.size(), ")"));
    }
    narrow[i] = static_cast<int>(ids[i]);
  }
  return impl_->DecodeInts(narrow);
}

std::string Tokenizer::IdToPiece(int64_t id) const {
  return impl_->InRange(id) ? impl_->pieces[id] : "";
}

int64_t Tokenizer::PieceToId(absl::string_view piece) const {
  return impl_->module->piece_to_id(impl_->model, piece.data(), piece.size());
}

std::string Tokenizer::TokenBytes(int64_t id) const {
  return impl_->InRange(id) ? impl_->token_bytes[id] : "";
}

std::string Tokenizer::DisplayPiece(int64_t id) const {
  return impl_->InRange(id) ? impl_->display[id] : "";
}

int64_t Tokenizer::max_token_bytes() const { return impl_->max_token_bytes; }

int64_t Tokenizer::vocab_size() const { return impl_->pieces.size(); }
int64_t Tokenizer::bos_id() const { return impl_->bos_id; }
int64_t Tokenizer::eos_id() const { return impl_->eos_id; }
int64_t Tokenizer::unk_id() const { return impl_->unk_id; }
int64_t Tokenizer::pad_id() const { return impl_->pad_id; }

bool Tokenizer::IsByte(int64_t id) const {
  return impl_->InRange(id) && impl_->is_byte[id];
}

bool Tokenizer::IsControl(int64_t id) const {
  return impl_->InRange(id) && impl_->is_control[id];
}

absl::Status Tokenizer::Train(const TrainOptions& options,
                              const std::string& module_path) {
  if (options.inputs.empty()) {
    return absl::InvalidArgumentError("tokenizer training: no input files");
  }
  for (const std::string& input : options.inputs) {
    // sentencepiece takes the inputs as one comma-separated flag.
    if (input.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokenizer training: input path '", input, "' contains a comma"));
    }
    if (!IsRegularFile(input)) {
      return absl::NotFoundError(absl::StrCat(
          "tokenizer training: input file '", input, "' does not exist"));
    }
  }
  if (options.model_prefix.empty()) {
    return absl::InvalidArgumentError(
        "tokenizer training: model_prefix is empty");
  }
  TINYLM_ASSIGN_OR_RETURN(const SpmModule* module, LoadSpmModule(module_path));

  const std::vector<std::pair<std::string, std::string>> flags = {
      {"input", absl::StrJoin(options.inputs, ",")},
      {"model_prefix", options.model_prefix},
      {"vocab_size", absl::StrCat(options.vocab_size)},
      {"input_sentence_size", absl::StrCat(options.input_sentence_size)},
      {"character_coverage", absl::StrCat(options.character_coverage)},
      {"num_threads", absl::StrCat(options.num_threads)},
  };
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : flags) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  char* error = nullptr;
  if (module->train(keys.data(), values.data(), keys.size(),
                    options.log_progress ? 0 : 1, &error) != 0) {
    // sentencepiece's own checks (vocabulary too small for the characters
    // to cover, coverage out of range, ...) are about the options.
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer training (prefix '", options.model_prefix,
                     "'): ", module->TakeError(error)));
  }
  return absl::OkStatus();
}

}  // namespace tinylm
