#include "tools/bench/report.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tinylm {
namespace bench {
namespace {

// NaN (no samples) becomes null, which JSON can carry.
nlohmann::json Number(double value) {
  if (std::isnan(value)) return nullptr;
  return value;
}

std::string Cell(const nlohmann::json& value, const char* format) {
  if (!value.is_number()) return "–";
  return absl::StrFormat(format, value.get<double>());
}

std::string ErrorsCell(const nlohmann::json& errors) {
  if (errors.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [code, count] : errors.items()) {
    parts.push_back(absl::StrCat(code, " ", count.get<int64_t>()));
  }
  return absl::StrJoin(parts, ", ");
}

std::string MetaLine(const nlohmann::json& meta, const char* key,
                     const char* label) {
  if (!meta.contains(key)) return "";
  const nlohmann::json& value = meta[key];
  const std::string text =
      value.is_string() ? value.get<std::string>() : value.dump();
  if (text.empty()) return "";
  return absl::StrCat("- ", label, ": ", text, "\n");
}

}  // namespace

nlohmann::json LatencyJson(const LatencySummary& s) {
  return {{"count", s.count},     {"mean", Number(s.mean)},
          {"min", Number(s.min)}, {"p50", Number(s.p50)},
          {"p90", Number(s.p90)}, {"p99", Number(s.p99)},
          {"max", Number(s.max)}};
}

nlohmann::json RunJson(const std::string& model, int concurrency,
                       const RunStats& stats,
                       const std::map<std::string, int64_t>& warmup_errors) {
  return {
      {"model", model},
      {"concurrency", concurrency},
      {"duration_s", stats.duration_s},
      {"requests", stats.requests},
      {"measured_requests", stats.measured_requests},
      {"output_tokens", stats.output_tokens},
      {"output_tokens_per_s", stats.output_tokens_per_s},
      {"requests_per_s", stats.requests_per_s},
      {"mean_output_tokens", stats.mean_output_tokens},
      {"tokens_per_message", stats.tokens_per_message},
      {"ttft_ms", LatencyJson(stats.ttft_ms)},
      {"itl_ms", LatencyJson(stats.itl_ms)},
      {"total_ms", LatencyJson(stats.total_ms)},
      {"server_ttft_ms", LatencyJson(stats.server_ttft_ms)},
      {"server_queue_ms", LatencyJson(stats.server_queue_ms)},
      {"errors", stats.errors},
      {"warmup_errors", warmup_errors},
      {"finish_reasons", stats.finish_reasons},
  };
}

std::string MarkdownFromJson(const nlohmann::json& report) {
  const nlohmann::json& meta = report.value("meta", nlohmann::json::object());
  std::string out = "## tinylm-bench results\n\n";
  absl::StrAppend(&out, MetaLine(meta, "date", "date (UTC)"),
                  MetaLine(meta, "label", "hardware / label"),
                  MetaLine(meta, "commit", "commit"),
                  MetaLine(meta, "server", "server"),
                  MetaLine(meta, "client_host", "client host"),
                  MetaLine(meta, "settings", "settings"), "\n");
  const nlohmann::json& models =
      report.value("models", nlohmann::json::object());
  const nlohmann::json& results =
      report.value("results", nlohmann::json::array());
  for (const auto& [name, facts] : models.items()) {
    absl::StrAppend(&out, "### ", name, " (",
                    facts.value("device", std::string("?")), ", ",
                    facts.value("dtype", std::string("?")), ", max_batch ",
                    facts.value("max_batch", 0), ")\n\n");
    out +=
        "| concurrency | requests/s | output tokens/s | TTFT p50 ms | "
        "TTFT p99 ms | ITL p50 ms | ITL p99 ms | tokens/request | errors |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for (const nlohmann::json& r : results) {
      if (r.value("model", std::string()) != name) continue;
      absl::StrAppend(&out, "| ", r.value("concurrency", 0), " | ",
                      Cell(r["requests_per_s"], "%.2f"), " | ",
                      Cell(r["output_tokens_per_s"], "%.1f"), " | ",
                      Cell(r["ttft_ms"]["p50"], "%.2f"), " | ",
                      Cell(r["ttft_ms"]["p99"], "%.2f"), " | ",
                      Cell(r["itl_ms"]["p50"], "%.3f"), " | ",
                      Cell(r["itl_ms"]["p99"], "%.3f"), " | ",
                      Cell(r["mean_output_tokens"], "%.1f"), " | ",
                      ErrorsCell(r.value("errors", nlohmann::json::object())),
                      " |\n");
    }
    out += "\n";
  }
  return out;
}

}  // namespace bench
}  // namespace tinylm
