#pragma once
// The one CSV writer of labgate: statements, statement summaries and the ward report.
//
// Output is meant for spreadsheets (Excel in Japan first):
//  - UTF-8 with a byte order mark (bom()), so Excel reads the file as UTF-8;
//  - CRLF record ends and RFC 4180 quoting: a cell holding a comma, a double quote, CR or LF is
//    enclosed in double quotes, with each double quote doubled;
//  - text cells cannot become formulas (CSV injection, OWASP "CSV Injection"): a text cell that
//    begins with '=', '+', '-', '@', a tab or a carriage return gets a leading apostrophe, which
//    makes a spreadsheet show it as text. Number cells are written by number() from integers, so
//    a negative amount stays a number.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace labgate::gateway::csv {

/// The UTF-8 byte order mark that starts every CSV file we write.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

/// True when a spreadsheet could read `text`, as the start of a cell, as a formula: its first
/// character is '=', '+', '-', '@', tab or carriage return.
bool starts_like_formula(std::string_view text);

/// `text` as one CSV text cell: neutralised (leading apostrophe) when starts_like_formula, then
/// quoted when it holds a comma, a double quote, CR or LF.
std::string text_cell(std::string_view text);

/// Appends text_cell(text) to `out` without a temporary string.
void append_text_cell(std::string& out, std::string_view text);

/// Appends the decimal digits of `value` (with '-' when negative) to `out`.
void append_number_cell(std::string& out, std::int64_t value);

/// Writes cells and records into a string it does not own. Cells of one record are separated by
/// commas; end_row() ends the record with CRLF. The writer only appends, so a caller can reuse
/// one buffer for many files (clear() keeps its capacity).
class Writer {
 public:
  /// Appends to `out`, which must outlive the writer.
  explicit Writer(std::string& out) : out_(out) {}

  /// Appends the byte order mark; call first, once per file.
  Writer& bom() {
    out_ += kUtf8Bom;
    return *this;
  }
  /// A text cell (see text_cell): names, notes, ids, dates, explanations.
  Writer& text(std::string_view value) {
    separate();
    append_text_cell(out_, value);
    return *this;
  }
  /// A number cell we computed ourselves: amounts, counts, seconds. Never neutralised.
  Writer& number(std::int64_t value) {
    separate();
    append_number_cell(out_, value);
    return *this;
  }
  /// A number cell, or an empty cell when `value` is unset.
  Writer& number(const std::optional<std::int64_t>& value) {
    separate();
    if (value) append_number_cell(out_, *value);
    return *this;
  }
  /// One cell holding `values` separated by single spaces ("3 7 12"); empty when none.
  Writer& numbers(std::span<const std::int64_t> values);
  /// An empty cell.
  Writer& empty() {
    separate();
    return *this;
  }
  /// A whole record of text cells.
  Writer& row(std::initializer_list<std::string_view> cells);
  /// Ends the current record (CRLF). On a record with no cell this writes an empty line.
  Writer& end_row() {
    out_ += "\r\n";
    first_ = true;
    return *this;
  }

 private:
  void separate() {
    if (!first_) out_ += ',';
    first_ = false;
  }

  std::string& out_;
  bool first_{true};
};

}  // namespace labgate::gateway::csv
