#include "client/text/entropy_table.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tinylm {

std::optional<TextTable> EntropyTable(const v1::CompareResponse& response) {
  std::vector<std::string> header = {"layer"};
  int layers = 0;
  for (const v1::ModelComparison& c : response.results()) {
    header.push_back(c.model());
    layers = std::max(layers, c.attention_entropy_size());
  }
  if (layers == 0) return std::nullopt;
  TextTable table(header);
  for (int layer = 0; layer < layers; ++layer) {
    std::vector<std::string> row = {absl::StrCat(layer)};
    for (const v1::ModelComparison& c : response.results()) {
      row.push_back(layer < c.attention_entropy_size()
                        ? absl::StrFormat("%.2f", c.attention_entropy(layer))
                        : "");
    }
    table.AddRow(std::move(row));
  }
  std::vector<std::string> mean = {"mean"};
  for (const v1::ModelComparison& c : response.results()) {
    const auto& values = c.attention_entropy();
    mean.push_back(
        values.empty()
            ? ""
            : absl::StrFormat(
                  "%.2f", std::accumulate(values.begin(), values.end(), 0.0) /
                              values.size()));
  }
  table.AddRow(std::move(mean));
  return table;
}

}  // namespace tinylm
