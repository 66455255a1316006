#include "train/metrics_csv.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "train/quote_path.h"
#include "util/quote.h"

namespace tinylm {
namespace {

constexpr char kHeader[] =
    "step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,elapsed_s";

std::string Format(const MetricsRow& r) {
  const std::string val =
      r.val_loss >= 0 ? absl::StrFormat("%.6f", r.val_loss) : "";
  return absl::StrFormat("%d,%d,%.6f,%s,%.6g,%.4f,%.1f,%.3f", r.step, r.tokens,
                         r.loss, val, r.lr, r.grad_norm, r.tokens_per_s,
                         r.elapsed_s);
}

absl::StatusOr<MetricsRow> Parse(const std::string& line,
                                 const std::string& path) {
  std::vector<std::string> cells = absl::StrSplit(line, ',');
  MetricsRow r;
  bool ok = cells.size() == 8 && absl::SimpleAtoi(cells[0], &r.step) &&
            absl::SimpleAtoi(cells[1], &r.tokens) &&
            absl::SimpleAtod(cells[2], &r.loss) &&
            (cells[3].empty() || absl::SimpleAtod(cells[3], &r.val_loss)) &&
            absl::SimpleAtod(cells[4], &r.lr) &&
            absl::SimpleAtod(cells[5], &r.grad_norm) &&
            absl::SimpleAtod(cells[6], &r.tokens_per_s) &&
            absl::SimpleAtod(cells[7], &r.elapsed_s);
  if (!ok) {
    return absl::DataLossError(
        absl::StrCat(QuotePath(path), ": malformed metrics row ", Quote(line)));
  }
  return r;
}

}  // namespace

absl::StatusOr<std::vector<MetricsRow>> ReadMetricsCsv(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(QuotePath(path), ": cannot open"));
  }
  std::vector<MetricsRow> rows;
  std::string line;
  std::getline(in, line);
  if (line != kHeader) {
    return absl::DataLossError(
        absl::StrCat(QuotePath(path), ": not a metrics file"));
  }
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    absl::StatusOr<MetricsRow> row = Parse(line, path);
    if (!row.ok()) return row.status();
    rows.push_back(*row);
  }
  return rows;
}

absl::StatusOr<MetricsCsv> MetricsCsv::Open(const std::string& path,
                                            int64_t keep_until_step) {
  std::vector<MetricsRow> kept;
  if (keep_until_step >= 0) {
    absl::StatusOr<std::vector<MetricsRow>> rows = ReadMetricsCsv(path);
    if (!rows.ok()) return rows.status();
    for (const MetricsRow& r : *rows) {
      if (r.step <= keep_until_step) kept.push_back(r);
    }
  }
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    return absl::InternalError(absl::StrCat(QuotePath(path), ": cannot write"));
  }
  out << kHeader << "\n";
  for (const MetricsRow& r : kept) out << Format(r) << "\n";
  out.flush();
  return MetricsCsv(path, std::move(out));
}

MetricsCsv::MetricsCsv(std::string path, std::ofstream out)
    : path_(std::move(path)), out_(std::move(out)) {}

absl::Status MetricsCsv::Append(const MetricsRow& row) {
  out_ << Format(row) << "\n";
  out_.flush();
  if (!out_) {
    return absl::InternalError(
        absl::StrCat(QuotePath(path_), ": write failed (disk full?)"));
  }
  return absl::OkStatus();
}

}  // namespace tinylm
