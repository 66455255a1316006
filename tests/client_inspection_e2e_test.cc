// End to end, the inspection subcommands: the real tinylm binary against
// the real tinylm-server serving the test checkpoints (the fixture of
// client_e2e_util.h). Values are checked against another path through the
// server: the lens's last block and Score's logprobs against TopK, an
// intervention's clean answer against the plain one; the numbers
// themselves are checked against the numpy reference by
// inspection_interop_test.py.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client_e2e_util.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kPrompt[] = "彼女が子供の頃に住んでいた、海の見える小さな";
constexpr double kTolerance = 1e-5;

// `tinylm --json args...`, parsed; fails the test on a non-zero exit.
nlohmann::json JsonOf(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--json"};
  all.insert(all.end(), args.begin(), args.end());
  const ProcessResult r = ClientEndToEndTest::Tinylm(all);
  EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
  return Json(r.out);
}

// The ids of `text` under the fixture's model.
std::vector<int> Ids(const std::string& text) {
  return JsonOf(
      {"--model=" + ClientEndToEndTest::Model(), "tokenize", text})["ids"];
}

TEST_F(ClientEndToEndTest, LensEndsWithTheModelsOwnTopK) {
  const std::string model = "--model=" + Model();
  const int layers = Info(Model())["dims"]["n_layer"];
  const int tokens = TokenCount(*this, kPrompt);
  const nlohmann::json lens =
      JsonOf({model, "--k=3", "--positions=1,2", "lens", kPrompt});
  ASSERT_EQ(lens["positions"].size(), 2u) << lens;
  EXPECT_EQ(int(lens["tokens"].size()), tokens);
  for (const nlohmann::json& p : lens["positions"]) {
    const nlohmann::json& rows = p["layers"];
    ASSERT_EQ(int(rows.size()), layers + 1);
    EXPECT_EQ(rows[0]["layer"], -1);  // the embeddings first
    EXPECT_EQ(rows.back()["kl_from_final"], 0.0);
    for (const nlohmann::json& row : rows) {
      EXPECT_GE(row["kl_from_final"].get<double>(), 0.0);
      ASSERT_EQ(row["tokens"].size(), 3u);
    }
    // The last block's distribution is what TopK reads after the prefix.
    const std::vector<int> ids = Ids(kPrompt);
    const int position = p["position"];
    std::vector<std::string> prefix;
    for (int i = 0; i <= position; ++i) prefix.push_back(absl::StrCat(ids[i]));
    const nlohmann::json topk =
        JsonOf({model, "--k=3", "--ids=" + absl::StrJoin(prefix, ","), "topk"});
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(rows.back()["tokens"][i]["id"], topk["tokens"][i]["id"]);
      EXPECT_NEAR(rows.back()["tokens"][i]["probability"].get<double>(),
                  topk["tokens"][i]["probability"].get<double>(), kTolerance);
    }
  }

  const ProcessResult table = Tinylm({model, "--k=2", "lens", kPrompt});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  // A heading, the header and its rule, then the embeddings and each block.
  EXPECT_EQ(int(Lines(table.out).size()), 3 + layers + 1) << table.out;
  const std::string png = Scratch("lens") + "/lens.png";
  const ProcessResult picture =
      Tinylm({model, "--png=" + png, "lens", kPrompt});
  ASSERT_EQ(picture.exit_code, 0) << picture.err;
  EXPECT_GT(ReadPng(png).colours, 10u);
}

TEST_F(ClientEndToEndTest, ScoreIsTheLogprobTopKGivesAndComparesModels) {
  const std::vector<std::string>& names = ModelNames();
  ASSERT_GE(names.size(), 2u);
  const std::string models = "--models=" + names[0] + "," + names[1];
  const nlohmann::json score = JsonOf({models, "score", kPrompt});
  ASSERT_EQ(score["results"].size(), 2u) << score;
  const std::vector<int> ids = Ids(kPrompt);
  for (const nlohmann::json& result : score["results"]) {
    const nlohmann::json& tokens = result["tokens"];
    ASSERT_EQ(tokens.size(), ids.size());
    EXPECT_FALSE(tokens[0].contains("logprob"));
    double sum = 0;
    for (size_t i = 1; i < tokens.size(); ++i) {
      sum += tokens[i]["logprob"].get<double>();
    }
    const double mean_loss = -sum / (tokens.size() - 1);
    EXPECT_NEAR(result["mean_loss"].get<double>(), mean_loss, kTolerance);
    EXPECT_NEAR(result["perplexity"].get<double>(), std::exp(mean_loss), 1e-3);
  }
  // The last token's logprob is TopK's after the others, over the whole
  // vocabulary.
  const nlohmann::json& first = score["results"][0];
  const int vocab = Info(names[0])["dims"]["vocab_size"];
  std::vector<std::string> prefix;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    prefix.push_back(absl::StrCat(ids[i]));
  }
  const nlohmann::json topk =
      JsonOf({"--model=" + names[0], absl::StrCat("--k=", vocab),
              "--ids=" + absl::StrJoin(prefix, ","), "topk"});
  double want = NAN;
  for (const nlohmann::json& t : topk["tokens"]) {
    if (t["id"] == ids.back()) want = t["logprob"];
  }
  EXPECT_NEAR(first["tokens"].back()["logprob"].get<double>(), want,
              kTolerance);
  // The test checkpoints share one tokenizer: a comparison per token.
  EXPECT_TRUE(score["comparable"].get<bool>());
  EXPECT_EQ(score["comparison"].size(), ids.size() - 1);

  const ProcessResult text = Tinylm({models, "score", kPrompt});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("perplexity"));
  EXPECT_THAT(text.out, HasSubstr("loss per token (nats):"));
  const std::string png = Scratch("score") + "/score.png";
  ASSERT_EQ(Tinylm({models, "--png=" + png, "score", kPrompt}).exit_code, 0);
  EXPECT_GT(ReadPng(png).colours, 10u);
}

TEST_F(ClientEndToEndTest, StatsCoverEveryLayerAndHead) {
  const nlohmann::json info = Info(Model())["dims"];
  const int tokens = TokenCount(*this, kPrompt);
  const nlohmann::json stats =
      JsonOf({"--model=" + Model(), "--top_keys=2", "stats", kPrompt});
  const nlohmann::json& heads = stats["attention_stats"];
  ASSERT_EQ(int(heads.size()),
            info["n_layer"].get<int>() * info["n_head"].get<int>());
  for (const nlohmann::json& s : heads) {
    EXPECT_GE(s["entropy"].get<double>(), 0.0);
    EXPECT_LE(s["entropy"].get<double>(), std::log(tokens) + kTolerance);
    for (const char* mass : {"first_token_mass", "diagonal_mass"}) {
      EXPECT_GE(s[mass].get<double>(), 0.0);
      EXPECT_LE(s[mass].get<double>(), 1.0 + kTolerance);
    }
    EXPECT_LE(s["mean_distance"].get<double>(), tokens - 1);
    ASSERT_EQ(int(s["top_keys"].size()), tokens);
    // The first query can attend only to itself.
    EXPECT_EQ(s["top_keys"][0]["keys"], nlohmann::json::array({0}));
  }
}

TEST_F(ClientEndToEndTest, InterventionsReportTheirEffect) {
  const std::string model = "--model=" + Model();
  const nlohmann::json plain = JsonOf({model, "--k=3", "topk", kPrompt});
  const nlohmann::json ablated =
      JsonOf({model, "--k=3", "--ablate=attn:0", "topk", kPrompt});
  // The clean answer is the plain one.
  ASSERT_EQ(ablated["clean_tokens"].size(), 3u) << ablated;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ablated["clean_tokens"][i]["id"], plain["tokens"][i]["id"]);
  }
  const nlohmann::json& effect = ablated["effect"];
  EXPECT_EQ(effect["positions"], 1);
  EXPECT_GT(effect["max_logit_change"].get<double>(), 0.0);
  EXPECT_EQ(effect["clean_top"]["id"], plain["tokens"][0]["id"]);
  EXPECT_EQ(effect["intervened_top"]["id"], ablated["tokens"][0]["id"]);

  // Patching the residual stream from the prompt itself changes nothing.
  const nlohmann::json same =
      JsonOf({model, "--k=3", "--patch=residual:0",
              std::string("--patch_prompt=") + kPrompt, "topk", kPrompt});
  EXPECT_EQ(same["effect"]["max_logit_change"], 0.0) << same;

  const ProcessResult score =
      Tinylm({model, "--ablate=mlp:0:mean", "score", kPrompt});
  ASSERT_EQ(score.exit_code, 0) << score.err;
  EXPECT_THAT(score.out, HasSubstr("effect: KL"));
  const ProcessResult generate =
      Tinylm({model, "--temperature=0", "--max_new_tokens=3",
              "--ablate=head:0.0", "generate", kPrompt});
  ASSERT_EQ(generate.exit_code, 0) << generate.err;
  EXPECT_THAT(generate.err, HasSubstr("[interventions: KL"));
}

TEST_F(ClientEndToEndTest, BadInspectionArgumentsAreExitTwoNamingTheField) {
  const std::string model = "--model=" + Model();
  const int layers = Info(Model())["dims"]["n_layer"];
  const int heads = Info(Model())["dims"]["n_head"];
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{model, absl::StrCat("--ablate=attn:", layers), "topk", kPrompt},
       "interventions[0].ablate.layer:"},
      {{model, absl::StrCat("--ablate=head:0.", heads), "topk", kPrompt},
       "interventions[0].ablate.heads[0]:"},
      {{model, "--patch=residual:0", "--patch_prompt=海", "topk", kPrompt},
       "interventions[0].patch.source_text:"},
      {{model, "--positions=999", "lens", kPrompt}, "positions[0]:"},
      {{model, "--rows=0:999", "attention", kPrompt}, "row_end:"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = Tinylm(c.args);
    EXPECT_EQ(r.exit_code, kExitInvalidArgument) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message));
  }
}

TEST_F(ClientEndToEndTest, LongPromptsGetAnOverviewAndAZoom) {
  std::string prompt;
  int tokens = 0;
  while ((tokens = TokenCount(*this, prompt)) <= 64) prompt += kPrompt;
  const std::string dir = Scratch("overview");
  const ProcessResult r = Tinylm({"--model=" + Model(), "--out=" + dir,
                                  "--layers=0", "--fp16", "attention", prompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> files = Lines(r.out);
  ASSERT_EQ(files.size(), 2u) << r.out;
  EXPECT_THAT(files[0], HasSubstr("_layer00_overview.png"));
  // The zoom: the last 48 rows, first and last named.
  EXPECT_THAT(files[1], HasSubstr(absl::StrCat("_layer00_rows", tokens - 48,
                                               "-", tokens - 1, ".png")));
  for (const std::string& file : files) {
    ASSERT_TRUE(fs::exists(file)) << file;
    EXPECT_GT(ReadPng(file).colours, 10u) << file;
  }
}

}  // namespace
}  // namespace tinylm
