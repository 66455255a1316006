#include "train/prepare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"
#include "train/quote_path.h"
#include "train/token_file.h"
#include "util/status_macros.h"
#include "util/utf8.h"

namespace tinylm {
namespace {

// A document: its paragraph lines, in order.
using Document = std::vector<std::string>;

absl::StatusOr<std::vector<Document>> ReadDocuments(
    const std::vector<std::string>& paths, int64_t& chars) {
  std::vector<Document> docs;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat(QuotePath(path), ": cannot open corpus"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    Document doc;
    int64_t line_number = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_number;
      if (!IsValidUtf8(line)) {
        return absl::InvalidArgumentError(
            absl::StrCat(QuotePath(path), ":", line_number,
                         ": not valid UTF-8 (byte offset ",
                         ValidUtf8Prefix(line), " in the line)"));
      }
      if (line.empty()) {
        if (!doc.empty()) docs.push_back(std::move(doc));
        doc.clear();
        continue;
      }
      for (unsigned char c : line) chars += (c & 0xC0) != 0x80;
      doc.emplace_back(line);
    }
    if (!doc.empty()) docs.push_back(std::move(doc));
  }
  if (docs.empty()) {
    return absl::InvalidArgumentError(
        "the corpus is empty: no non-empty line in any input file");
  }
  return docs;
}

// Encodes documents [begin, end) into `out`, one vector per document.
absl::Status EncodeRange(const Tokenizer& tokenizer,
                         const std::vector<Document>& docs, size_t begin,
                         size_t end, const std::vector<int64_t>& newline,
                         std::vector<std::vector<uint16_t>>& out) {
  for (size_t i = begin; i < end; ++i) {
    std::vector<uint16_t>& tokens = out[i];
    for (const std::string& line : docs[i]) {
      TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> ids, tokenizer.Encode(line));
      tokens.insert(tokens.end(), ids.begin(), ids.end());
      tokens.insert(tokens.end(), newline.begin(), newline.end());
    }
    tokens.push_back(static_cast<uint16_t>(tokenizer.eos_id()));
  }
  return absl::OkStatus();
}

// Document i is held out when i % val_every == val_every / 2, so that both
// splits sample the whole corpus.
bool HeldOut(size_t i, int64_t val_every) {
  return i % val_every == size_t(val_every / 2);
}

// The first held-out document is document val_every / 2.
absl::Status CheckSplit(size_t documents, int64_t val_every) {
  if (documents > size_t(val_every / 2)) return absl::OkStatus();
  if (documents < 2) {
    return absl::InvalidArgumentError(
        "the corpus has 1 document; a training and a validation split need "
        "at least 2 (an empty line separates documents)");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the corpus has ", documents, " documents, and --val_every=", val_every,
      " holds none of them out for validation; pass --val_every=",
      2 * documents - 1, " or less"));
}

}  // namespace

absl::Status ValidatePrepareOptions(const PrepareOptions& options) {
  if (options.val_every >= 2) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--val_every=", options.val_every, " must be at least 2"));
}

absl::StatusOr<PrepareSummary> PrepareDataset(const PrepareOptions& options) {
  TINYLM_RETURN_IF_ERROR(ValidatePrepareOptions(options));
  TINYLM_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                          Tokenizer::Load(options.tokenizer_path));
  if (tokenizer->vocab_size() > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary of ", tokenizer->vocab_size(),
                     " does not fit the uint16 token files (at most 65536)"));
  }
  if (tokenizer->eos_id() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        QuotePath(options.tokenizer_path), ": the tokenizer has no EOS"));
  }
  PrepareSummary summary;
  summary.vocab_size = tokenizer->vocab_size();
  TINYLM_ASSIGN_OR_RETURN(std::vector<Document> docs,
                          ReadDocuments(options.inputs, summary.chars));
  TINYLM_RETURN_IF_ERROR(CheckSplit(docs.size(), options.val_every));
  TINYLM_ASSIGN_OR_RETURN(std::vector<int64_t> newline,
                          tokenizer->Encode("\n"));

  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::vector<uint16_t>> encoded(docs.size());
  std::vector<absl::Status> status(threads);
  std::vector<std::thread> workers;
  const size_t chunk = (docs.size() + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const size_t begin = std::min(docs.size(), t * chunk);
    const size_t end = std::min(docs.size(), begin + chunk);
    workers.emplace_back([&, t, begin, end] {
      status[t] = EncodeRange(*tokenizer, docs, begin, end, newline, encoded);
    });
  }
  for (std::thread& w : workers) w.join();
  for (const absl::Status& s : status) TINYLM_RETURN_IF_ERROR(s);

  std::vector<uint16_t> train, val;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const bool held_out = HeldOut(i, options.val_every);
    std::vector<uint16_t>& split = held_out ? val : train;
    split.insert(split.end(), encoded[i].begin(), encoded[i].end());
    summary.val_documents += held_out;
  }
  summary.documents = docs.size();
  summary.train_tokens = train.size();
  summary.val_tokens = val.size();
  const std::string dir = options.out_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(
        QuotePath(dir), ": cannot create directory: ", ec.message()));
  }
  TINYLM_RETURN_IF_ERROR(WriteTokenFile(dir + "/train.bin", train));
  TINYLM_RETURN_IF_ERROR(WriteTokenFile(dir + "/val.bin", val));

  nlohmann::json meta = {
      {"inputs", options.inputs},
      {"tokenizer", options.tokenizer_path},
      {"vocab_size", summary.vocab_size},
      {"documents", summary.documents},
      {"val_documents", summary.val_documents},
      {"chars", summary.chars},
      {"train_tokens", summary.train_tokens},
      {"val_tokens", summary.val_tokens},
  };
  std::ofstream out(dir + "/dataset.json");
  out << meta.dump(2) << "\n";
  if (!out) {
    return absl::InternalError(
        absl::StrCat(QuotePath(dir + "/dataset.json"), ": write failed"));
  }
  return summary;
}

}  // namespace tinylm
