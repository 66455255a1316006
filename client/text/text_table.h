// Plain-text tables for the terminal, sized by display width (CJK
// characters take two columns) and squeezed to fit a given width by
// wrapping cell text.
#ifndef TINYLM_CLIENT_TEXT_TEXT_TABLE_H_
#define TINYLM_CLIENT_TEXT_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace tinylm {

// Columns of a terminal: $COLUMNS, else the size of the terminal on stdout,
// else 100 (output to a pipe or file).
int TerminalWidth();

// A table with a header row. Cells may hold several lines ('\n'). Not
// thread-safe.
//
//   name | variant
//   -----+--------
//   a    | base
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);

  // A row with as many cells as the header has (missing cells are empty,
  // extra ones are dropped).
  void AddRow(std::vector<std::string> cells);

  // The widths columns get within `max_width` columns in total: each its
  // natural width (its widest line) when everything fits, else the narrow
  // columns keep theirs and the wide ones share what is left (at least
  // kMinColumn each, so a very narrow terminal may still overflow).
  std::vector<int> ColumnWidths(int max_width) const;

  // The table, every line ending in '\n', no line wider than `max_width`
  // unless even kMinColumn-wide columns cannot fit.
  std::string Render(int max_width) const;

  static constexpr int kMinColumn = 6;
  static constexpr int kSeparatorWidth = 3;  // " | "

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace tinylm

#endif  // TINYLM_CLIENT_TEXT_TEXT_TABLE_H_
