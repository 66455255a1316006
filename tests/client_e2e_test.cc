// End to end: the real tinylm-server binary serving the test checkpoints on
// a free port, and the real tinylm binary running every subcommand against
// it, checking output and exit codes; plus the errors a person meets:
// server down, unknown model, invalid arguments, Ctrl-C, timeouts and a
// server that is not serving (the last three against a small in-process
// stand-in server whose behaviour the test controls).
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/numbers.h"
#include "client/exit_codes.h"
#include "client/text/display_width.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client_e2e_util.h"

namespace tinylm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPrompt[] = "彼女が子供の頃に住んでいた、海の見える小さな";

TEST_F(ClientEndToEndTest, ModelsListsEveryCheckpoint) {
  const ProcessResult json = Tinylm({"--json", "models"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json models = Json(json.out);
  ASSERT_TRUE(models.is_array()) << json.out;
  std::vector<std::string> names;
  for (const auto& m : models) {
    names.push_back(m["name"]);
    EXPECT_EQ(m["checkpoint_sha256"].get<std::string>().size(), 64u);
    EXPECT_GT(m["dims"]["n_layer"].get<int>(), 0);
    // uint64 as the proto3 JSON mapping has it: a decimal string.
    ASSERT_TRUE(m["parameters"].is_string()) << m["parameters"];
    EXPECT_GT(std::stoull(m["parameters"].get<std::string>()), 0u);
  }
  EXPECT_EQ(names, ModelNames());

  const ProcessResult text = Tinylm({"models"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, StartsWith("name "));
  for (const std::string& name : ModelNames()) {
    EXPECT_THAT(text.out, HasSubstr(name));
  }
}

TEST_F(ClientEndToEndTest, HealthIsServingForTheServerAndEachModel) {
  const ProcessResult server = Tinylm({"health"});
  EXPECT_EQ(server.exit_code, 0) << server.err;
  EXPECT_EQ(server.out, "SERVING\n");
  const ProcessResult model = Tinylm({"--model=" + Model(), "health"});
  EXPECT_EQ(model.exit_code, 0) << model.err;
  const ProcessResult json = Tinylm({"--json", "health"});
  EXPECT_EQ(Json(json.out)["status"], "SERVING");
}

TEST_F(ClientEndToEndTest, GenerateStreamsTheContinuationAfterThePrompt) {
  const std::vector<std::string> greedy = {
      "--model=" + Model(), "--temperature=0", "--max_new_tokens=8", "generate",
      kPrompt};
  const ProcessResult text = Tinylm(greedy);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  ASSERT_THAT(text.out, StartsWith(kPrompt));
  EXPECT_EQ(text.out.back(), '\n');
  EXPECT_THAT(text.err,
              ::testing::ContainsRegex(
                  R"(\[(length|eos): [0-9]+ prompt \+ [0-9]+ new tokens)"));

  std::vector<std::string> json_args = greedy;
  json_args.insert(json_args.begin(), "--json");
  json_args.insert(json_args.begin(), "--top_n=2");
  const ProcessResult json = Tinylm(json_args);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::string continuation;
  int tokens = 0;
  nlohmann::json summary;
  for (const std::string& line : Lines(json.out)) {
    const nlohmann::json event = Json(line);
    ASSERT_FALSE(event.is_discarded()) << line;
    if (event.contains("token")) {
      EXPECT_TRUE(summary.is_null()) << "token after the summary";
      EXPECT_EQ(event["token"]["index"], tokens++);
      EXPECT_EQ(event["token"]["alternatives"].size(), 2u);
      continuation += event["token"]["text"].get<std::string>();
    } else {
      summary = event["summary"];
    }
  }
  ASSERT_TRUE(summary.is_object()) << json.out;
  EXPECT_EQ(summary["generated_tokens"], tokens);
  EXPECT_GT(tokens, 0);
  // Greedy: the streamed text of both runs is the same.
  EXPECT_EQ(text.out, std::string(kPrompt) + continuation + "\n");
}

TEST_F(ClientEndToEndTest, GenerateWritesItsSeedAsAJsonString) {
  // 2^53 + 1, which a JSON reader holding numbers as doubles would round.
  const ProcessResult r =
      Tinylm({"--model=" + Model(), "--max_new_tokens=1",
              "--seed=9007199254740993", "--json", "generate", kPrompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json summary = Json(Lines(r.out).back())["summary"];
  EXPECT_EQ(summary["seed"], "9007199254740993") << r.out;
}

TEST_F(ClientEndToEndTest, GenerateReadsThePromptFromStdin) {
  const ProcessResult r = Tinylm(
      {"--model=" + Model(), "--max_new_tokens=2", "--seed=7", "generate", "-"},
      std::string(kPrompt) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith(kPrompt));
  EXPECT_THAT(r.err, HasSubstr("seed 7"));
}

TEST_F(ClientEndToEndTest, TopKPrintsTheArticlesForm) {
  const ProcessResult r = Tinylm({"--model=" + Model(), "topk", kPrompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  const std::regex form(R"(p:([01]\.\d\d), .+)");
  double previous = 1.0;
  for (const std::string& line : lines) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, form)) << line;
    double p;
    ASSERT_TRUE(absl::SimpleAtod(match[1].str(), &p));
    EXPECT_LE(p, previous);
    previous = p;
  }

  const ProcessResult three =
      Tinylm({"--model=" + Model(), "--k=3", "--json", "topk", kPrompt});
  ASSERT_EQ(three.exit_code, 0) << three.err;
  const nlohmann::json json = Json(three.out);
  ASSERT_EQ(json["tokens"].size(), 3u) << three.out;
  EXPECT_GT(json["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(lines[0].substr(lines[0].find(", ") + 2),
            EscapeControls(json["tokens"][0]["piece"].get<std::string>()));
}

TEST_F(ClientEndToEndTest, TokenizeShowsIdsAndPieces) {
  const ProcessResult json =
      Tinylm({"--model=" + Model(), "--json", "tokenize", kPrompt});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json tokens = Json(json.out);
  ASSERT_GT(tokens["ids"].size(), 0u);
  EXPECT_EQ(tokens["ids"].size(), tokens["pieces"].size());
  const ProcessResult text =
      Tinylm({"--model=" + Model(), "tokenize", kPrompt});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out,
              HasSubstr(std::to_string(tokens["ids"].size()) + " tokens\n"));
}

TEST_F(ClientEndToEndTest, AttentionWritesAPictureForEachLayerAndExports) {
  const std::string dir = Scratch("attention");
  const ProcessResult r = Tinylm({"--model=" + Model(), "--out=" + dir, "--csv",
                                  "--json", "attention", kPrompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int layers = Info(Model())["dims"]["n_layer"];
  const int heads = Info(Model())["dims"]["n_head"];
  const int tokens = TokenCount(*this, kPrompt);
  std::vector<std::string> pngs, csvs, jsons;
  for (const std::string& file : Lines(r.out)) {
    ASSERT_TRUE(fs::exists(file)) << file;
    const std::string ext = fs::path(file).extension();
    (ext == ".png" ? pngs : ext == ".csv" ? csvs : jsons).push_back(file);
  }
  ASSERT_EQ(int(pngs.size()), layers) << r.out;
  EXPECT_EQ(int(csvs.size()), layers * heads);
  ASSERT_EQ(jsons.size(), 1u);
  for (const std::string& png : pngs) {
    const PngInfo info = ReadPng(png);
    EXPECT_GT(info.width, 100) << png;
    EXPECT_GT(info.height, 100) << png;
    EXPECT_GT(info.colours, 10u) << png;
  }
  // One row and one column per token in the exports.
  std::ifstream csv(csvs[0]);
  std::string header;
  std::getline(csv, header);
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, tokens);
  std::ifstream json_file(jsons[0]);
  std::stringstream json_text;
  json_text << json_file.rdbuf();
  const nlohmann::json json = Json(json_text.str());
  EXPECT_EQ(int(json["tokens"].size()), tokens);
  EXPECT_EQ(int(json["maps"].size()), layers * heads);
  EXPECT_EQ(int(json["maps"][0]["values"].size()), tokens);

  const ProcessResult one =
      Tinylm({"--model=" + Model(), "--out=" + dir, "--layers=0", "--head=0",
              "--continuation_tokens=3", "attention", kPrompt});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.out, ::testing::EndsWith("_layer00_head0.png\n"));
  EXPECT_GT(
      ReadPng(dir + "/attention_" + Model() + "_layer00_head0.png").colours,
      10u);
}

TEST_F(ClientEndToEndTest, AttentionWarnsWhenTheFontIsMissing) {
  const std::string dir = Scratch("font");
  const ProcessResult r =
      Tinylm({"--model=" + Model(), "--out=" + dir, "--layers=0",
              "--font=tinylm no such family", "attention", kPrompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: font \"tinylm no such family\" is "
                               "not installed"));
  EXPECT_GT(ReadPng(Lines(r.out).at(0)).colours, 10u);
}

TEST_F(ClientEndToEndTest, CompareFitsTheTerminalAndDrawsTheLastLayers) {
  const std::string png = Scratch("compare") + "/compare.png";
  const ProcessResult r =
      Tinylm({"--width=100", "--max_new_tokens=6", "--seed=3", "--png=" + png,
              "compare", kPrompt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& line : Lines(r.out)) {
    EXPECT_LE(DisplayWidth(line), 100) << line;
  }
  for (const std::string& name : ModelNames()) {
    EXPECT_THAT(r.out, HasSubstr(name));
  }
  EXPECT_THAT(r.out, HasSubstr("top-5"));
  EXPECT_THAT(r.out, HasSubstr("seed: 3"));
  // The attention entropy of every layer, not just a summary.
  EXPECT_THAT(r.out, HasSubstr("attention entropy (nats) by layer:\nlayer "));
  const int layers = Info(Model())["dims"]["n_layer"];
  for (int layer = 0; layer < layers; ++layer) {
    EXPECT_THAT(r.out, ::testing::ContainsRegex("\n" + std::to_string(layer) +
                                                " +\\| [0-9]+\\."))
        << "layer " << layer;
  }
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\nmean +\\| [0-9]+\\."));
  const PngInfo info = ReadPng(png);
  EXPECT_GT(info.width, info.height);  // the models side by side
  EXPECT_GT(info.colours, 10u);

  const ProcessResult json =
      Tinylm({"--json", "--models=" + ModelNames().back() + "," + Model(),
              "--max_new_tokens=4", "compare", kPrompt});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(Json(json.out)["seed"].is_string()) << json.out;
  const nlohmann::json results = Json(json.out)["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["model"], ModelNames().back());
  EXPECT_EQ(results[1]["top_k"].size(), 5u);
}

TEST_F(ClientEndToEndTest, UnreachableServerIsExitThree) {
  for (const char* command : {"models", "health"}) {
    const ProcessResult r = RunTinylm(
        {"--server=127.0.0.1:" + std::to_string(UnusedPort()), command});
    EXPECT_EQ(r.exit_code, kExitUnreachable) << command << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("cannot reach a tinylm server at 127.0.0.1:"));
  }
}

TEST_F(ClientEndToEndTest, UnknownModelIsExitFour) {
  const ProcessResult topk = Tinylm({"--model=nope", "topk", kPrompt});
  EXPECT_EQ(topk.exit_code, kExitUnknownModel) << topk.err;
  EXPECT_THAT(topk.err, HasSubstr("unknown model"));
  EXPECT_THAT(topk.err, HasSubstr("nope"));
  const ProcessResult compare = Tinylm({"--models=nope", "compare", kPrompt});
  EXPECT_EQ(compare.exit_code, kExitUnknownModel) << compare.err;
  const ProcessResult health = Tinylm({"--model=nope", "health"});
  EXPECT_EQ(health.exit_code, kExitUnknownModel) << health.err;
  EXPECT_THAT(health.err, HasSubstr("nope"));
}

TEST_F(ClientEndToEndTest, InvalidArgumentsAreExitTwo) {
  const std::string model = "--model=" + Model();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{model, "--k=0", "topk", kPrompt}, "k: must be at least 1"},
      {{model, "--temperature=-1", "generate", kPrompt},
       "sampling.temperature"},
      {{model, "--temperature=hot", "generate", kPrompt},
       "--temperature=hot: expected a number"},
      {{model, "topk"}, "missing PROMPT"},
      {{model, "frobnicate"}, "unknown subcommand \"frobnicate\""},
      {{model, "genrate", kPrompt}, "(did you mean generate?)"},
      {{}, "missing SUBCOMMAND"},
      {{"topk", kPrompt}, "which model? give --model=NAME"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = Tinylm(c.args);
    EXPECT_EQ(r.exit_code, kExitInvalidArgument) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(ClientEndToEndTest, HelpListsSubcommandsFlagsAndExitCodes) {
  const ProcessResult r = RunTinylm({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* text :
       {"generate PROMPT", "attention PROMPT", "Exit codes", "130", "--server",
        "--temperature", "--png", "--version"}) {
    EXPECT_THAT(r.out, HasSubstr(text));
  }
}

TEST_F(ClientEndToEndTest, VersionNamesTheReleaseAndCommit) {
  const ProcessResult r = RunTinylm({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.out, ::testing::EndsWith("\n"));
  EXPECT_THAT(r.out.substr(0, r.out.size() - 1),
              ::testing::MatchesRegex(R"(tinylm [0-9]+\.[0-9]+\.[0-9]+ )"
                                      R"(\(commit ([0-9a-f]+|unknown)\))"));
}

TEST_F(ClientEndToEndTest, AMistypedFlagIsExitTwoWithASuggestion) {
  const ProcessResult r = Tinylm({"--modle=" + Model(), "health"});
  EXPECT_EQ(r.exit_code, kExitInvalidArgument) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown flag --modle (did you mean --model?)"));
  EXPECT_EQ(r.out, "");
  const ProcessResult value = Tinylm({"--width=wide", "models"});
  EXPECT_EQ(value.exit_code, kExitInvalidArgument) << value.err;
  EXPECT_THAT(value.err, HasSubstr("--width=wide"));
}

// ---- Against the stand-in server.

TEST_F(StandInServerTest, CtrlCCancelsTheStreamOnTheServer) {
  absl::StatusOr<ChildProcess> client =
      ChildProcess::Start({ClientBinary(), "--server=" + address(), "--model=m",
                           "--echo=false", "generate", "prompt"});
  ASSERT_TRUE(client.ok()) << client.status();
  // The first token is on the terminal: the stream is open.
  ASSERT_TRUE(client->ReadLine(kFirstToken, absl::Minutes(2)).ok());
  const ProcessResult r = client->Signal(SIGINT);
  EXPECT_EQ(r.exit_code, kExitInterrupted) << r.err;
  EXPECT_THAT(r.err, HasSubstr("interrupted (Ctrl-C)"));
  EXPECT_TRUE(WaitForServerCancel()) << "the server never saw the cancel";
}

TEST_F(StandInServerTest, NoAnswerWithinTheTimeoutIsExitFive) {
  const ProcessResult r = RunTinylm({"--server=" + address(), "--model=m",
                                     "--timeout=1s", "generate", "prompt"});
  EXPECT_EQ(r.exit_code, kExitTimeout) << r.err;
  EXPECT_THAT(r.err, HasSubstr("within --timeout=1s"));
}

TEST_F(StandInServerTest, NotServingIsExitSeven) {
  SetServing(false);
  const ProcessResult r = RunTinylm({"--server=" + address(), "health"});
  EXPECT_EQ(r.exit_code, kExitNotServing) << r.err;
  EXPECT_EQ(r.out, "NOT_SERVING\n");
}

}  // namespace
}  // namespace tinylm
