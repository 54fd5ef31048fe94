// text::check and text::visible: what a field may hold, and how stored text is shown.

#include "labgate/gateway/text/text.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace text = labgate::gateway::text;
using text::Field;

TEST_CASE("text: ordinary names, e-mails and notes pass", "[text]") {
  CHECK_FALSE(text::check(Field::kName, "Hanako Yamada"));
  CHECK_FALSE(text::check(Field::kName, "山田 花子"));
  CHECK_FALSE(text::check(Field::kName, "O'Brien-Ōtani"));
  CHECK_FALSE(text::check(Field::kEmail, "hanako@example.jp"));
  CHECK_FALSE(text::check(Field::kNote, "cut\t3 sheets"));  // notes may hold a tab
  CHECK_FALSE(text::check(Field::kName, std::string(200, 'a')));
  CHECK_FALSE(text::check(Field::kName, ""));
}

TEST_CASE("text: control characters are refused with where they are", "[text]") {
  const auto why = text::check(Field::kName, "line1\nline2\r\x1b[31mred");
  REQUIRE(why);
  CHECK(*why ==
        "name: control character U+000A at character 6 (a line break); type it on one "
        "line");
  CHECK(text::check(Field::kName, "a\tb"));  // a tab only where the field allows it
  CHECK(text::check(Field::kReason, "esc \x1b"));
  CHECK(text::check(Field::kItemName, std::string("nul \0 byte", 10)));
  CHECK(text::check(Field::kNote, "del \x7f"));
  // C1 controls (U+0085 NEL, U+009B CSI) are refused too.
  CHECK(text::check(Field::kName, "next\xc2\x85line"));
  CHECK(*text::check(Field::kName, "csi\xc2\x9b") ==
        "name: control character U+009B at character 4; type it on one line");
  // A right-to-left override would make the name display as something else.
  CHECK(text::check(Field::kName,
                    "abc\xe2\x80\xae"
                    "fed"));
}

TEST_CASE("text: invalid UTF-8 and lone surrogates are refused", "[text]") {
  CHECK(*text::check(Field::kName, "ab\xff") == "name: not valid UTF-8 text (byte 3)");
  CHECK(text::check(Field::kName, "\xed\xa0\x80"));  // U+D800, a lone surrogate
  CHECK(text::check(Field::kName, "\xc0\xaf"));      // an overlong '/'
  CHECK(text::check(Field::kName, "\xe3\x81"));      // cut short
}

TEST_CASE("text: lengths are counted in characters", "[text]") {
  std::string kana;
  for (int i = 0; i < 200; ++i) kana += "あ";
  CHECK_FALSE(text::check(Field::kName, kana));
  CHECK(*text::check(Field::kName, kana + "あ") == "name: 201 characters long (at most 200)");
  CHECK(text::check(Field::kEmail, std::string(255, 'a')));
  CHECK_FALSE(text::check(Field::kNote, std::string(1000, 'n')));
  CHECK(text::check(Field::kNote, std::string(1001, 'n')));
  CHECK(text::rule(Field::kReason).max_chars == 500);
}

TEST_CASE("text: visible() shows what a terminal would hide or obey", "[text]") {
  CHECK(text::visible("Hanako 山田") == "Hanako 山田");
  CHECK(text::visible("line1\nline2\r\x1b[31mred") == "line1\\nline2\\r\\x1b[31mred");
  CHECK(text::visible("tab\there") == "tab\\there");
  CHECK(text::visible("a\\nb") == "a\\\\nb");  // a typed backslash cannot forge an escape
  CHECK(text::visible("\xc2\x9b") == "\\u009b");
  CHECK(text::visible("abc\xe2\x80\xae") == "abc\\u202e");
  CHECK(text::visible("ab\xff\xe3\x81") == "ab\\xff\\xe3\\x81");
}

TEST_CASE("text: visible() output is always printable and check() never throws", "[text]") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) s += static_cast<char>(rng() % 256);
    const std::string v = text::visible(s);
    REQUIRE(text::is_valid_utf8(v));
    // Whatever went in, what comes out passes the strictest field's character rules.
    const auto why = text::check(Field::kReason, v.substr(0, 500));
    INFO(v);
    REQUIRE_FALSE(why);
    (void)text::check(Field::kNote, s);
  }
}

TEST_CASE("html_escape leaves no markup in hostile text", "[unit]") {
  CHECK(text::html_escape("<script>alert(\"x\")</script>&") ==
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;");
  CHECK(text::html_escape("plain 日本語") == "plain 日本語");
}
