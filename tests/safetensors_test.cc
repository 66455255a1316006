// The safetensors reader and writer: the exact byte layout the format
// requires, round trips for every supported dtype, and one clear error for
// each way a file can be broken.
#include "models/safetensors.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/file_io.h"
#include "nlohmann/json.hpp"

namespace tinylm {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSource[] = "weights.safetensors";

std::string LittleEndian64(uint64_t value) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(char((value >> (8 * i)) & 0xff));
  return out;
}

// A file image from header text and data bytes.
std::string Image(const std::string& header, const std::string& data) {
  return LittleEndian64(header.size()) + header + data;
}

// `n` bytes of data (their values do not matter to the format checks).
std::string Bytes(size_t n) { return std::string(n, '\x01'); }

absl::Status ParseStatus(const std::string& image) {
  return SafetensorsFile::Parse(image, kSource).status();
}

// Expects InvalidArgument naming the file and containing `fragment`.
void ExpectRejected(const std::string& image, const std::string& fragment) {
  absl::Status status = ParseStatus(image);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(kSource));
  EXPECT_THAT(std::string(status.message()), HasSubstr(fragment));
}

TEST(SafetensorsLayoutTest, SingleTensorBytesAreExactlyTheFormat) {
  NamedTensors tensors = {{"x", at::tensor({1.0f, 2.0f})}};
  absl::StatusOr<std::string> image = SerializeSafetensors(tensors);
  ASSERT_TRUE(image.ok()) << image.status();
  const std::string header =
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_EQ(header.size(), 54u);
  // 54 header bytes padded with spaces to 56; float 1.0 and 2.0 little-endian.
  const std::string expected = LittleEndian64(56) + header + "  " +
                               std::string("\x00\x00\x80\x3f", 4) +
                               std::string("\x00\x00\x00\x40", 4);
  EXPECT_EQ(*image, expected);
}

TEST(SafetensorsLayoutTest, HeaderIsAlignedSortedAndDescribesTheData) {
  at::Tensor b = at::arange(6, at::kFloat).view({2, 3});
  at::Tensor a = at::arange(3, at::kFloat).to(at::kBFloat16);
  at::Tensor c = at::tensor({int64_t{-7}});
  absl::StatusOr<std::string> image =
      SerializeSafetensors({{"b", b}, {"a", a}, {"c", c}}, {{"format", "pt"}});
  ASSERT_TRUE(image.ok()) << image.status();

  uint64_t n = 0;
  std::memcpy(&n, image->data(), 8);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_LE(8 + n, image->size());
  const std::string header = image->substr(8, n);
  const size_t close = header.find_last_of('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);
  EXPECT_LT(header.size() - close - 1, 8u);  // at most 7 spaces of padding
  nlohmann::json json = nlohmann::json::parse(header);

  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"__metadata__", "a", "b", "c"}));
  EXPECT_EQ(json["__metadata__"], nlohmann::json({{"format", "pt"}}));
  EXPECT_EQ(json["a"]["dtype"], "BF16");
  EXPECT_EQ(json["b"]["dtype"], "F32");
  EXPECT_EQ(json["c"]["dtype"], "I64");
  EXPECT_EQ(json["b"]["shape"], nlohmann::json({2, 3}));
  // Data: 8-byte elements first, then 4-byte, then 2-byte, each aligned.
  EXPECT_EQ(json["c"]["data_offsets"], nlohmann::json({0, 8}));
  EXPECT_EQ(json["b"]["data_offsets"], nlohmann::json({8, 32}));
  EXPECT_EQ(json["a"]["data_offsets"], nlohmann::json({32, 38}));
  EXPECT_EQ(image->size(), 8 + n + 38);
  EXPECT_EQ(std::memcmp(image->data() + 8 + n + 8, b.data_ptr(), 24), 0);
}

TEST(SafetensorsRoundTripTest, EverySupportedDtype) {
  NamedTensors tensors;
  for (c10::ScalarType type :
       {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kInt,
        at::kShort, at::kChar, at::kByte}) {
    absl::StatusOr<std::string> name = SafetensorsDtypeName(type);
    ASSERT_TRUE(name.ok()) << name.status();
    EXPECT_EQ(*SafetensorsScalarType(*name), type);
    tensors.emplace_back(
        "t_" + *name,
        (at::arange(24, at::kDouble).view({2, 3, 4}) - 11.5).to(type));
  }
  absl::StatusOr<std::string> image = SerializeSafetensors(tensors);
  ASSERT_TRUE(image.ok()) << image.status();
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Parse(*image, kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->entries().size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const SafetensorsEntry* entry = file->Find(name);
    ASSERT_NE(entry, nullptr) << name;
    absl::StatusOr<at::Tensor> loaded = file->ToTensor(*entry);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(at::equal(*loaded, tensor)) << name;
  }
}

TEST(SafetensorsRoundTripTest, ViewsScalarsEmptyTensorsAndMetadata) {
  at::Tensor base = at::arange(12, at::kFloat).view({3, 4});
  NamedTensors tensors = {{"transposed", base.t()},
                          {"scalar", at::scalar_tensor(3.5f)},
                          {"empty", at::zeros({0, 5}, at::kBFloat16)}};
  std::map<std::string, std::string> metadata = {{"step", "12"},
                                                 {"note", "日本語"}};
  absl::StatusOr<std::string> image = SerializeSafetensors(tensors, metadata);
  ASSERT_TRUE(image.ok()) << image.status();
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Parse(*image, kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata(), metadata);
  EXPECT_EQ(file->Find("missing"), nullptr);
  for (const auto& [name, tensor] : tensors) {
    absl::StatusOr<at::Tensor> loaded = file->ToTensor(*file->Find(name));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->sizes(), tensor.sizes()) << name;
    EXPECT_TRUE(at::equal(*loaded, tensor)) << name;
  }
}

TEST(SafetensorsRoundTripTest, WriteThenReadFromDisk) {
  const std::string dir = testing::TempDir() + "/safetensors_write_read";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/w.safetensors";
  at::Tensor w = at::randn({4, 4});
  ASSERT_TRUE(WriteSafetensors(path, {{"w", w}}).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Read(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->source(), path);
  EXPECT_EQ(file->bytes(), *ReadFile(path));
  EXPECT_TRUE(at::equal(*file->ToTensor(*file->Find("w")), w));

  absl::Status missing = SafetensorsFile::Read(dir + "/none").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr(dir + "/none"));
  std::filesystem::remove_all(dir);
}

TEST(SafetensorsWriterTest, RejectsWhatTheFormatCannotHold) {
  auto code = [](const NamedTensors& t) {
    return SerializeSafetensors(t).status().code();
  };
  const at::Tensor ok = at::ones({2});
  EXPECT_EQ(code({{"a", ok}, {"a", ok}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{"", ok}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{"__metadata__", ok}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{"u", at::Tensor()}}), absl::StatusCode::kInvalidArgument);
  absl::Status bool_status =
      SerializeSafetensors({{"b", at::ones({2}, at::kBool)}}).status();
  EXPECT_EQ(bool_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bool_status.message()), HasSubstr("'b'"));
  EXPECT_EQ(code({{"bad\xff", ok}}), absl::StatusCode::kInvalidArgument);
}

TEST(SafetensorsReaderTest, EmptyHeaderIsAValidEmptyFile) {
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Parse(Image("{}      ", ""), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->entries().empty());
}

TEST(SafetensorsReaderTest, RejectsBrokenFraming) {
  ExpectRejected("", "too short");
  ExpectRejected(std::string("\x02\x00\x00", 3), "too short");
  ExpectRejected(LittleEndian64(100) + "{}", "runs past the end");
  ExpectRejected(LittleEndian64(uint64_t{1} << 40) + "{}", "exceeds the limit");
  ExpectRejected(LittleEndian64(~uint64_t{0}) + "{}", "exceeds the limit");
}

TEST(SafetensorsReaderTest, RejectsHeadersThatAreNotAJsonObject) {
  ExpectRejected(Image("{\"a\":", ""), "not valid JSON");
  ExpectRejected(Image("\xff\xfe{}", ""), "not valid JSON");
  ExpectRejected(Image("[1, 2]", ""), "not a JSON object");
  ExpectRejected(Image("", ""), "not valid JSON");
}

TEST(SafetensorsReaderTest, RejectsMalformedEntries) {
  const std::string data = Bytes(8);
  ExpectRejected(Image(R"({"x": 1})", data), "'x': is not a JSON object");
  ExpectRejected(
      Image(R"({"x": {"shape": [2], "data_offsets": [0, 8]}})", data),
      "has no 'dtype'");
  ExpectRejected(
      Image(R"({"x": {"dtype": "F32", "data_offsets": [0, 8]}})", data),
      "has no 'shape'");
  ExpectRejected(Image(R"({"x": {"dtype": "F32", "shape": [2]}})", data),
                 "has no 'data_offsets'");
  ExpectRejected(
      Image(R"({"x": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})",
            data),
      "'dtype' is not a string");
  ExpectRejected(
      Image(R"({"x": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}})",
            data),
      "'shape' is not an array");
  ExpectRejected(
      Image(
          R"({"x": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})",
          data),
      "non-negative integers");
  ExpectRejected(
      Image(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})",
            data),
      "not a pair");
  ExpectRejected(
      Image(
          R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}})",
          data),
      "not a pair");
}

TEST(SafetensorsReaderTest, RejectsUnknownDtypesAndImpossibleShapes) {
  ExpectRejected(
      Image(R"({"x": {"dtype": "Q4", "shape": [8], "data_offsets": [0, 8]}})",
            Bytes(8)),
      "unknown or unsupported dtype 'Q4'");
  ExpectRejected(
      Image(R"({"x": {"dtype": "BOOL", "shape": [8], "data_offsets": [0, 8]}})",
            Bytes(8)),
      "unsupported dtype 'BOOL'");
  ExpectRejected(
      Image(R"({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
            Bytes(8)),
      "non-negative integers");
  // numel * 4 overflows 64 bits; must be caught, not wrapped to a small size.
  ExpectRejected(Image(R"({"x": {"dtype": "F32",)"
                       R"( "shape": [4611686018427387904, 4],)"
                       R"( "data_offsets": [0, 0]}})",
                       ""),
                 "too large");
  ExpectRejected(Image(R"({"x": {"dtype": "F32",)"
                       R"( "shape": [4611686018427387904],)"
                       R"( "data_offsets": [0, 0]}})",
                       ""),
                 "too large");
}

TEST(SafetensorsReaderTest, RejectsBadOffsets) {
  const std::string f32x2 = R"({"dtype": "F32", "shape": [2], )";
  ExpectRejected(
      Image(R"({"x": )" + f32x2 + R"("data_offsets": [8, 0]}})", Bytes(8)),
      "begin after they end");
  ExpectRejected(
      Image(R"({"x": )" + f32x2 + R"("data_offsets": [0, 16]}})", Bytes(8)),
      "run past the end of the data buffer (8 bytes)");
  ExpectRejected(
      Image(R"({"x": )" + f32x2 + R"("data_offsets": [0, 4]}})", Bytes(4)),
      "span 4 bytes, but dtype F32 and shape [2] need 8");
  ExpectRejected(Image(R"({"x": )" + f32x2 + R"("data_offsets": [0, 8]}, )" +
                           R"("y": )" + f32x2 + R"("data_offsets": [4, 12]}})",
                       Bytes(12)),
                 "'x' [0, 8) and 'y' [4, 12) overlap");
  ExpectRejected(Image(R"({"x": )" + f32x2 + R"("data_offsets": [0, 8]}, )" +
                           R"("y": )" + f32x2 + R"("data_offsets": [0, 8]}})",
                       Bytes(8)),
                 "overlap");
  ExpectRejected(
      Image(R"({"x": )" + f32x2 + R"("data_offsets": [8, 16]}})", Bytes(16)),
      "bytes [0, 8) of the data buffer belong to no tensor");
  ExpectRejected(
      Image(R"({"x": )" + f32x2 + R"("data_offsets": [0, 8]}})", Bytes(11)),
      "3 trailing bytes");
}

TEST(SafetensorsReaderTest, RejectsDuplicateNamesAndBadMetadata) {
  const std::string x =
      R"("x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]})";
  ExpectRejected(Image("{" + x + ", " + x + "}", Bytes(1)),
                 "the key 'x' more than once");
  ExpectRejected(Image(R"({"__metadata__": {"a": 1}})", ""),
                 "__metadata__ must map strings to strings, but 'a' is a "
                 "number");
  ExpectRejected(Image(R"({"__metadata__": ["a"]})", ""),
                 "__metadata__ is not an object");
}

TEST(SafetensorsReaderTest, EveryTruncationOfAGoodFileIsRejected) {
  absl::StatusOr<std::string> image = SerializeSafetensors(
      {{"a", at::ones({3, 2})}, {"b", at::ones({5}, at::kBFloat16)}});
  ASSERT_TRUE(image.ok());
  ASSERT_TRUE(ParseStatus(*image).ok());
  for (size_t n = 0; n < image->size(); ++n) {
    EXPECT_EQ(ParseStatus(image->substr(0, n)).code(),
              absl::StatusCode::kInvalidArgument)
        << "prefix of " << n << " bytes";
  }
}

TEST(SafetensorsReaderTest, AnyHeaderByteChangeIsParsedOrRejected) {
  // Whatever a damaged header says, an accepted file's entries must lie
  // inside its data buffer and ToTensor must succeed on them.
  absl::StatusOr<std::string> image = SerializeSafetensors(
      {{"a", at::ones({3, 2})}, {"b", at::ones({5}, at::kBFloat16)}});
  ASSERT_TRUE(image.ok());
  int accepted = 0;
  for (size_t i = 8; i < image->size(); ++i) {
    for (char replacement : {'0', '9', '"', ' ', '}', '\0'}) {
      std::string damaged = *image;
      damaged[i] = replacement;
      absl::StatusOr<SafetensorsFile> file =
          SafetensorsFile::Parse(damaged, kSource);
      if (!file.ok()) continue;
      ++accepted;
      for (const SafetensorsEntry& e : file->entries()) {
        EXPECT_TRUE(file->ToTensor(e).ok());
      }
    }
  }
  EXPECT_GT(accepted, 0);  // changes inside the data buffer are harmless
}

}  // namespace
}  // namespace tinylm
