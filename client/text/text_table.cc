#include "client/text/text_table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/text/display_width.h"

namespace tinylm {
namespace {

constexpr int kDefaultWidth = 100;

std::vector<std::string> Lines(const std::string& cell) {
  return absl::StrSplit(cell, '\n');
}

int NaturalWidth(const std::string& cell) {
  int width = 0;
  for (const std::string& line : Lines(cell)) {
    width = std::max(width, DisplayWidth(line));
  }
  return width;
}

// One table row as wrapped lines per column.
std::vector<std::vector<std::string>> WrapRow(
    const std::vector<std::string>& cells, const std::vector<int>& widths) {
  std::vector<std::vector<std::string>> out;
  for (size_t c = 0; c < widths.size(); ++c) {
    out.push_back(WrapToWidth(cells[c], widths[c]));
  }
  return out;
}

void AppendRow(const std::vector<std::vector<std::string>>& wrapped,
               const std::vector<int>& widths, std::string* out) {
  size_t height = 0;
  for (const auto& lines : wrapped) height = std::max(height, lines.size());
  const auto text = [&](size_t c, size_t i) -> const std::string& {
    static const std::string kEmpty;
    return i < wrapped[c].size() ? wrapped[c][i] : kEmpty;
  };
  for (size_t i = 0; i < height; ++i) {
    // Columns after the last one with text on this line are left out.
    size_t end = widths.size();
    while (end > 1 && text(end - 1, i).empty()) --end;
    std::string line;
    for (size_t c = 0; c < end; ++c) {
      if (c > 0) line += " | ";
      line += PadToWidth(text(c, i), widths[c]);
    }
    // No trailing padding after the last column.
    line.erase(line.find_last_not_of(' ') + 1);
    *out += line + "\n";
  }
}

}  // namespace

int TerminalWidth() {
  int columns = 0;
  if (const char* env = std::getenv("COLUMNS");
      env != nullptr && absl::SimpleAtoi(env, &columns) && columns > 0) {
    return columns;
  }
  winsize size{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 &&
      size.ws_col > 0) {
    return size.ws_col;
  }
  return kDefaultWidth;
}

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)) {}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

std::vector<int> TextTable::ColumnWidths(int max_width) const {
  const int n = header_.size();
  std::vector<int> natural(n);
  for (int c = 0; c < n; ++c) {
    natural[c] = std::max(NaturalWidth(header_[c]), 1);
    for (const auto& row : rows_) {
      natural[c] = std::max(natural[c], NaturalWidth(row[c]));
    }
  }
  int available = max_width - kSeparatorWidth * std::max(n - 1, 0);
  if (std::accumulate(natural.begin(), natural.end(), 0) <= available) {
    return natural;
  }
  // Water-filling: columns narrower than an equal share keep their width,
  // the others split what remains.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return natural[a] < natural[b]; });
  std::vector<int> widths(n);
  for (int i = 0; i < n; ++i) {
    const int c = order[i];
    const int share = std::max(available / (n - i), kMinColumn);
    widths[c] = std::min(natural[c], share);
    available -= widths[c];
  }
  return widths;
}

std::string TextTable::Render(int max_width) const {
  const std::vector<int> widths = ColumnWidths(max_width);
  std::string out;
  AppendRow(WrapRow(header_, widths), widths, &out);
  std::string rule;
  for (size_t c = 0; c < widths.size(); ++c) {
    if (c > 0) rule += "-+-";
    rule.append(widths[c], '-');
  }
  out += rule + "\n";
  for (const auto& row : rows_) AppendRow(WrapRow(row, widths), widths, &out);
  return out;
}

}  // namespace tinylm
