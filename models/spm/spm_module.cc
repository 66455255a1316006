// libtinylm_spm.so: sentencepiece behind the C interface of spm_module.h.
//
// This is the only file of tinylm that includes a sentencepiece header
// (its own absl::string_view clashes with abseil's, and its bundled
// Protobuf with the process's; see models/tokenizer.h). No C++ object
// leaves this file: errors become malloc'ed strings, results malloc'ed
// buffers, and no exception crosses the C boundary.
#include "models/spm/spm_module.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sentencepiece_processor.h"
#include "sentencepiece_trainer.h"

struct TinylmSpmModel {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

// Inputs longer than this give their encoding memory back (see Encode).
constexpr size_t kTrimAfterBytes = 64 << 10;

// Copies `text` into a NUL-terminated buffer owned by this module.
char* CopyToMalloc(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

int Fail(char** error, const std::string& message) {
  if (error != nullptr) *error = CopyToMalloc(message);
  return 1;
}

// Runs `body` (returning 0 or a Fail code); an exception, which must not
// cross the C boundary, becomes an error that starts with `what`.
template <typename Body>
int Guarded(char** error, const std::string& what, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(error, what + ": " + e.what());
  } catch (...) {
    return Fail(error, what + ": unknown exception");
  }
}

bool InRange(const TinylmSpmModel* model, int id) {
  return model != nullptr && id >= 0 && id < model->processor.GetPieceSize();
}

// Trainer options every tinylm tokenizer gets unless the caller says
// otherwise.
//  - model_type=bpe: the model family follows LLaMA-2, whose tokenizer is a
//    sentencepiece BPE with byte fallback and split digits; BPE encoding is
//    a deterministic sequence of merges, which keeps token boundaries
//    stable when text is extended (useful for streaming and attention
//    maps), and it trains well on a small corpus.
//  - split_digits: numbers become digit sequences instead of arbitrary
//    multi-digit pieces, so the model sees one way to write each number.
//  - ids: unk 0, bos 1, eos 2 as in LLaMA, plus a pad id for batching.
//  - max_sentence_length: the corpus is one paragraph per line, and
//    Japanese paragraphs pass sentencepiece's default of 4192 bytes; longer
//    lines would be dropped from training silently.
const std::map<std::string, std::string>& DefaultOptions() {
  static const auto* options = new std::map<std::string, std::string>{
      {"model_type", "bpe"},
      {"split_digits", "true"},
      {"character_coverage", "0.9995"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      {"max_sentence_length", "65536"},
  };
  return *options;
}

// Options the tokenizer's contract depends on; a caller cannot change them.
//  - byte_fallback: a character outside the vocabulary becomes its UTF-8
//    bytes (<0xNN> pieces) instead of <unk>, so no text is ever lost; with
//    it, Decode(Encode(text)) == text for every valid UTF-8 text.
//  - normalization_rule_name=identity: the default nmt_nfkc rewrites text
//    (full-width Latin letters to ASCII, half-width katakana to full-width,
//    "①" to "1", ...), which breaks exact round trips of Japanese text; the
//    server must echo prompts exactly, so the original orthography is kept
//    at the price of a few more vocabulary entries for variant forms.
//  - remove_extra_whitespaces=false: runs of spaces, leading and trailing
//    spaces survive the round trip.
//  - add_dummy_prefix=false: no invented leading space, so the bytes of the
//    tokens (Tokenizer::TokenBytes) concatenate to exactly the input text.
const std::map<std::string, std::string>& FixedOptions() {
  static const auto* options = new std::map<std::string, std::string>{
      {"byte_fallback", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
  };
  return *options;
}

// sentencepiece's checks put their source location and condition before
// the reason, as in "./src/trainer_interface.cc(580) [(a) <= (b)] Vocabulary
// size is smaller than required_chars. ..."; a user needs the reason only.
// Messages of another shape are kept whole.
std::string Reason(const sentencepiece::util::Status& status) {
  const std::string message = status.message();
  const size_t location_end = message.find(") [");
  if (location_end == std::string::npos || message.find(' ') < location_end) {
    return message;
  }
  int depth = 0;
  for (size_t i = location_end + 2; i < message.size(); ++i) {
    if (message[i] == '[') ++depth;
    if (message[i] == ']' && --depth == 0) {
      const size_t reason = message.find_first_not_of(' ', i + 1);
      return reason == std::string::npos ? message : message.substr(reason);
    }
  }
  return message;
}

int Train(const char* const* keys, const char* const* values, size_t count,
          int quiet, char** error) {
  std::unordered_map<std::string, std::string> options(DefaultOptions().begin(),
                                                       DefaultOptions().end());
  for (size_t i = 0; i < count; ++i) {
    if (keys[i] == nullptr || values[i] == nullptr) {
      return Fail(error, "training option " + std::to_string(i) + " is null");
    }
    std::string key = keys[i];
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    auto fixed = FixedOptions().find(key);
    if (fixed != FixedOptions().end() && fixed->second != values[i]) {
      return Fail(error, "training option " + key + "=" + values[i] +
                             " is not allowed: tinylm tokenizers always use " +
                             key + "=" + fixed->second);
    }
    options[key] = values[i];
  }
  for (const auto& [key, value] : FixedOptions()) options[key] = value;
  // 0 info (progress), 1 warnings, 2 errors.
  options["minloglevel"] = quiet ? "1" : "0";

  const sentencepiece::util::Status status =
      sentencepiece::SentencePieceTrainer::Train(options);
  if (!status.ok()) {
    return Fail(
        error, std::string("sentencepiece training failed: ") + Reason(status));
  }
  return 0;
}

}  // namespace

extern "C" {

int tinylm_spm_abi_version(void) { return TINYLM_SPM_ABI_VERSION; }

TinylmSpmModel* tinylm_spm_load(const char* path, char** error) {
  if (path == nullptr) {
    Fail(error, "cannot load sentencepiece model: no path given");
    return nullptr;
  }
  const std::string what =
      std::string("cannot load sentencepiece model '") + path + "'";
  std::unique_ptr<TinylmSpmModel> model;
  Guarded(error, what, [&] {
    model = std::make_unique<TinylmSpmModel>();
    const sentencepiece::util::Status status = model->processor.Load(path);
    if (status.ok()) return 0;
    model.reset();
    return Fail(error, what + ": " + status.ToString());
  });
  return model.release();
}

void tinylm_spm_free(TinylmSpmModel* model) { delete model; }

int tinylm_spm_encode(const TinylmSpmModel* model, const char* text, size_t len,
                      int** ids, size_t* num_ids, char** error) {
  return Guarded(error, "sentencepiece encode failed", [&] {
    std::vector<int> out;
    const sentencepiece::util::Status status =
        model->processor.Encode(std::string(text, len), &out);
    if (!status.ok()) {
      return Fail(error, "sentencepiece encode failed: " + status.ToString());
    }
    // malloc(0) may return NULL; always hand back a real buffer.
    int* buffer = static_cast<int*>(
        std::malloc(sizeof(int) * (out.empty() ? 1 : out.size())));
    if (buffer == nullptr) return Fail(error, "out of memory");
    if (!out.empty()) std::memcpy(buffer, out.data(), sizeof(int) * out.size());
    *ids = buffer;
    *num_ids = out.size();
    // Encoding takes about a hundred bytes of small allocations per input
    // byte; freed, they stay in the heap of whichever thread ran the call,
    // and a server's threads would each keep their largest request's worth.
    // Long inputs hand that memory back (this module's own heap: it has its
    // own C library).
    if (len > kTrimAfterBytes) malloc_trim(0);
    return 0;
  });
}

int tinylm_spm_decode(const TinylmSpmModel* model, const int* ids,
                      size_t num_ids, char** text, size_t* len, char** error) {
  return Guarded(error, "sentencepiece decode failed", [&] {
    // sentencepiece indexes its piece table without a bounds check.
    for (size_t i = 0; i < num_ids; ++i) {
      if (!InRange(model, ids[i])) {
        return Fail(error,
                    "id " + std::to_string(ids[i]) + " at position " +
                        std::to_string(i) + " is outside the vocabulary [0, " +
                        std::to_string(model->processor.GetPieceSize()) + ")");
      }
    }
    std::string out;
    const sentencepiece::util::Status status =
        model->processor.Decode(std::vector<int>(ids, ids + num_ids), &out);
    if (!status.ok()) {
      return Fail(error, "sentencepiece decode failed: " + status.ToString());
    }
    char* buffer = CopyToMalloc(out);
    if (buffer == nullptr) return Fail(error, "out of memory");
    *text = buffer;
    *len = out.size();
    return 0;
  });
}

const char* tinylm_spm_id_to_piece(const TinylmSpmModel* model, int id,
                                   size_t* len) {
  if (!InRange(model, id)) return nullptr;
  const std::string& piece = model->processor.IdToPiece(id);
  *len = piece.size();
  return piece.c_str();
}

int tinylm_spm_piece_to_id(const TinylmSpmModel* model, const char* piece,
                           size_t len) {
  try {
    return model->processor.PieceToId(std::string(piece, len));
  } catch (...) {  // only std::bad_alloc is possible
    return model->processor.unk_id();
  }
}

int tinylm_spm_vocab_size(const TinylmSpmModel* model) {
  return model->processor.GetPieceSize();
}
int tinylm_spm_bos_id(const TinylmSpmModel* model) {
  return model->processor.bos_id();
}
int tinylm_spm_eos_id(const TinylmSpmModel* model) {
  return model->processor.eos_id();
}
int tinylm_spm_unk_id(const TinylmSpmModel* model) {
  return model->processor.unk_id();
}
int tinylm_spm_pad_id(const TinylmSpmModel* model) {
  return model->processor.pad_id();
}

int tinylm_spm_is_byte(const TinylmSpmModel* model, int id) {
  return InRange(model, id) && model->processor.IsByte(id) ? 1 : 0;
}
int tinylm_spm_is_control(const TinylmSpmModel* model, int id) {
  return InRange(model, id) && model->processor.IsControl(id) ? 1 : 0;
}
int tinylm_spm_is_unknown(const TinylmSpmModel* model, int id) {
  return InRange(model, id) && model->processor.IsUnknown(id) ? 1 : 0;
}

int tinylm_spm_train(const char* const* keys, const char* const* values,
                     size_t count, int quiet, char** error) {
  return Guarded(error, "sentencepiece training failed",
                 [&] { return Train(keys, values, count, quiet, error); });
}

void tinylm_spm_free_ids(int* ids) { std::free(ids); }
void tinylm_spm_free_string(char* str) { std::free(str); }

}  // extern "C"
