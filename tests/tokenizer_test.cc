// Tests of models/tokenizer.h: a tokenizer trained at suite start from the
// sample corpus must round-trip any UTF-8 text exactly, and the
// sentencepiece module must stay out of the process's own link map.
#include "models/tokenizer.h"

#include <link.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "util/utf8.h"

#ifdef TINYLM_TEST_WITH_PROTOBUF
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/stubs/common.h"
#endif

namespace tinylm {
namespace {

using ::testing::HasSubstr;

const std::string kCorpus =
    std::string(TINYLM_TEST_DATA_DIR) + "/corpus-sample.txt";

// The sample corpus has ~1850 distinct characters; sentencepiece's lowest
// allowed character coverage (0.98) still needs ~970 of them, plus 256 byte
// pieces and 4 specials, so this is about the smallest vocabulary it takes.
constexpr int64_t kVocabSize = 1500;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

// The names of the shared objects in the caller's link-map namespace.
std::vector<std::string> LoadedObjects() {
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        static_cast<std::vector<std::string>*>(data)->push_back(
            info->dlpi_name != nullptr ? info->dlpi_name : "");
        return 0;
      },
      &names);
  return names;
}

bool IsLoaded(const std::string& name_part) {
  for (const std::string& name : LoadedObjects()) {
    if (name.find(name_part) != std::string::npos) return true;
  }
  return false;
}

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = ::testing::TempDir() + "tokenizer_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    Tokenizer::TrainOptions options;
    options.inputs = {kCorpus};
    options.model_prefix = *dir_ + "/tok";
    options.vocab_size = kVocabSize;
    options.character_coverage = 0.98;
    options.num_threads = 1;
    options.log_progress = false;
    const absl::Status trained = Tokenizer::Train(options);
    ASSERT_TRUE(trained.ok()) << trained;
    auto loaded = Tokenizer::Load(ModelPath());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = loaded->release();
  }

  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
    if (dir_ != nullptr) {
      std::remove((*dir_ + "/tok.model").c_str());
      std::remove((*dir_ + "/tok.vocab").c_str());
      std::remove((*dir_ + "/garbage.model").c_str());
      std::remove((*dir_ + "/libgarbage.so").c_str());
      rmdir(dir_->c_str());
      delete dir_;
      dir_ = nullptr;
    }
  }

  void SetUp() override { ASSERT_NE(tokenizer_, nullptr); }

  static std::string ModelPath() { return *dir_ + "/tok.model"; }

  // Checks every property the tokenizer promises for `text`.
  static void ExpectExactRoundTrip(const std::string& text) {
    SCOPED_TRACE("text: " + text);
    auto ids = tokenizer_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    auto decoded = tokenizer_->Decode(*ids);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);
    std::string concatenated;
    for (int64_t id : *ids) {
      EXPECT_NE(id, tokenizer_->unk_id());
      concatenated += tokenizer_->TokenBytes(id);
      const std::string display = tokenizer_->DisplayPiece(id);
      EXPECT_FALSE(display.empty()) << "id " << id;
      EXPECT_TRUE(IsValidUtf8(display)) << "id " << id;
    }
    EXPECT_EQ(concatenated, text);
  }

  static std::string* dir_;
  static Tokenizer* tokenizer_;
};

std::string* TokenizerTest::dir_ = nullptr;
Tokenizer* TokenizerTest::tokenizer_ = nullptr;

TEST_F(TokenizerTest, RoundTripsJapaneseAndEnglish) {
  ExpectExactRoundTrip(
      "絵巻物の向うから正木博士がこんな風に気軽く声をかけた。");
  ExpectExactRoundTrip("「……この顔は……さっきの……呉モヨ子と……」");
  ExpectExactRoundTrip("The quick brown fox jumps over the lazy dog.");
  ExpectExactRoundTrip("");
}

TEST_F(TokenizerTest, RoundTripsEveryCorpusLine) {
  std::ifstream in(kCorpus);
  std::string line;
  int lines = 0;
  while (std::getline(in, line) && lines < 200) {
    ExpectExactRoundTrip(line);
    ++lines;
  }
  EXPECT_EQ(lines, 200);
}

TEST_F(TokenizerTest, RoundTripsWhitespaceDigitsAndVariantForms) {
  ExpectExactRoundTrip("  leading, double  spaces, tab\there\nnewline  ");
  ExpectExactRoundTrip("2024年12月31日 3.14159 1000000");
  // NFKC would rewrite these; identity normalization keeps them.
  ExpectExactRoundTrip("ＡＢＣ１２３ ｶﾀｶﾅ ① ㍻ ﬁ");
  ExpectExactRoundTrip("e\xCC\x81 vs \xC3\xA9");  // e + U+0301 vs U+00E9
  ExpectExactRoundTrip(std::string("nul\0inside", 10));
}

TEST_F(TokenizerTest, UnseenCharactersBecomeBytePiecesNotUnknown) {
  const std::string corpus = ReadFile(kCorpus);
  ASSERT_FALSE(corpus.empty());
  for (const std::string text : {"龘", "😀", "한"}) {
    SCOPED_TRACE(text);
    ASSERT_EQ(corpus.find(text), std::string::npos) << "seen in training";
    auto ids = tokenizer_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_EQ(ids->size(), text.size());  // one byte piece per UTF-8 byte
    for (size_t i = 0; i < ids->size(); ++i) {
      const int64_t id = (*ids)[i];
      EXPECT_TRUE(tokenizer_->IsByte(id));
      EXPECT_EQ(tokenizer_->TokenBytes(id), text.substr(i, 1));
      // A lone non-ASCII byte is not UTF-8, so the piece is displayed.
      EXPECT_EQ(tokenizer_->DisplayPiece(id), tokenizer_->IdToPiece(id));
    }
  }
  ExpectExactRoundTrip("龘😀 한국어 Ελληνικά עברית");
}

TEST_F(TokenizerTest, PieceAndIdAreInverse) {
  ASSERT_EQ(tokenizer_->vocab_size(), kVocabSize);
  int byte_pieces = 0;
  for (int64_t id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::string piece = tokenizer_->IdToPiece(id);
    ASSERT_FALSE(piece.empty()) << "id " << id;
    EXPECT_EQ(tokenizer_->PieceToId(piece), id) << piece;
    EXPECT_TRUE(IsValidUtf8(tokenizer_->DisplayPiece(id))) << "id " << id;
    if (tokenizer_->IsByte(id)) ++byte_pieces;
  }
  EXPECT_EQ(byte_pieces, 256);
  EXPECT_EQ(tokenizer_->PieceToId("no such piece in the vocabulary"),
            tokenizer_->unk_id());
  EXPECT_EQ(tokenizer_->IdToPiece(tokenizer_->PieceToId("<0xE3>")), "<0xE3>");
  EXPECT_EQ(tokenizer_->TokenBytes(tokenizer_->PieceToId("<0xE3>")), "\xE3");
  EXPECT_EQ(tokenizer_->TokenBytes(tokenizer_->PieceToId("\xE2\x96\x81")), " ");
}

TEST_F(TokenizerTest, SpecialIdsAreSane) {
  EXPECT_EQ(tokenizer_->unk_id(), 0);
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
  EXPECT_EQ(tokenizer_->pad_id(), 3);
  for (int64_t id :
       {tokenizer_->bos_id(), tokenizer_->eos_id(), tokenizer_->pad_id()}) {
    EXPECT_TRUE(tokenizer_->IsControl(id)) << id;
    EXPECT_FALSE(tokenizer_->IsByte(id)) << id;
    EXPECT_EQ(tokenizer_->TokenBytes(id), "") << id;
  }
  EXPECT_EQ(tokenizer_->DisplayPiece(tokenizer_->bos_id()), "<s>");
  EXPECT_EQ(tokenizer_->DisplayPiece(tokenizer_->eos_id()), "</s>");
  EXPECT_FALSE(tokenizer_->IsControl(tokenizer_->unk_id()));
  // Control tokens contribute nothing to decoded text.
  auto ids = tokenizer_->Encode("abc");
  ASSERT_TRUE(ids.ok());
  ids->insert(ids->begin(), tokenizer_->bos_id());
  ids->push_back(tokenizer_->eos_id());
  auto decoded = tokenizer_->Decode(*ids);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "abc");
}

TEST_F(TokenizerTest, OutOfRangeIdsAreRejectedOrEmpty) {
  for (int64_t id : {int64_t{-1}, kVocabSize, int64_t{1} << 32}) {
    EXPECT_EQ(tokenizer_->IdToPiece(id), "");
    EXPECT_EQ(tokenizer_->TokenBytes(id), "");
    EXPECT_EQ(tokenizer_->DisplayPiece(id), "");
    EXPECT_FALSE(tokenizer_->IsByte(id));
    EXPECT_FALSE(tokenizer_->IsControl(id));
  }
  // 2^32 would alias id 0 if narrowed to int before the check.
  auto decoded = tokenizer_->Decode({5, int64_t{1} << 32});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("4294967296"));
  EXPECT_THAT(decoded.status().message(), HasSubstr("position 1"));
}

TEST_F(TokenizerTest, InvalidUtf8IsRejected) {
  auto ids = tokenizer_->Encode("abc\xFF");
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ids.status().message(), HasSubstr("offset 3"));
  // A lone lead byte decodes to U+FFFD, as the header says.
  auto decoded = tokenizer_->Decode({tokenizer_->PieceToId("<0xE3>")});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "\xEF\xBF\xBD");
}

TEST_F(TokenizerTest, ConcurrentEncodesAgree) {
  const std::string corpus = ReadFile(kCorpus);
  // Whole lines, so that no UTF-8 sequence is cut.
  const std::string text = corpus.substr(0, corpus.find('\n', 3000));
  auto expected = tokenizer_->Encode(text);
  ASSERT_TRUE(expected.ok()) << expected.status();
  std::vector<std::vector<int64_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&text, &result] {
      auto ids = tokenizer_->Encode(text);
      if (ids.ok()) result = *ids;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, *expected);
}

TEST_F(TokenizerTest, MissingModelFileNamesThePath) {
  const std::string path = *dir_ + "/does-not-exist.model";
  auto loaded = Tokenizer::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr(path));
}

TEST_F(TokenizerTest, GarbageModelFileNamesThePath) {
  const std::string path = *dir_ + "/garbage.model";
  WriteFile(path, "this is not a sentencepiece model\n");
  auto loaded = Tokenizer::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr(path));
}

TEST_F(TokenizerTest, WrongModulePathNamesThePath) {
  const std::string missing = *dir_ + "/no-such-dir/libtinylm_spm.so";
  auto loaded = Tokenizer::Load(ModelPath(), missing);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr(missing));

  const std::string garbage = *dir_ + "/libgarbage.so";
  WriteFile(garbage, "not an ELF file");
  loaded = Tokenizer::Load(ModelPath(), garbage);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(), HasSubstr(garbage));
}

TEST_F(TokenizerTest, ModuleFromEnvironmentVariable) {
  const std::string missing = *dir_ + "/elsewhere/libtinylm_spm.so";
  ASSERT_EQ(setenv("TINYLM_SPM_MODULE", missing.c_str(), 1), 0);
  auto loaded = Tokenizer::Load(ModelPath());
  unsetenv("TINYLM_SPM_MODULE");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr(missing));
  // Without it, the module next to the test executable is found again.
  EXPECT_TRUE(Tokenizer::Load(ModelPath()).ok());
}

TEST_F(TokenizerTest, TrainingErrorsAreStatuses) {
  Tokenizer::TrainOptions options;
  options.model_prefix = *dir_ + "/never";
  options.log_progress = false;
  EXPECT_EQ(Tokenizer::Train(options).code(),
            absl::StatusCode::kInvalidArgument);  // no inputs

  options.inputs = {*dir_ + "/no-such-corpus.txt"};
  const absl::Status missing = Tokenizer::Train(options);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("no-such-corpus.txt"));

  // Too few pieces for the characters of the corpus: sentencepiece's own
  // check, reported instead of aborting.
  options.inputs = {kCorpus};
  options.vocab_size = 300;
  options.character_coverage = 0.98;
  const absl::Status small = Tokenizer::Train(options);
  EXPECT_EQ(small.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(small.message(), HasSubstr("vocab"));
}

// Trap 1: the process's own Protobuf and sentencepiece's bundled one must
// not meet. The module lives in its own link-map namespace, so this
// namespace never sees libsentencepiece, even with a tokenizer loaded.
TEST_F(TokenizerTest, SentencepieceStaysOutOfTheMainNamespace) {
  EXPECT_FALSE(IsLoaded("libsentencepiece")) << "linked or loaded directly";
  ExpectExactRoundTrip("名前空間");
}

#ifdef TINYLM_TEST_WITH_PROTOBUF
TEST_F(TokenizerTest, WorksBesideTheSystemProtobuf) {
  // Using Protobuf here makes the test link and load libprotobuf (as gRPC
  // does in the server); with sentencepiece's copy in the same namespace
  // the process would abort at start-up on the version check.
  google::protobuf::Empty empty;
  std::string wire;
  ASSERT_TRUE(empty.SerializeToString(&wire));
  EXPECT_TRUE(wire.empty());
  EXPECT_TRUE(IsLoaded("libprotobuf.so"));
  EXPECT_FALSE(IsLoaded("libsentencepiece"));
  ExpectExactRoundTrip("プロトコルバッファと共存する");
  google::protobuf::Empty parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire));
}
#endif

TEST(Utf8Test, AcceptsValidAndFindsFirstInvalidByte) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("ascii 日本語 😀 \xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_EQ(ValidUtf8Prefix("ab\x80"), 2u);             // stray continuation
  EXPECT_EQ(ValidUtf8Prefix("a\xC0\xAF"), 1u);          // overlong '/'
  EXPECT_EQ(ValidUtf8Prefix("a\xE0\x80\xAF"), 1u);      // overlong, 3 bytes
  EXPECT_EQ(ValidUtf8Prefix("a\xED\xA0\x80"), 1u);      // surrogate U+D800
  EXPECT_EQ(ValidUtf8Prefix("a\xF4\x90\x80\x80"), 1u);  // past U+10FFFF
  EXPECT_EQ(ValidUtf8Prefix("日\xE6\x97"), 3u);         // cut off at the end
  EXPECT_EQ(ValidUtf8Prefix("\xFF"), 0u);
}

}  // namespace
}  // namespace tinylm
