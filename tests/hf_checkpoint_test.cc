// Hugging Face Llama directories (hf_checkpoint.h, hf_export.h): a tinylm
// model exported to the Hugging Face layout loads back with the same
// logits (one file or shards, tied or not, float32, bfloat16 or float16
// stored, either serving dtype), and every unsupported or broken directory
// is refused with its code and a message naming the file, the key and the
// value. That transformers itself reads and writes these files the same way
// is tests/hf_interop_test.py's job.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "models/checkpoint.h"
#include "models/hf_export.h"
#include "models/safetensors.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"
#include "util/file_io.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// The smallest round vocabulary that covers the sample corpus (as in
// tests/test_checkpoints.cc).
constexpr int64_t kVocabSize = 1300;

// float32 against float32 through different but equivalent kernels (one
// fused q, k, v product against three).
constexpr double kTolerance = 1e-5;

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

at::Tensor Logits(Transformer& model) {
  const at::Tensor tokens =
      at::arange(17, at::kLong).mul(37).remainder(kVocabSize).view({1, 17});
  torch::NoGradGuard no_grad;
  return model->Forward(ForwardInput(tokens)).logits.to(at::kFloat);
}

class HfCheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: ctest runs each test in a process of its own,
    // in parallel, and each suite's teardown removes its folder.
    tokenizer_dir_ = new std::string(::testing::TempDir() + "hf_tokenizer_" +
                                     std::to_string(getpid()));
    fs::create_directories(*tokenizer_dir_);
    Tokenizer::TrainOptions options;
    options.inputs = {std::string(TINYLM_TEST_DATA_DIR) + "/corpus-sample.txt"};
    options.model_prefix = *tokenizer_dir_ + "/tok";
    options.vocab_size = kVocabSize;
    options.character_coverage = 0.98;
    options.num_threads = 1;
    options.log_progress = false;
    ASSERT_TRUE(Tokenizer::Train(options).ok());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*tokenizer_dir_);
    delete tokenizer_dir_;
  }
  static std::string TokenizerPath() { return *tokenizer_dir_ + "/tok.model"; }

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "hf_checkpoint_test_" + info->name();
    fs::remove_all(root_);
    fs::create_directories(root_);
    tinylm_dir_ = root_ + "/tinylm";
    hf_dir_ = root_ + "/hf";
  }
  void TearDown() override { fs::remove_all(root_); }

  // Saves a random model of `variant` (or of the llama block, with
  // `separate_qkv`) with 4 query heads in 2 groups, stored in `dtype`, and
  // exports it to hf_dir_. Returns the model as stored, in float32.
  Transformer SaveAndExport(const std::string& variant = "base",
                            c10::ScalarType dtype = at::kFloat,
                            bool separate_qkv = false) {
    ModelConfig config = *MakeConfig("tiny", variant);
    config.vocab_size = kVocabSize;
    config.n_embd = 32;
    config.n_head = 4;
    config.n_query_groups = 2;
    config.separate_qkv = separate_qkv;
    at::manual_seed(3);
    Transformer model(config);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.normal_(0.0, 0.3);
    }
    model->eval();
    SaveOptions options;
    options.dtype = dtype;
    options.tokenizer_path = TokenizerPath();
    EXPECT_TRUE(SaveCheckpoint(tinylm_dir_, model, options).ok());
    const absl::Status exported = ExportHfCheckpoint(tinylm_dir_, hf_dir_);
    EXPECT_TRUE(exported.ok()) << exported;
    model->to(dtype);  // the values stored
    model->to(at::kFloat);
    return model;
  }

  absl::StatusOr<LoadedCheckpoint> Load(c10::ScalarType dtype = at::kFloat) {
    return LoadCheckpoint(hf_dir_, at::kCPU, dtype);
  }

  void ExpectLoadError(absl::StatusCode code,
                       const std::vector<std::string>& fragments) {
    const absl::Status status = Load().status();
    EXPECT_EQ(status.code(), code) << status;
    for (const std::string& fragment : fragments) {
      EXPECT_THAT(std::string(status.message()), HasSubstr(fragment));
    }
  }

  std::string Path(const std::string& file) const {
    return hf_dir_ + "/" + file;
  }

  void EditJson(const std::string& file,
                const std::function<void(json&)>& edit) {
    json config = json::parse(*ReadFile(Path(file)));
    edit(config);
    ASSERT_TRUE(WriteFile(Path(file), config.dump(2)).ok());
  }

  // The exported tensors, by name.
  NamedTensors ReadWeights() {
    absl::StatusOr<SafetensorsFile> file =
        SafetensorsFile::Read(Path("model.safetensors"));
    EXPECT_TRUE(file.ok()) << file.status();
    NamedTensors out;
    for (const SafetensorsEntry& e : file->entries()) {
      out.emplace_back(e.name, *file->ToTensor(e));
    }
    return out;
  }

  void EditWeights(const std::function<void(NamedTensors&)>& edit) {
    NamedTensors tensors = ReadWeights();
    edit(tensors);
    ASSERT_TRUE(WriteSafetensors(Path("model.safetensors"), tensors).ok());
  }

  void DropWeights(const std::set<std::string>& names) {
    EditWeights([&](NamedTensors& tensors) {
      tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                   [&](const auto& item) {
                                     return names.count(item.first) > 0;
                                   }),
                    tensors.end());
    });
  }

  // Splits model.safetensors into two shards and an index.
  void Shard() {
    NamedTensors tensors = ReadWeights();
    NamedTensors first(tensors.begin(), tensors.begin() + tensors.size() / 2);
    NamedTensors second(tensors.begin() + tensors.size() / 2, tensors.end());
    json index = {{"metadata", {{"total_size", 0}}},
                  {"weight_map", json::object()}};
    for (const auto& [part, name] :
         {std::pair<NamedTensors*, const char*>{
              &first, "model-00001-of-00002.safetensors"},
          {&second, "model-00002-of-00002.safetensors"}}) {
      ASSERT_TRUE(WriteSafetensors(Path(name), *part).ok());
      for (const auto& item : *part) index["weight_map"][item.first] = name;
    }
    ASSERT_TRUE(
        WriteFile(Path("model.safetensors.index.json"), index.dump()).ok());
    fs::remove(Path("model.safetensors"));
  }

  static std::string* tokenizer_dir_;
  std::string root_, tinylm_dir_, hf_dir_;
};

std::string* HfCheckpointTest::tokenizer_dir_ = nullptr;

TEST_F(HfCheckpointTest, ExportWritesWhatTransformersReads) {
  SaveAndExport();
  for (const char* file : {"config.json", "model.safetensors",
                           "tokenizer.model", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::is_regular_file(Path(file))) << file;
  }
  const json config = json::parse(*ReadFile(Path("config.json")));
  EXPECT_EQ(config["architectures"], json({"LlamaForCausalLM"}));
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["num_attention_heads"], 4);
  EXPECT_EQ(config["num_key_value_heads"], 2);
  EXPECT_EQ(config["head_dim"], 8);
  EXPECT_EQ(config["vocab_size"], kVocabSize);
  EXPECT_EQ(config["bos_token_id"], 1);
  EXPECT_EQ(config["eos_token_id"], 2);
  EXPECT_EQ(config["torch_dtype"], "float32");
  EXPECT_EQ(config["tie_word_embeddings"], false);
  const json tokenizer = json::parse(*ReadFile(Path("tokenizer_config.json")));
  EXPECT_EQ(tokenizer["tokenizer_class"], "LlamaTokenizer");
  EXPECT_EQ(tokenizer["add_bos_token"], false);  // tinylm trains without BOS
  EXPECT_EQ(tokenizer["eos_token"], "</s>");
  std::vector<std::string> names;
  for (const auto& item : ReadWeights()) names.push_back(item.first);
  EXPECT_THAT(names,
              ::testing::Contains("model.layers.1.self_attn.k_proj.weight"));
  EXPECT_THAT(names,
              ::testing::Contains("model.layers.0.mlp.gate_proj.weight"));
  EXPECT_EQ(names.size(), 3u + 2 * 9);
}

TEST_F(HfCheckpointTest, ExportedBaseAndLlamaLoadWithTheSameLogits) {
  for (const bool separate : {false, true}) {
    for (const c10::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
      SCOPED_TRACE(std::string(separate ? "llama " : "base ") +
                   c10::toString(dtype));
      fs::remove_all(hf_dir_);
      Transformer model = SaveAndExport("base", dtype, separate);
      absl::StatusOr<LoadedCheckpoint> loaded = Load();
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      EXPECT_EQ(loaded->format, "huggingface");
      EXPECT_EQ(loaded->config.VariantName(), "llama");
      EXPECT_EQ(loaded->stored_dtype, dtype);
      EXPECT_FALSE(loaded->add_bos);
      EXPECT_EQ(loaded->bos_id, 1);
      EXPECT_EQ(loaded->eos_id, 2);
      EXPECT_EQ(loaded->weights_sha256.size(), 64u);
      EXPECT_LE(MaxDiff(Logits(loaded->model), Logits(model)), kTolerance);
    }
  }
}

TEST_F(HfCheckpointTest, ShardedTiedAndHalfPrecisionLoad) {
  Transformer model = SaveAndExport();
  const at::Tensor want = Logits(model);
  Shard();
  absl::StatusOr<LoadedCheckpoint> sharded = Load();
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  EXPECT_LE(MaxDiff(Logits(sharded->model), want), kTolerance);

  // Tied: no lm_head.weight; the head is the embedding, in one buffer.
  fs::remove_all(hf_dir_);
  SaveAndExport();
  EditJson("config.json", [](json& c) { c["tie_word_embeddings"] = true; });
  at::Tensor embedding;
  for (const auto& item : ReadWeights()) {
    if (item.first == "model.embed_tokens.weight") embedding = item.second;
  }
  DropWeights({"lm_head.weight"});
  absl::StatusOr<LoadedCheckpoint> tied = Load();
  ASSERT_TRUE(tied.ok()) << tied.status();
  auto params = tied->model->named_parameters();
  EXPECT_EQ(params["lm_head.weight"].data_ptr(),
            params["wte.weight"].data_ptr());
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["lm_head.weight"].copy_(embedding);
  }
  EXPECT_LE(MaxDiff(Logits(tied->model), Logits(model)), kTolerance);

  // Stored in float16, served in float32 and in bfloat16.
  EditWeights([](NamedTensors& tensors) {
    for (auto& item : tensors) item.second = item.second.to(at::kHalf);
  });
  absl::StatusOr<LoadedCheckpoint> half = Load();
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->stored_dtype, at::kHalf);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.copy_(p.to(at::kHalf));
  }
  EXPECT_LE(MaxDiff(Logits(half->model), Logits(model)), kTolerance);
  absl::StatusOr<LoadedCheckpoint> bf16 = Load(at::kBFloat16);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_EQ(bf16->model->parameters().front().scalar_type(), at::kBFloat16);
  // bfloat16 keeps 8 mantissa bits: within a few percent of the largest.
  const at::Tensor full = Logits(model);
  EXPECT_LE(MaxDiff(Logits(bf16->model), full),
            0.05 * full.abs().max().item<double>());
}

TEST_F(HfCheckpointTest, TheTokenizerMustAgreeWithTheConfig) {
  SaveAndExport();
  EditJson("tokenizer_config.json", [](json& c) { c["add_bos_token"] = true; });
  EditJson("config.json", [](json& c) { c["eos_token_id"] = 5; });
  absl::StatusOr<LoadedCheckpoint> loaded = Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->add_bos);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(loaded->tokenizer_path, "", loaded->add_bos);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("猫").value().front(), 1);  // BOS first
  const absl::Status fits = CheckTokenizerFits(*loaded, hf_dir_, **tokenizer);
  EXPECT_EQ(fits.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(fits.message()),
              HasSubstr("config.json: eos_token_id = 5, but"));
}

// One edit of config.json and what the refusal must say.
struct ConfigCase {
  const char* name;
  std::function<void(json&)> edit;
  std::vector<std::string> fragments;
};

TEST_F(HfCheckpointTest, UnsupportedConfigsNameTheKeyAndValue) {
  const std::vector<ConfigCase> cases = {
      {"model_type",
       [](json& c) { c["model_type"] = "mistral"; },
       {"model_type = \"mistral\"", "only Llama"}},
      {"architectures",
       [](json& c) { c["architectures"] = {"LlamaForSequenceClassification"}; },
       {"architectures = \"[\\\"LlamaForSequenceClassification\\\"]\""}},
      {"hidden_act",
       [](json& c) { c["hidden_act"] = "gelu"; },
       {"hidden_act = \"gelu\"", "SwiGLU"}},
      {"attention_bias",
       [](json& c) { c["attention_bias"] = true; },
       {"attention_bias = \"true\"", "no biases"}},
      {"mlp_bias",
       [](json& c) { c["mlp_bias"] = true; },
       {"mlp_bias = \"true\""}},
      {"rope_scaling",
       [](json& c) {
         c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
       },
       {"rope_scaling = \"{", "linear", "RoPE scaling is not supported"}},
      {"rope_parameters",
       [](json& c) {
         c["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 5e5}};
       },
       {"rope_parameters = ", "llama3"}},
      {"quantization_config",
       [](json& c) {
         c["quantization_config"] = {{"quant_method", "gptq"}};
       },
       {"quantization_config = ", "gptq", "quantized weights"}},
      {"head_dim",
       [](json& c) { c["head_dim"] = 16; },
       {"head_dim = \"16\"", "8 wide"}},
      {"heads",
       [](json& c) { c["num_attention_heads"] = 3; },
       {"hidden_size 32 is not a multiple of num_attention_heads 3"}},
      {"groups",
       [](json& c) { c["num_key_value_heads"] = 3; },
       {"num_attention_heads 4 is not a multiple of num_key_value_heads 3"}},
      {"missing",
       [](json& c) { c.erase("hidden_size"); },
       {"hidden_size is missing"}},
      {"not_a_number",
       [](json& c) { c["vocab_size"] = "many"; },
       {"vocab_size = \"many\": must be a positive integer"}},
      {"two_eos",
       [](json& c) {
         c["eos_token_id"] = {2, 3};
       },
       {"eos_token_id = \"[2,3]\""}},
      {"eos_out_of_range",
       [](json& c) { c["eos_token_id"] = kVocabSize; },
       {"eos_token_id = \"1300\": outside the vocabulary (vocab_size 1300)"}},
      {"vocabulary",
       [](json& c) { c["vocab_size"] = kVocabSize + 1; },
       {"'lm_head.weight' has shape [1300, 32], but config.json implies "
        "[1301, 32]"}},
      {"forged",
       [](json& c) { c["num_hidden_layers"] = 1 << 30; },
       {"config.json: the dimensions imply", "the weight files hold only"}},
  };
  SaveAndExport();
  const std::string original = *ReadFile(Path("config.json"));
  for (const ConfigCase& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(WriteFile(Path("config.json"), original).ok());
    EditJson("config.json", c.edit);
    std::vector<std::string> fragments = c.fragments;
    fragments.push_back(hf_dir_ + "/");
    ExpectLoadError(absl::StatusCode::kInvalidArgument, fragments);
  }
}

TEST_F(HfCheckpointTest, UnsupportedTokenizersAreRefused) {
  SaveAndExport();
  EditJson("tokenizer_config.json",
           [](json& c) { c["tokenizer_class"] = "GPT2Tokenizer"; });
  ExpectLoadError(
      absl::StatusCode::kInvalidArgument,
      {"tokenizer_config.json: tokenizer_class = \"GPT2Tokenizer\""});
  EditJson("tokenizer_config.json", [](json& c) {
    c["tokenizer_class"] = "LlamaTokenizerFast";
    c["add_eos_token"] = true;
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"add_eos_token = \"true\""});
  fs::rename(Path("tokenizer.model"), Path("tokenizer.json"));
  ExpectLoadError(absl::StatusCode::kNotFound,
                  {"tokenizer.model is missing", "tokenizer.json alone"});
}

TEST_F(HfCheckpointTest, BrokenWeightFilesAreRefused) {
  SaveAndExport();
  EditWeights([](NamedTensors& tensors) {
    tensors.push_back({"model.extra.weight", at::zeros({2})});
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"model.safetensors", "does not have: model.extra.weight"});
  DropWeights({"lm_head.weight", "model.extra.weight"});
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"lack tensors that config.json implies: lm_head.weight"});
  fs::remove_all(hf_dir_);
  SaveAndExport();
  EditWeights([](NamedTensors& tensors) {
    tensors[0].second = tensors[0].second.to(at::kInt);
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"'lm_head.weight' has dtype I32", "F32, BF16 or F16"});
  EditWeights([](NamedTensors& tensors) {
    tensors[0].second = tensors[0].second.to(at::kFloat);
    tensors[0].second[3][4] = NAN;
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"'lm_head.weight' holds 1 non-finite values"});

  fs::remove_all(hf_dir_);
  SaveAndExport();
  Shard();
  EditJson("model.safetensors.index.json", [](json& index) {
    index["weight_map"]["lm_head.weight"] = "../elsewhere.safetensors";
  });
  ExpectLoadError(
      absl::StatusCode::kInvalidArgument,
      {"model.safetensors.index.json: weight_map[\"lm_head.weight\"]",
       "is not the name of a file in this directory"});
  EditJson("model.safetensors.index.json", [](json& index) {
    index["weight_map"]["lm_head.weight"] = "model-00009-of-00002.safetensors";
  });
  ExpectLoadError(
      absl::StatusCode::kNotFound,
      {"names \"model-00009-of-00002.safetensors\", which is not in"});
  EditJson("model.safetensors.index.json", [](json& index) {
    index["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors";
  });
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"model-00001-of-00002.safetensors: holds tensor "
                   "'lm_head.weight', which",
                   "does not list for this file"});
}

TEST_F(HfCheckpointTest, PickledAndMetaLayoutsAreNamedAndRefused) {
  SaveAndExport();
  fs::remove(Path("model.safetensors"));
  ASSERT_TRUE(WriteFile(Path("pytorch_model.bin"), "pickle").ok());
  ExpectLoadError(absl::StatusCode::kInvalidArgument,
                  {"pytorch_model.bin: pickled PyTorch weights are not loaded",
                   "safe_serialization=True"});
  fs::remove(Path("pytorch_model.bin"));
  ASSERT_TRUE(WriteFile(Path("consolidated.00.pth"), "pickle").ok());
  ExpectLoadError(
      absl::StatusCode::kInvalidArgument,
      {"consolidated.00.pth: Meta's original checkpoint layout", "interleave"});
  fs::remove(Path("consolidated.00.pth"));
  ExpectLoadError(absl::StatusCode::kNotFound,
                  {"no model.safetensors and no model.safetensors.index.json"});
}

TEST_F(HfCheckpointTest, OnlyLlamaBlocksExport) {
  ModelConfig config = *MakeConfig("tiny", "qkv_gelu");
  config.vocab_size = kVocabSize;
  Transformer model(config);
  SaveOptions options;
  options.tokenizer_path = TokenizerPath();
  ASSERT_TRUE(SaveCheckpoint(tinylm_dir_, model, options).ok());
  const absl::Status refused = ExportHfCheckpoint(tinylm_dir_, hf_dir_);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("config.json: qkv_bias = true: a Llama has no such "
                        "term (only the base and llama blocks export; this is "
                        "qkv_gelu)"));
  EXPECT_FALSE(fs::exists(hf_dir_));

  fs::remove_all(tinylm_dir_);
  SaveAndExport();
  const absl::Status again = ExportHfCheckpoint(tinylm_dir_, hf_dir_);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  const absl::Status twice = ExportHfCheckpoint(hf_dir_, root_ + "/hf2");
  EXPECT_THAT(std::string(twice.message()),
              HasSubstr("is a huggingface checkpoint already"));
}

}  // namespace
}  // namespace tinylm
