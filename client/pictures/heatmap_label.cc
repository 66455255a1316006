// HeatmapLabel and the runs a label is drawn in (heatmap_internal.h).
#include "client/pictures/font_check.h"
#include "client/pictures/heatmap.h"
#include "client/pictures/heatmap_internal.h"
#include "client/text/display_width.h"

namespace tinylm {
namespace {

// The marks HeatmapLabel puts in (and the cut's "…"): symbols, which stand
// upright in a vertical label where letters turn; a turned "→" would read
// as "↓".
bool IsLabelMark(char32_t c) {
  return c == U'␣' || c == U'↵' || c == U'→' || c == U'∅' || c == U'…' ||
         c == 0xFFFD;
}

}  // namespace

std::string HeatmapLabel(absl::string_view piece) {
  if (piece.empty()) return "∅";
  std::string label;
  for (size_t pos = 0; pos < piece.size();) {
    const size_t start = pos;
    const char32_t c = NextCodePoint(piece, &pos);
    if (c == ' ' || c == U'▁') {
      label += "␣";
    } else if (c == '\n') {
      label += "↵";
    } else if (c == '\t') {
      label += "→";
    } else if (c < 0x20 || c == 0x7F) {
      // Caret notation, as terminals show them: ^[ for ESC, ^? for DEL.
      label += '^';
      label += static_cast<char>(c ^ 0x40);
    } else if (c == 0xFFFD) {
      label += "\uFFFD";  // also for bytes that are not UTF-8: cairo needs it
    } else {
      label.append(piece.data() + start, pos - start);
    }
  }
  return TruncateToWidth(label, kMaxLabelColumns);
}

namespace heatmap_internal {

std::vector<LabelRun> LabelRuns(const std::string& label,
                                const std::string& family) {
  std::vector<LabelRun> runs;
  for (size_t pos = 0; pos < label.size();) {
    const size_t start = pos;
    const char32_t c = NextCodePoint(label, &pos);
    const bool upright = CodePointWidth(c) == 2 || IsLabelMark(c);
    std::string run_family = FamilyWithGlyph(family, c);
    const std::string text = label.substr(start, pos - start);
    if (!upright && !runs.empty() && !runs.back().upright &&
        runs.back().family == run_family) {
      runs.back().text += text;
    } else {
      runs.push_back({text, std::move(run_family), upright});
    }
  }
  return runs;
}

std::vector<std::vector<LabelRun>> PanelLabels(const HeatmapPanel& panel,
                                               const std::string& family) {
  std::vector<std::vector<LabelRun>> labels;
  for (const std::string& piece : panel.labels) {
    labels.push_back(LabelRuns(HeatmapLabel(piece), family));
  }
  return labels;
}

double RunsWidth(cairo_t* cr, const std::vector<LabelRun>& runs, double size) {
  double width = 0;
  for (const LabelRun& run : runs) {
    SetFont(cr, run.family, size);
    width += TextWidth(cr, run.text);
  }
  return width;
}

void ShowRuns(cairo_t* cr, double x, double baseline,
              const std::vector<LabelRun>& runs, double size) {
  cairo_move_to(cr, x, baseline);
  for (const LabelRun& run : runs) {
    SetFont(cr, run.family, size);
    cairo_show_text(cr, run.text.c_str());  // moves the point past the run
  }
}

double VerticalExtent(cairo_t* cr, const std::vector<LabelRun>& runs,
                      double size) {
  double extent = 0;
  for (const LabelRun& run : runs) {
    SetFont(cr, run.family, size);
    extent += run.upright ? size : TextWidth(cr, run.text);
  }
  return extent;
}

}  // namespace heatmap_internal
}  // namespace tinylm
