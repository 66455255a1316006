// Fuzz target: the tokenizer (models/tokenizer.h) with the shipped
// checkpoints' sentencepiece model.
//
// Input: a mode byte, then the payload.
//   mode 0  encode the payload as text. Invalid UTF-8 is refused with
//           InvalidArgument; valid text encodes to ids in the vocabulary
//           whose TokenBytes concatenate to the text, and decodes back to
//           it (U+2581 comes back as a space, as tokenizer.h documents).
//   mode 1  decode the payload as ids (2 bytes each, see IdFrom). Decode
//           succeeds exactly when every id is in the vocabulary, and then
//           gives valid UTF-8 that encodes and decodes back to itself. Each
//           id's piece maps back to the id and its display form is
//           non-empty valid UTF-8.
//   mode 2  look the payload up as a piece: the id is unk_id() or one whose
//           piece is the payload.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "models/tokenizer.h"
#include "util/utf8.h"
#include "tests/fuzz/fuzz_check.h"

namespace tinylm {
namespace {

constexpr char kSpaceSymbol[] = "\xE2\x96\x81";  // U+2581

const Tokenizer& TheTokenizer() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = Tokenizer::Load(
        fuzz::SourcePath("models/checkpoints/base/tokenizer.model"));
    FUZZ_CHECK(loaded.ok(), loaded.status());
    return loaded->release();
  }();
  return *tokenizer;
}

// Two bytes to an id: mostly inside the vocabulary (and a few past its
// end), sometimes negative, and once in a while past 2^31, which must not
// wrap to a valid int.
int64_t IdFrom(uint8_t low, uint8_t high, int64_t vocab) {
  const uint16_t value = low | (high << 8);
  if (high == 0xFF) return low == 0xFF ? (int64_t{1} << 32) : -int64_t{low} - 1;
  return value % (vocab + 8);
}

std::string Visible(absl::string_view text) {
  return absl::StrCat("\"", absl::CEscape(text), "\"");
}

void CheckEncode(const Tokenizer& tokenizer, absl::string_view text) {
  absl::StatusOr<std::vector<int64_t>> ids = tokenizer.Encode(text);
  if (!IsValidUtf8(text)) {
    FUZZ_CHECK(ids.status().code() == absl::StatusCode::kInvalidArgument,
               ids.status());
    return;
  }
  FUZZ_CHECK(ids.ok(), ids.status());
  const std::string expected = absl::StrReplaceAll(text, {{kSpaceSymbol, " "}});
  std::string joined;
  for (int64_t id : *ids) {
    FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size(), absl::StrCat(id));
    joined += tokenizer.TokenBytes(id);
  }
  FUZZ_CHECK(joined == expected,
             absl::StrCat(Visible(text), " tokens give ", Visible(joined)));
  absl::StatusOr<std::string> decoded = tokenizer.Decode(*ids);
  FUZZ_CHECK(decoded.ok(), decoded.status());
  FUZZ_CHECK(*decoded == expected,
             absl::StrCat(Visible(text), " decodes as ", Visible(*decoded),
                          " from ids ", absl::StrJoin(*ids, ",")));
}

void CheckDecode(const Tokenizer& tokenizer, absl::string_view payload) {
  const int64_t vocab = tokenizer.vocab_size();
  std::vector<int64_t> ids;
  bool all_valid = true;
  for (size_t i = 0; i + 1 < payload.size(); i += 2) {
    ids.push_back(IdFrom(payload[i], payload[i + 1], vocab));
    all_valid &= ids.back() >= 0 && ids.back() < vocab;
  }
  absl::StatusOr<std::string> text = tokenizer.Decode(ids);
  if (!all_valid) {
    FUZZ_CHECK(text.status().code() == absl::StatusCode::kInvalidArgument,
               text.status());
    return;
  }
  FUZZ_CHECK(text.ok(), text.status());
  FUZZ_CHECK(IsValidUtf8(*text), Visible(*text));
  for (int64_t id : ids) {
    const std::string piece = tokenizer.IdToPiece(id);
    FUZZ_CHECK(tokenizer.PieceToId(piece) == id,
               absl::StrCat("piece ", Visible(piece), " of id ", id));
    const std::string display = tokenizer.DisplayPiece(id);
    FUZZ_CHECK(!display.empty() && IsValidUtf8(display), absl::StrCat(id));
  }
  // Decoded text is text like any other: it must survive a round trip.
  CheckEncode(tokenizer, *text);
}

void CheckPiece(const Tokenizer& tokenizer, absl::string_view piece) {
  const int64_t id = tokenizer.PieceToId(piece);
  if (id == tokenizer.unk_id()) return;
  FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size(), absl::StrCat(id));
  FUZZ_CHECK(tokenizer.IdToPiece(id) == piece,
             absl::StrCat(Visible(piece), " -> ", id));
}

}  // namespace
}  // namespace tinylm

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tinylm::TheTokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  if (size == 0) return 0;
  const absl::string_view payload(reinterpret_cast<const char*>(data) + 1,
                                  size - 1);
  const Tokenizer& tokenizer = TheTokenizer();
  switch (data[0] % 3) {
    case 0:
      CheckEncode(tokenizer, payload);
      break;
    case 1:
      CheckDecode(tokenizer, payload);
      break;
    default:
      CheckPiece(tokenizer, payload);
      break;
  }
  return 0;
}
