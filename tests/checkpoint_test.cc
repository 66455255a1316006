// Checkpoints: bit-exact round trips of every variant in float32 and
// bfloat16 (weights and logits), and a clear error, with its status code and
// the file named, for each way a checkpoint directory can be broken.
#include "models/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "util/file_io.h"
#include "models/safetensors.h"
#include "util/sha256.h"

namespace tinylm {
namespace {

using ::testing::HasSubstr;

constexpr char kTokenizerBytes[] = "not a real sentencepiece model\n";

// Bit-for-bit equality of two tensors' dtypes, shapes and bytes.
bool SameBits(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) {
    return false;
  }
  at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

// The tiny model of `variant` with weights far from their initial values,
// so that every parameter matters to the logits.
Transformer RandomModel(const std::string& variant, uint64_t seed) {
  absl::StatusOr<ModelConfig> config = MakeConfig("tiny", variant);
  EXPECT_TRUE(config.ok()) << config.status();
  at::manual_seed(seed);
  Transformer model(*config);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.5);
  model->eval();
  return model;
}

at::Tensor Logits(Transformer& model) {
  at::manual_seed(7);
  at::Tensor tokens =
      at::randint(model->config().vocab_size, {2, 9}, at::kLong);
  ForwardInput input;
  input.tokens = tokens;
  torch::NoGradGuard no_grad;
  return model->Forward(input).logits;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // One directory per test: ctest runs tests in parallel.
    std::string name = std::string("checkpoint_test_") +
                       info->test_suite_name() + "_" + info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    root_ = testing::TempDir() + "/" + name;
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    tokenizer_ = root_ + "/source_tokenizer.model";
    ASSERT_TRUE(WriteFile(tokenizer_, kTokenizerBytes).ok());
    dir_ = root_ + "/ckpt";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Saves a random base model (float32) into dir_.
  Transformer SaveGood() {
    Transformer model = RandomModel("base", 1);
    SaveOptions options;
    options.tokenizer_path = tokenizer_;
    EXPECT_TRUE(SaveCheckpoint(dir_, model, options).ok());
    return model;
  }

  absl::Status Load() {
    return LoadCheckpoint(dir_, at::kCPU, at::kFloat).status();
  }

  // Expects Load() to fail with `code` and a message naming `file` and
  // containing `fragment`.
  void ExpectLoadError(absl::StatusCode code, const std::string& file,
                       const std::string& fragment) {
    absl::Status status = Load();
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(file));
    EXPECT_THAT(std::string(status.message()), HasSubstr(fragment));
  }

  std::string Path(const char* file) const { return dir_ + "/" + file; }

  // Rewrites model.safetensors from the model's parameters after `edit`.
  void RewriteWeights(Transformer& model,
                      const std::function<void(NamedTensors&)>& edit) {
    NamedTensors tensors;
    for (const auto& item : model->named_parameters()) {
      tensors.emplace_back(item.key(), item.value().detach());
    }
    edit(tensors);
    ASSERT_TRUE(WriteSafetensors(Path("model.safetensors"), tensors).ok());
  }

  // Rewrites model.safetensors with its header JSON changed by `edit` and
  // its data bytes kept.
  void RewriteHeader(const std::function<void(nlohmann::json&)>& edit) {
    std::string bytes = *ReadFile(Path("model.safetensors"));
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
    edit(header);
    const std::string text = header.dump();
    const uint64_t size = text.size();
    std::string out(reinterpret_cast<const char*>(&size), 8);
    out += text + bytes.substr(8 + n);
    ASSERT_TRUE(WriteFile(Path("model.safetensors"), out).ok());
  }

  // Rewrites config.json after `edit`.
  void RewriteConfig(const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json config =
        nlohmann::json::parse(*ReadFile(Path("config.json")));
    edit(config);
    ASSERT_TRUE(WriteFile(Path("config.json"), config.dump()).ok());
  }

  std::string root_, dir_, tokenizer_;
};

class CheckpointRoundTripTest : public CheckpointTest,
                                public ::testing::WithParamInterface<
                                    std::tuple<std::string, c10::ScalarType>> {
};

TEST_P(CheckpointRoundTripTest, WeightsAndLogitsAreBitExact) {
  const auto& [variant, dtype] = GetParam();
  Transformer model = RandomModel(variant, 42);
  SaveOptions options;
  options.dtype = dtype;
  options.training = {{"steps", 3}, {"val_loss", 4.25}};
  options.tokenizer_path = tokenizer_;
  ASSERT_TRUE(SaveCheckpoint(dir_, model, options).ok());

  absl::StatusOr<LoadedCheckpoint> loaded =
      LoadCheckpoint(dir_, at::kCPU, dtype);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  nlohmann::json want_config, got_config;
  ToJson(model->config(), want_config);
  ToJson(loaded->config, got_config);
  EXPECT_EQ(got_config, want_config);
  EXPECT_EQ(got_config["variant"], variant);
  EXPECT_EQ(loaded->stored_dtype, dtype);
  EXPECT_EQ(loaded->training, options.training);
  EXPECT_EQ(loaded->tokenizer_path, Path("tokenizer.model"));
  EXPECT_EQ(*ReadFile(loaded->tokenizer_path), kTokenizerBytes);
  EXPECT_EQ(loaded->weights_sha256,
            *Sha256Hex(*ReadFile(Path("model.safetensors"))));
  EXPECT_FALSE(loaded->model->is_training());

  // The saved model as it would run in `dtype`: parameters cast, buffers not.
  model->to(dtype);
  auto want = model->named_parameters();
  auto got = loaded->model->named_parameters();
  ASSERT_EQ(got.size(), want.size());
  for (const auto& item : want) {
    const at::Tensor* other = got.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_TRUE(SameBits(*other, item.value())) << item.key();
  }
  for (const auto& buffer : loaded->model->named_buffers()) {
    EXPECT_EQ(buffer.value().scalar_type(), at::kFloat) << buffer.key();
  }
  EXPECT_TRUE(SameBits(Logits(loaded->model), Logits(model)));
}

INSTANTIATE_TEST_SUITE_P(
    AllVariants, CheckpointRoundTripTest,
    ::testing::Combine(::testing::Values("base", "qkv_gelu", "separate_qkv",
                                         "score_fcn"),
                       ::testing::Values(at::kFloat, at::kBFloat16)),
    [](const auto& info) {
      return std::get<0>(info.param) +
             (std::get<1>(info.param) == at::kFloat ? "_f32" : "_bf16");
    });

TEST_F(CheckpointTest, WritesTheDocumentedFiles) {
  Transformer model = SaveGood();
  nlohmann::json config = nlohmann::json::parse(*ReadFile(Path("config.json")));
  EXPECT_EQ(config["format_version"], 1);
  EXPECT_EQ(config["variant"], "base");
  EXPECT_EQ(config["n_embd"], model->config().n_embd);
  EXPECT_TRUE(config.contains("training"));
  absl::StatusOr<SafetensorsFile> weights =
      SafetensorsFile::Read(Path("model.safetensors"));
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->entries().size(), model->named_parameters().size());
  ASSERT_NE(weights->Find("wte.weight"), nullptr);
  EXPECT_EQ(weights->Find("wte.weight")->dtype_name, "F32");
  EXPECT_NE(weights->Find("h.1.attn.qkv.weight"), nullptr);
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  }
}

TEST_F(CheckpointTest, LoadsIntoAnotherDtypeThanStored) {
  Transformer model = SaveGood();
  absl::StatusOr<LoadedCheckpoint> loaded =
      LoadCheckpoint(dir_, at::kCPU, at::kBFloat16);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->stored_dtype, at::kFloat);
  at::Tensor wte = *loaded->model->named_parameters().find("wte.weight");
  EXPECT_TRUE(SameBits(
      wte, model->named_parameters().find("wte.weight")->to(at::kBFloat16)));
}

TEST_F(CheckpointTest, SaveOverwritesAndRejectsBadArguments) {
  SaveGood();
  Transformer other = RandomModel("score_fcn", 9);
  SaveOptions options;
  options.tokenizer_path = tokenizer_;
  ASSERT_TRUE(SaveCheckpoint(dir_, other, options).ok());
  absl::StatusOr<LoadedCheckpoint> loaded =
      LoadCheckpoint(dir_, at::kCPU, at::kFloat);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->config.score_fcn);

  options.dtype = at::kHalf;
  EXPECT_EQ(SaveCheckpoint(dir_, other, options).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadCheckpoint(dir_, at::kCPU, at::kHalf).status().code(),
            absl::StatusCode::kInvalidArgument);

  options.dtype = at::kFloat;
  options.tokenizer_path = root_ + "/no_such_tokenizer";
  absl::Status missing = SaveCheckpoint(root_ + "/other", other, options);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("no_such_tokenizer"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/other/model.safetensors"));
}

TEST_F(CheckpointTest, MissingDirectoryOrFiles) {
  EXPECT_EQ(Load().code(), absl::StatusCode::kNotFound);
  SaveGood();
  std::filesystem::remove(Path("tokenizer.model"));
  ExpectLoadError(absl::StatusCode::kNotFound, "tokenizer.model", "missing");
  ASSERT_TRUE(WriteFile(Path("tokenizer.model"), kTokenizerBytes).ok());
  std::filesystem::remove(Path("model.safetensors"));
  ExpectLoadError(absl::StatusCode::kNotFound, "model.safetensors",
                  "No such file");
  std::filesystem::remove(Path("config.json"));
  ExpectLoadError(absl::StatusCode::kNotFound, "config.json", "No such file");
}

TEST_F(CheckpointTest, TruncatedWeights) {
  SaveGood();
  std::string bytes = *ReadFile(Path("model.safetensors"));
  ASSERT_TRUE(
      WriteFile(Path("model.safetensors"), bytes.substr(0, bytes.size() - 5))
          .ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "run past the end of the data buffer");
  ASSERT_TRUE(WriteFile(Path("model.safetensors"), bytes.substr(0, 5)).ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "too short");
}

TEST_F(CheckpointTest, BadHeaderLength) {
  SaveGood();
  std::string bytes = *ReadFile(Path("model.safetensors"));
  const uint64_t past_end = bytes.size();
  std::memcpy(&bytes[0], &past_end, 8);
  ASSERT_TRUE(WriteFile(Path("model.safetensors"), bytes).ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "runs past the end");
  const uint64_t absurd = uint64_t{1} << 50;
  std::memcpy(&bytes[0], &absurd, 8);
  ASSERT_TRUE(WriteFile(Path("model.safetensors"), bytes).ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "exceeds the limit");
}

TEST_F(CheckpointTest, HeaderNotJson) {
  SaveGood();
  std::string bytes = *ReadFile(Path("model.safetensors"));
  ASSERT_EQ(bytes[8], '{');
  bytes[8] = 'x';
  ASSERT_TRUE(WriteFile(Path("model.safetensors"), bytes).ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "not valid JSON");
}

TEST_F(CheckpointTest, UnknownDtype) {
  SaveGood();
  RewriteHeader([](nlohmann::json& h) { h["ln_f.weight"]["dtype"] = "X32"; });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "unknown or unsupported dtype 'X32'");
}

TEST_F(CheckpointTest, IntegerWeights) {
  Transformer model = SaveGood();
  for (c10::ScalarType type : {at::kLong, at::kChar}) {
    RewriteWeights(model, [&](NamedTensors& t) {
      for (auto& [name, tensor] : t) {
        if (name == "ln_f.weight") tensor = tensor.to(type);
      }
    });
    ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                    type == at::kLong ? "'ln_f.weight' has dtype I64"
                                      : "'ln_f.weight' has dtype I8");
  }
}

TEST_F(CheckpointTest, MixedFloatDtypes) {
  Transformer model = SaveGood();
  RewriteWeights(model, [](NamedTensors& t) {
    t[0].second = t[0].second.to(at::kBFloat16);
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "mix dtypes");
}

TEST_F(CheckpointTest, WrongShape) {
  Transformer model = SaveGood();
  RewriteWeights(model, [](NamedTensors& t) {
    for (auto& [name, tensor] : t) {
      if (name == "h.0.mlp.proj.weight") tensor = tensor.t().contiguous();
    }
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "'h.0.mlp.proj.weight' has shape [32, 16], but config.json "
                  "implies [16, 32]");
}

// Such weights once loaded, and the server failed at start far from the
// cause ("index -1 is out of bounds" in the warm-up step).
TEST_F(CheckpointTest, NonFiniteWeights) {
  Transformer model = SaveGood();
  const std::vector<std::pair<float, std::string>> cases = {
      {std::nanf(""), "NaN"},
      {std::numeric_limits<float>::infinity(), "+Inf"},
      {-std::numeric_limits<float>::infinity(), "-Inf"}};
  for (const auto& [bad, name] : cases) {
    RewriteWeights(model, [bad = bad](NamedTensors& t) {
      for (auto& [tensor_name, tensor] : t) {
        if (tensor_name == "h.1.attn.proj.weight") {
          tensor = tensor.clone();
          tensor.view({-1})[7] = bad;
        }
      }
    });
    ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                    "tensor 'h.1.attn.proj.weight' holds 1 non-finite "
                    "values (the first, at element 7, is " + name + ")");
  }
}

TEST_F(CheckpointTest, OffsetPastEnd) {
  SaveGood();
  RewriteHeader([](nlohmann::json& h) {
    auto& offsets = h["ln_f.weight"]["data_offsets"];
    offsets[1] = offsets[1].get<uint64_t>() + (uint64_t{1} << 40);
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "run past the end of the data buffer");
}

TEST_F(CheckpointTest, OverlappingOffsets) {
  SaveGood();
  RewriteHeader([](nlohmann::json& h) {
    // Both norms of layer 0 have 16 floats; point the second at the first.
    h["h.0.norm_2.weight"]["data_offsets"] =
        h["h.0.norm_1.weight"]["data_offsets"];
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "overlap");
}

TEST_F(CheckpointTest, MissingTensor) {
  Transformer model = SaveGood();
  RewriteWeights(model, [](NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(),
                           [](const auto& item) {
                             return item.first == "h.1.attn.proj.weight";
                           }),
            t.end());
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "missing tensors: h.1.attn.proj.weight");
}

TEST_F(CheckpointTest, ExtraTensor) {
  Transformer model = SaveGood();
  RewriteWeights(model, [](NamedTensors& t) {
    t.emplace_back("h.0.attn.qkv.bias", at::zeros({32}));
    t.emplace_back("h.2.norm_1.weight", at::ones({16}));
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "unexpected tensors: h.0.attn.qkv.bias, h.2.norm_1.weight");
}

TEST_F(CheckpointTest, ConfigMissingField) {
  SaveGood();
  RewriteConfig([](nlohmann::json& c) { c.erase("n_head"); });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "field 'n_head' is missing");
}

TEST_F(CheckpointTest, ConfigNotJson) {
  SaveGood();
  ASSERT_TRUE(WriteFile(Path("config.json"), "{\"n_embd\": 16,").ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "not valid JSON");
  ASSERT_TRUE(WriteFile(Path("config.json"), "[16]").ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "not a JSON object");
}

TEST_F(CheckpointTest, ConfigHeadsDoNotDivideWidth) {
  SaveGood();
  RewriteConfig([](nlohmann::json& c) { c["n_embd"] = 15; });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "n_embd (15) must be a multiple of n_head (2)");
}

TEST_F(CheckpointTest, ConfigUnsupportedFormatVersion) {
  SaveGood();
  RewriteConfig([](nlohmann::json& c) { c["format_version"] = 2; });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "unsupported format_version 2");
}

TEST_F(CheckpointTest, ConfigFarLargerThanWeights) {
  // A forged config must be refused before the model is built, not make
  // the constructor allocate terabytes or a billion layers.
  SaveGood();
  RewriteConfig([](nlohmann::json& c) { c["vocab_size"] = int64_t{1} << 40; });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "imply a weight of");
  RewriteConfig([](nlohmann::json& c) {
    c["vocab_size"] = 64;
    c["n_layer"] = 1000000000;
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "far more parameters");
  RewriteConfig([](nlohmann::json& c) {
    c["n_layer"] = 2;
    c["block_size"] = int64_t{1} << 40;
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "config.json",
                  "RoPE table");
  // A config that fits the file but not its tensors names the tensors.
  RewriteConfig([](nlohmann::json& c) {
    c["block_size"] = 32;
    c["n_layer"] = 3;
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument, "model.safetensors",
                  "missing tensors: h.2.");
}

}  // namespace
}  // namespace tinylm
