// The CSV reader: RFC 4180 quoting, line numbers of multi-line records, BOM, CRLF, UTF-8.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "labgate/gateway/store/import.hpp"

namespace st = labgate::gateway::store;

namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows fields_of(const st::CsvTable& t) {
  Rows out;
  for (const auto& r : t.records) out.push_back(r.fields);
  return out;
}

std::vector<std::int64_t> lines_of(const st::CsvTable& t) {
  std::vector<std::int64_t> out;
  for (const auto& r : t.records) out.push_back(r.line);
  return out;
}

}  // namespace

TEST_CASE("read_csv: quoting table", "[csv]") {
  struct Case {
    const char* name;
    std::string input;
    Rows fields;
  };
  const std::vector<Case> cases = {
      {"plain", "a,b,c\n", {{"a", "b", "c"}}},
      {"no final newline", "a,b", {{"a", "b"}}},
      {"empty fields", ",,\n", {{"", "", ""}}},
      {"trailing comma", "a,\n", {{"a", ""}}},
      {"quoted", "\"a\",\"b\"\n", {{"a", "b"}}},
      {"quoted empty", "\"\",x\n", {{"", "x"}}},
      {"doubled quote", "\"say \"\"hi\"\"\"\n", {{"say \"hi\""}}},
      {"only a doubled quote", "\"\"\"\"\n", {{"\""}}},
      {"embedded comma", "\"Tokyo, Japan\",1\n", {{"Tokyo, Japan", "1"}}},
      {"embedded LF", "\"a\nb\",c\n", {{"a\nb", "c"}}},
      {"embedded CRLF kept", "\"a\r\nb\",c\r\n", {{"a\r\nb", "c"}}},
      {"spaces kept by the reader", " a , b \n", {{" a ", " b "}}},
      {"CRLF records", "a,b\r\nc,d\r\n", {{"a", "b"}, {"c", "d"}}},
      {"lone CR records", "a\rb\r", {{"a"}, {"b"}}},
      {"mixed breaks", "a\r\nb\nc\rd", {{"a"}, {"b"}, {"c"}, {"d"}}},
      {"blank lines skipped", "\n\na\n\r\n\nb\n\n", {{"a"}, {"b"}}},
      {"quoted field at end of file", "a,\"b\"", {{"a", "b"}}},
      {"utf-8 text", "山田,花子\n", {{"山田", "花子"}}},
      {"quoted comma and quote mix", "\"a,\"\"b\"\",c\"\n", {{"a,\"b\",c"}}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto t = st::read_csv(c.input);
      INFO(c.name);
      CHECK(t.errors.empty());
      CHECK(fields_of(t) == c.fields);
      CHECK_FALSE(t.had_bom);
    }
  }
}

TEST_CASE("read_csv: a record's line is the physical line where it starts", "[csv]") {
  SECTION("LF") {
    const auto t = st::read_csv("h1,h2\n\"multi\nline\nname\",x\nnext,y\n\nlast,z\n");
    REQUIRE(t.errors.empty());
    CHECK(lines_of(t) == std::vector<std::int64_t>{1, 2, 5, 7});
    CHECK(t.records[1].fields[0] == "multi\nline\nname");
  }
  SECTION("CRLF inside and between records") {
    const auto t = st::read_csv("h\r\n\"a\r\nb\"\r\nc\r\n");
    REQUIRE(t.errors.empty());
    CHECK(lines_of(t) == std::vector<std::int64_t>{1, 2, 4});
  }
  SECTION("lone CR inside quotes counts as a line") {
    const auto t = st::read_csv("\"a\rb\"\rc\r");
    REQUIRE(t.errors.empty());
    CHECK(lines_of(t) == std::vector<std::int64_t>{1, 3});
  }
  SECTION("two quoted line breaks in one record, two fields") {
    const auto t = st::read_csv("x,y\n\"1\n2\",\"3\n4\"\nz,w\n");
    REQUIRE(t.errors.empty());
    CHECK(lines_of(t) == std::vector<std::int64_t>{1, 2, 5});
  }
}

TEST_CASE("read_csv: BOM", "[csv]") {
  const auto t = st::read_csv("\xEF\xBB\xBFmember_no,name\r\nM1,A\r\n");
  REQUIRE(t.errors.empty());
  CHECK(t.had_bom);
  CHECK(fields_of(t) == Rows{{"member_no", "name"}, {"M1", "A"}});
  CHECK(lines_of(t) == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("read_csv: syntax errors are reported and the reader resumes", "[csv]") {
  SECTION("quote inside an unquoted field") {
    const auto t = st::read_csv("a,b\nx,ab\"c\ny,z\n");
    REQUIRE(t.errors.size() == 1);
    CHECK(t.errors[0].line == 2);
    CHECK_THAT(t.errors[0].reason, Catch::Contains("field 2") && Catch::Contains("quote"));
    CHECK(lines_of(t) == std::vector<std::int64_t>{1, 3});
  }
  SECTION("text after a closing quote") {
    const auto t = st::read_csv("\"ab\"c,d\ne,f\n");
    REQUIRE(t.errors.size() == 1);
    CHECK(t.errors[0].line == 1);
    CHECK_THAT(t.errors[0].reason, Catch::Contains("after the closing quote"));
    CHECK(fields_of(t) == Rows{{"e", "f"}});
  }
  SECTION("space before an opening quote") {
    const auto t = st::read_csv("a, \"b\"\n");
    REQUIRE(t.errors.size() == 1);
    CHECK(t.records.empty());
  }
  SECTION("a quote never closed: reported at the record's first line") {
    const auto t = st::read_csv("h\nok\n\"open\nstill\nopen\n");
    REQUIRE(t.errors.size() == 1);
    CHECK(t.errors[0].line == 3);
    CHECK_THAT(t.errors[0].reason, Catch::Contains("never closed"));
    CHECK(lines_of(t) == std::vector<std::int64_t>{1, 2});
  }
  SECTION("several errors, all reported") {
    const auto t = st::read_csv("h,i\na\"b,c\nd,e\"f\"\ng,h\n");
    REQUIRE(t.errors.size() == 2);
    CHECK(t.errors[0].line == 2);
    CHECK(t.errors[1].line == 3);
    CHECK(fields_of(t) == Rows{{"h", "i"}, {"g", "h"}});
  }
}

TEST_CASE("read_csv: text that is not UTF-8 is refused, never garbled", "[csv]") {
  SECTION("Shift_JIS from Excel") {
    // "member_no,name\nM1,山田\n" with the name in Shift_JIS (山 = 8E 52, 田 = 93 63).
    const std::string sjis = "member_no,name\nM1,\x8E\x52\x93\x63\n";
    const auto t = st::read_csv(sjis);
    REQUIRE(t.errors.size() == 1);
    CHECK(t.errors[0].line == 2);
    CHECK_THAT(t.errors[0].reason, Catch::StartsWith("not UTF-8: save as CSV UTF-8"));
    CHECK(t.records.empty());
  }
  SECTION("UTF-16 with its BOM") {
    const std::string utf16("\xFF\xFEm\0,\0", 6);
    const auto t = st::read_csv(utf16);
    REQUIRE(t.errors.size() == 1);
    CHECK_THAT(t.errors[0].reason, Catch::Contains("not UTF-8"));
    CHECK(t.records.empty());
  }
  SECTION("the line of the first bad byte, after quoted line breaks") {
    const auto t = st::read_csv("a\n\"b\nc\"\nd\xC3\n");
    REQUIRE(t.errors.size() == 1);
    CHECK(t.errors[0].line == 4);
  }
}

TEST_CASE("is_valid_utf8 table", "[csv]") {
  struct Case {
    std::string bytes;
    bool ok;
    std::size_t bad;
  };
  const std::vector<Case> cases = {
      {"", true, 0},
      {"ascii", true, 0},
      {"\xC3\xA9", true, 0},                  // é
      {"\xE5\xB1\xB1\xE7\x94\xB0", true, 0},  // 山田
      {"\xF0\x9F\x98\x80", true, 0},          // emoji
      {"\xEF\xBF\xBF", true, 0},              // U+FFFF
      {"\xF4\x8F\xBF\xBF", true, 0},          // U+10FFFF
      {"a\x80", false, 1},                    // lone continuation
      {"\xC0\xAF", false, 0},                 // overlong '/'
      {"\xC1\xBF", false, 0},                 // overlong
      {"\xE0\x80\xAF", false, 0},             // overlong 3-byte
      {"\xF0\x80\x80\xAF", false, 0},         // overlong 4-byte
      {"\xED\xA0\x80", false, 0},             // surrogate D800
      {"\xF4\x90\x80\x80", false, 0},         // past U+10FFFF
      {"\xF5\x80\x80\x80", false, 0},
      {"ab\xE5\xB1", false, 2},  // truncated at the end
      {"\xE5"
       "a"
       "\xB1",
       false, 0},
      {"\xFF", false, 0},
  };
  for (const auto& c : cases) {
    std::size_t bad = 99;
    INFO("case of " << c.bytes.size() << " bytes, expected " << c.ok);
    CHECK(st::is_valid_utf8(c.bytes, &bad) == c.ok);
    if (!c.ok) CHECK(bad == c.bad);
  }
  CHECK(st::utf8_length("山田 花子") == 5);
  CHECK(st::utf8_length("abc") == 3);
}

TEST_CASE("read_csv survives arbitrary bytes", "[csv]") {
  std::mt19937 rng(20261123);
  const std::string alphabet = "ab,\"\r\n \xE5\xB1\xB1\xC3";
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const auto len = rng() % 40;
    for (std::size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    const auto t = st::read_csv(s);
    std::int64_t last = 0;
    for (const auto& r : t.records) {
      CHECK(r.line > last);
      last = r.line;
      CHECK_FALSE(r.fields.empty());
    }
    (void)st::parse_roster(s);
  }
}

TEST_CASE("sha256_hex", "[csv]") {
  CHECK(st::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(st::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
