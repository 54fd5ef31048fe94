#pragma once
// One validator for every text field staff or members type (names, e-mails, notes, reasons,
// item names), used by every entry point, and one way to show stored text in a terminal or a
// log. Stored text is what reaches terminals, logs, CSV files and the console later, so what it
// may hold is decided once, here:
//   - well-formed UTF-8 only (no overlong forms, no surrogates, nothing past U+10FFFF);
//   - no C0 control (U+0000-U+001F), DEL or C1 control (U+0080-U+009F); tab only in fields
//     that allow it (notes);
//   - no bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069), which make a
//     name display as something else;
//   - at most the field's length, counted in characters (code points).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace labgate::gateway::text {

/// The kinds of text field. Each has a documented maximum length (see rule()).
enum class Field {
  kName,      ///< a person's or a plan's name: 200 characters
  kEmail,     ///< an e-mail address: 254 characters
  kNote,      ///< a free note (sales, reviews, inspections): 1000 characters, tab allowed
  kReason,    ///< why staff did something (lockout, refund, revocation): 500 characters
  kItemName,  ///< an item or price name, a machine's name: 200 characters
};

/// What a field accepts.
struct FieldRule {
  const char* label;      ///< "name", "e-mail", ... for messages
  std::size_t max_chars;  ///< longest value, in code points
  bool tab;               ///< a tab may appear
};

/// The rule of `field`.
FieldRule rule(Field field);

/// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF). `bad_offset`, when given, receives the offset of the first bad byte.
bool is_valid_utf8(std::string_view bytes, std::size_t* bad_offset = nullptr);

/// Number of Unicode code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view text);

/// Why `value` may not be stored in `field` (naming the field, the problem and where it is), or
/// nullopt when it may.
std::optional<std::string> check(Field field, std::string_view value);

/// `value` made safe to print on a terminal or in a log line: controls, DEL, C1 controls and
/// bidirectional overrides become visible escapes (`\n`, `\t`, `\x1b`, `\u202e`), invalid UTF-8
/// bytes become `\xNN`, and a backslash is doubled so the escapes cannot be forged. Valid text
/// without such characters comes back unchanged.
std::string visible(std::string_view value);

/// `value` for HTML element content or a double-quoted attribute: & < > " become entities.
std::string html_escape(std::string_view value);

}  // namespace labgate::gateway::text
