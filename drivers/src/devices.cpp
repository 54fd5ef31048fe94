#include "labgate/drivers/devices.hpp"

namespace labgate::drivers {

const char* to_string(CardTechnology t) {
  switch (t) {
    case CardTechnology::kIso14443aUid:
      return "iso14443a";
    case CardTechnology::kFelica:
      return "felica";
    case CardTechnology::kDesfire:
      return "desfire";
  }
  return "unknown";
}

std::optional<CardTechnology> parse_card_technology(const std::string& s) {
  if (s == "iso14443a") return CardTechnology::kIso14443aUid;
  if (s == "felica") return CardTechnology::kFelica;
  if (s == "desfire") return CardTechnology::kDesfire;
  return std::nullopt;
}

std::string to_hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(const std::string& text) {
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : text) {
    if (c == ':' || c == '-' || c == ' ') continue;
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0 || out.empty()) return std::nullopt;
  return out;
}

}  // namespace labgate::drivers
