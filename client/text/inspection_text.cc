#include "client/text/inspection_text.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/text/display_width.h"

namespace tinylm {

TextTable LensTable(const v1::LensPosition& position) {
  std::vector<std::string> header = {"layer"};
  const int k = position.layers().empty()
                    ? 0
                    : position.layers(0).tokens_size();
  for (int i = 1; i <= k; ++i) header.push_back(absl::StrCat(i));
  header.push_back("KL");
  TextTable table(header);
  for (const v1::LensLayer& layer : position.layers()) {
    std::vector<std::string> row = {
        layer.layer() < 0 ? "emb" : absl::StrCat(layer.layer())};
    for (const v1::TokenProbability& t : layer.tokens()) {
      row.push_back(absl::StrFormat("%.2f %s", t.probability(),
                                    EscapeControls(t.piece())));
    }
    row.push_back(absl::StrFormat("%.2f", layer.kl_from_final()));
    table.AddRow(std::move(row));
  }
  return table;
}

TextTable StatsTable(
    const google::protobuf::RepeatedPtrField<v1::HeadAttentionStats>& stats) {
  TextTable table({"layer", "head", "entropy", "first token", "distance",
                   "diagonal"});
  for (const v1::HeadAttentionStats& s : stats) {
    table.AddRow({absl::StrCat(s.layer()), absl::StrCat(s.head()),
                  absl::StrFormat("%.2f", s.entropy()),
                  absl::StrFormat("%.2f", s.first_token_mass()),
                  absl::StrFormat("%.2f", s.mean_distance()),
                  absl::StrFormat("%.2f", s.diagonal_mass())});
  }
  return table;
}

TextTable ScoreTable(const v1::ScoreResponse& response) {
  std::vector<std::string> header = {"#", "token"};
  for (const v1::ModelScore& r : response.results()) {
    header.push_back(r.model());
  }
  header.push_back("best");
  TextTable table(header);
  for (const v1::TokenComparison& c : response.comparison()) {
    const v1::TokenScore& token = response.results(0).tokens(c.position());
    std::vector<std::string> row = {absl::StrCat(c.position()),
                                    EscapeControls(token.piece())};
    for (float logprob : c.logprobs()) {
      row.push_back(absl::StrFormat("%.2f", -logprob));
    }
    row.push_back(response.results(c.best()).model());
    table.AddRow(std::move(row));
  }
  return table;
}

nlohmann::json StatsJson(
    const google::protobuf::RepeatedPtrField<v1::HeadAttentionStats>& stats) {
  nlohmann::json out = nlohmann::json::array();
  for (const v1::HeadAttentionStats& s : stats) {
    nlohmann::json top = nlohmann::json::array();
    for (const v1::QueryTopKeys& q : s.top_keys()) {
      top.push_back(
          {{"query", q.query()},
           {"keys", std::vector<uint32_t>(q.keys().begin(), q.keys().end())},
           {"weights",
            std::vector<float>(q.weights().begin(), q.weights().end())}});
    }
    nlohmann::json head = {{"layer", s.layer()},
                           {"head", s.head()},
                           {"entropy", s.entropy()},
                           {"first_token_mass", s.first_token_mass()},
                           {"mean_distance", s.mean_distance()},
                           {"diagonal_mass", s.diagonal_mass()}};
    if (!top.empty()) head["top_keys"] = top;
    out.push_back(head);
  }
  return out;
}

}  // namespace tinylm
