#pragma once
// Every string the console shows, in Japanese and English: one catalogue (i18n.cpp).

#include <string_view>

namespace labgate::gateway::console {

/// A console language.
enum class Lang { kJa, kEn };

/// "ja" / "en" (the html lang attribute).
std::string_view code(Lang lang);
/// The language a code names; nullopt-like fallback: kEn for anything but "ja".
Lang parse_lang(std::string_view code, Lang fallback);
/// The first of ja/en an Accept-Language header prefers; Japanese when it names neither, as the
/// centre's staff are Japanese.
Lang from_accept_language(std::string_view header);
/// The text of `key` in `lang`; the key itself when the catalogue lacks it (a test catches that).
std::string_view tr(Lang lang, std::string_view key);
/// True when the catalogue has `key` in both languages.
bool has_key(std::string_view key);

}  // namespace labgate::gateway::console
