// tinylm attention PROMPT: streams the attention maps (StreamAttentionMaps,
// so that full-context maps of every layer need no raised message bound)
// and writes one PNG heatmap per layer (the heads side by side, or --head
// alone) into --out, plus the raw matrices as CSV (--csv) or one JSON file
// (--json). A map too long to label token by token (more than
// kLabelledTokens), or --rows=A:B (only those query rows are fetched),
// becomes an overview of the whole map and a labelled zoom on a query
// range: the last kZoomRows rows, or --rows (at most kZoomRows of them).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/command.h"
#include "client/pictures/attention_overview.h"
#include "client/pictures/attention_picture.h"
#include "client/text/json_output.h"

namespace tinylm {
namespace {

constexpr size_t kLabelledTokens = 64;
constexpr size_t kZoomRows = 48;

// `name` made safe for a file name (letters, digits, '-', '_', '.').
std::string FileSafe(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                      c == '_' || c == '.';
    out += keep ? c : '_';
  }
  return out.empty() ? "model" : out;
}

// Creates `dir` (and parents) when missing.
absl::Status MakeDirectory(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create the output directory ", dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

// Writes `content` to `path` (replacing it).
absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
  file.close();
  if (!file) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

v1::AttentionMapsRequest MakeRequest(const CliOptions& o,
                                     const std::string& model) {
  v1::AttentionMapsRequest request;
  request.set_model(model);
  request.set_continuation_tokens(o.continuation_tokens);
  // Unset sampling means a greedy continuation; send it only when asked.
  if (o.sampling.any_set())
    FillSampling(o.sampling, request.mutable_sampling());
  for (uint32_t layer : o.layers) request.add_layers(layer);
  if (o.head) request.add_heads(*o.head);
  if (o.rows) {
    request.set_row_begin(o.rows->first);
    request.set_row_end(o.rows->second);
  }
  request.set_dtype(o.fp16 ? v1::TENSOR_DTYPE_FLOAT16
                           : v1::TENSOR_DTYPE_FLOAT32);
  return request;
}

std::string Title(const AttentionSet& set, uint32_t layer,
                  const std::string& prompt) {
  std::string title =
      absl::StrCat(set.model, " — layer ", layer, " — ", ShortPrompt(prompt));
  const size_t generated = set.tokens.size() - set.prompt_tokens;
  if (generated > 0) {
    absl::StrAppend(&title, " (+", generated, " generated)");
  }
  return title;
}

std::string LayerFile(const AttentionSet& set, const CliOptions& o,
                      uint32_t layer, const std::string& suffix) {
  std::string name =
      absl::StrFormat("attention_%s_layer%02d", FileSafe(set.model), layer);
  if (o.head) absl::StrAppend(&name, "_head", *o.head);
  return (std::filesystem::path(o.out_dir) / (name + suffix + ".png")).string();
}

// Per layer, the overview of every fetched row and the zoom on the rows
// [begin, end); returns the files written.
absl::StatusOr<std::vector<std::string>> WriteOverviews(
    const AttentionSet& set, const CliOptions& o, const std::string& prompt,
    const std::string& font) {
  const AttentionMatrix& first = set.maps.front();
  const size_t fetched_end = first.row_begin + first.rows;
  const size_t end =
      o.rows ? std::min<size_t>(o.rows->second, fetched_end) : fetched_end;
  const size_t begin =
      std::max<size_t>(first.row_begin, end > kZoomRows ? end - kZoomRows : 0);
  std::map<uint32_t, std::vector<const AttentionMatrix*>> by_layer;
  for (const AttentionMatrix& m : set.maps) by_layer[m.layer].push_back(&m);
  std::vector<std::string> files;
  for (const auto& [layer, maps] : by_layer) {
    OverviewSpec overview;
    // The count first: a long title is cut at the picture's edge.
    overview.title =
        absl::StrCat(set.model, " — layer ", layer, " — ", set.tokens.size(),
                     " tokens — ", ShortPrompt(prompt));
    overview.font_family = font;
    HeatmapSpec zoom;
    zoom.title = absl::StrCat(Title(set, layer, prompt), " — rows ", begin,
                              "..", end - 1);
    zoom.font_family = font;
    zoom.columns = 4;
    for (const AttentionMatrix* m : maps) {
      const std::string head = absl::StrCat("head ", m->head);
      overview.panels.push_back({head, m->values, m->rows, set.tokens.size(),
                                 m->row_begin, set.prompt_tokens, begin, end});
      zoom.panels.push_back(ZoomPanel(set, *m, begin, end, head));
    }
    files.push_back(LayerFile(set, o, layer, "_overview"));
    if (absl::Status s = WriteOverviewPng(overview, files.back()); !s.ok()) {
      return s;
    }
    files.push_back(
        LayerFile(set, o, layer, absl::StrCat("_rows", begin, "-", end - 1)));
    absl::StatusOr<HeatmapLayout> layout = WriteHeatmapPng(zoom, files.back());
    if (!layout.ok()) return layout.status();
  }
  return files;
}

// One PNG per layer; returns the files written.
absl::StatusOr<std::vector<std::string>> WritePictures(
    const AttentionSet& set, const CliOptions& o, const std::string& prompt,
    const std::string& font) {
  std::map<uint32_t, std::vector<const AttentionMatrix*>> by_layer;
  for (const AttentionMatrix& m : set.maps) by_layer[m.layer].push_back(&m);
  std::vector<std::string> files;
  for (const auto& [layer, maps] : by_layer) {
    HeatmapSpec spec;
    spec.title = Title(set, layer, prompt);
    spec.font_family = font;
    spec.columns = 4;
    for (const AttentionMatrix* m : maps) {
      spec.panels.push_back(MakePanel(set, *m, absl::StrCat("head ", m->head)));
    }
    const std::string path = LayerFile(set, o, layer, "");
    absl::StatusOr<HeatmapLayout> layout = WriteHeatmapPng(spec, path);
    if (!layout.ok()) return layout.status();
    files.push_back(path);
  }
  return files;
}

absl::StatusOr<std::vector<std::string>> WriteExports(const AttentionSet& set,
                                                      const CliOptions& o) {
  std::vector<std::string> files;
  const std::filesystem::path dir(o.out_dir);
  if (o.csv) {
    for (const AttentionMatrix& m : set.maps) {
      const std::string path =
          (dir / absl::StrFormat("attention_%s_layer%02d_head%d.csv",
                                 FileSafe(set.model), m.layer, m.head))
              .string();
      if (absl::Status s = WriteFile(path, AttentionCsv(set, m)); !s.ok()) {
        return s;
      }
      files.push_back(path);
    }
  }
  if (o.json) {
    const std::string path =
        (dir / absl::StrCat("attention_", FileSafe(set.model), ".json"))
            .string();
    if (absl::Status s = WriteFile(path, DumpJson(AttentionJson(set), -1));
        !s.ok()) {
      return s;
    }
    files.push_back(path);
  }
  return files;
}

}  // namespace

absl::Status RunAttention(CommandContext& context) {
  const CliOptions& o = context.options;
  absl::StatusOr<std::string> model = ResolveModel(context);
  if (!model.ok()) return model.status();
  v1::AttentionMapsRequest request = MakeRequest(o, *model);
  if (absl::Status s = SetPrompt(context, &request); !s.ok()) return s;
  if (absl::Status s = MakeDirectory(o.out_dir); !s.ok()) return s;

  std::vector<v1::AttentionMapsChunk> chunks;
  const absl::Status called =
      Call(context.Settings(), [&](grpc::ClientContext* call) {
        auto reader = context.stub->StreamAttentionMaps(call, request);
        v1::AttentionMapsChunk chunk;
        while (reader->Read(&chunk)) chunks.push_back(std::move(chunk));
        return reader->Finish();
      });
  if (!called.ok()) return called;
  absl::StatusOr<AttentionSet> set = DecodeAttentionStream(*model, chunks);
  if (!set.ok()) return set.status();
  if (set->maps.empty() || set->maps.front().rows == 0) {
    return absl::OutOfRangeError(
        absl::StrCat("no query rows to draw: the sequence has ",
                     set->tokens.size(), " tokens"));
  }

  const std::string prompt = request.has_text()
                                 ? request.text()
                                 : absl::StrCat(set->prompt_tokens, " tokens");
  const bool overview = o.rows || set->tokens.size() > kLabelledTokens;
  absl::StatusOr<std::vector<std::string>> pictures =
      overview ? WriteOverviews(*set, o, prompt, ChooseFont(o.font))
               : WritePictures(*set, o, prompt, ChooseFont(o.font));
  if (!pictures.ok()) return pictures.status();
  absl::StatusOr<std::vector<std::string>> exports = WriteExports(*set, o);
  if (!exports.ok()) return exports.status();
  for (const auto* files : {&*pictures, &*exports}) {
    for (const std::string& file : *files) std::cout << file << "\n";
  }
  std::cout << std::flush;
  return absl::OkStatus();
}

}  // namespace tinylm
