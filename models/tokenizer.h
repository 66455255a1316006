// The tokenizer: a sentencepiece model behind a module wall.
//
// Debian's libsentencepiece carries its own Protobuf and cannot share a
// process with gRPC's naively, so sentencepiece lives in a small shared
// module (libtinylm_spm.so) with a plain C interface that this class loads
// with dlmopen into a separate link-map namespace. Nothing here includes a
// sentencepiece header. Thread-safe after construction (encode/decode are
// const on the sentencepiece side).
//
// Models trained by Train() round-trip exactly: Decode(Encode(text)) ==
// text for any valid UTF-8 text (characters outside the vocabulary become
// byte-fallback pieces, never <unk>; no normalization, no invented or
// dropped spaces), and the TokenBytes of the ids concatenate to the text.
// The one exception is U+2581 "▁" itself, which sentencepiece uses for the
// space and so decodes as " ".
#ifndef TINYLM_MODELS_TOKENIZER_H_
#define TINYLM_MODELS_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tinylm {

class Tokenizer {
 public:
  // Loads `model_path`. The module is found at `module_path` when given,
  // else $TINYLM_SPM_MODULE, else next to the executable, else in
  // ../lib/tinylm relative to it. With `add_bos`, Encode starts every text
  // with the BOS id, as models trained that way expect (Hugging Face's
  // add_bos_token). Errors name the paths: NotFound for a missing module or
  // model file, FailedPrecondition for a module that cannot be loaded,
  // InvalidArgument for a file that is not a model (or has no BOS piece to
  // add).
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(
      const std::string& model_path, const std::string& module_path = "",
      bool add_bos = false);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // InvalidArgument (naming the byte offset) if `text` is not valid UTF-8.
  // Starts with bos_id() when the tokenizer adds it (adds_bos()).
  absl::StatusOr<std::vector<int64_t>> Encode(absl::string_view text) const;
  bool adds_bos() const;
  // Decodes to text; byte-fallback pieces are merged into UTF-8 (a byte
  // sequence that is not valid UTF-8 decodes as U+FFFD). InvalidArgument
  // (naming the id and its position) for an id outside [0, vocab_size()).
  absl::StatusOr<std::string> Decode(const std::vector<int64_t>& ids) const;

  // Per-id accessors; an id outside [0, vocab_size()) gives "" or false.
  // The piece as stored in the vocabulary (e.g. "▁the", "<0xE3>").
  std::string IdToPiece(int64_t id) const;
  int64_t PieceToId(absl::string_view piece) const;  // unk_id() if absent
  // The bytes this token contributes to decoded text: "▁" becomes a space,
  // a byte-fallback piece <0xNN> becomes the single byte NN (possibly a
  // partial UTF-8 sequence), control tokens become "", <unk> becomes what
  // Decode makes of it (" ⁇ ").
  std::string TokenBytes(int64_t id) const;
  // A valid-UTF-8 label for display: TokenBytes when it is non-empty valid
  // UTF-8, else the piece itself (e.g. "<0xE3>", "<s>").
  std::string DisplayPiece(int64_t id) const;

  int64_t vocab_size() const;
  // The most bytes of text one token stands for: a text of n bytes encodes
  // to at least n / max_token_bytes() tokens, which bounds a prompt's length
  // before it is tokenized.
  int64_t max_token_bytes() const;
  int64_t bos_id() const;  // -1 if the model has none
  int64_t eos_id() const;
  int64_t unk_id() const;
  int64_t pad_id() const;
  bool IsByte(int64_t id) const;
  bool IsControl(int64_t id) const;

  // Trains a model from text files (one sentence per line).
  struct TrainOptions {
    std::vector<std::string> inputs;
    std::string model_prefix;  // writes <prefix>.model and <prefix>.vocab
    int64_t vocab_size = 8000;
    int64_t input_sentence_size = 2000000;  // sampled sentences
    double character_coverage = 0.9995;
    int num_threads = 2;
    bool log_progress = true;  // sentencepiece's progress log on stderr
  };
  // Trains with BPE, byte fallback, split digits and no normalization (the
  // module's spm_module.cc says why). InvalidArgument for bad options,
  // NotFound for a missing input file.
  static absl::Status Train(const TrainOptions& options,
                            const std::string& module_path = "");

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinylm

#endif  // TINYLM_MODELS_TOKENIZER_H_
