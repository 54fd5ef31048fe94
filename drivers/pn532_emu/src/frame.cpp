#include "labgate/drivers/pn532_emu/frame.hpp"

#include <algorithm>

namespace labgate::drivers::pn532_emu {

const char* to_string(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kNeedMore:
      return "need-more";
    case DecodeStatus::kAck:
      return "ack";
    case DecodeStatus::kNack:
      return "nack";
    case DecodeStatus::kErrorFrame:
      return "error-frame";
    case DecodeStatus::kFrame:
      return "frame";
    case DecodeStatus::kBadLength:
      return "bad-length";
    case DecodeStatus::kBadChecksum:
      return "bad-checksum";
    case DecodeStatus::kBadPostamble:
      return "bad-postamble";
  }
  return "unknown";
}

DecodeResult decode_frame(std::span<const std::uint8_t> b) {
  DecodeResult r;
  // Find the start code; everything in front of it is preamble or line noise.
  std::size_t start = 0;
  while (start + 1 < b.size() && !(b[start] == 0x00 && b[start + 1] == 0xFF)) ++start;
  if (start + 1 >= b.size()) {
    // Keep a trailing 00 that may be the first half of a start code.
    r.consumed = (!b.empty() && b.back() == 0x00) ? b.size() - 1 : b.size();
    return r;
  }
  const std::size_t p = start + 2;  // first byte after 00 FF
  auto need = [&](std::size_t n) { return p + n <= b.size(); };
  auto skip_start_code = [&](DecodeStatus s) {
    r.status = s;
    r.consumed = p;  // resynchronise on the next start code
    return r;
  };
  if (!need(2)) {
    r.consumed = start;
    return r;
  }
  const std::uint8_t len = b[p];
  const std::uint8_t lcs = b[p + 1];
  if (len == 0x00 && lcs == 0xFF) {
    r.status = DecodeStatus::kAck;
    r.consumed = p + 2 + ((need(3) && b[p + 2] == 0x00) ? 1 : 0);
    return r;
  }
  if (len == 0xFF && lcs == 0x00) {
    r.status = DecodeStatus::kNack;
    r.consumed = p + 2 + ((need(3) && b[p + 2] == 0x00) ? 1 : 0);
    return r;
  }
  std::size_t body_len = 0;    // TFI + data
  std::size_t body_start = 0;  // index of TFI
  if (len == 0xFF && lcs == 0xFF) {
    if (!need(5)) {
      r.consumed = start;
      return r;
    }
    const std::uint8_t lm = b[p + 2];
    const std::uint8_t ll = b[p + 3];
    const std::uint8_t xlcs = b[p + 4];
    if (static_cast<std::uint8_t>(lm + ll + xlcs) != 0)
      return skip_start_code(DecodeStatus::kBadLength);
    body_len = static_cast<std::size_t>(lm) << 8 | ll;
    body_start = p + 5;
  } else {
    if (static_cast<std::uint8_t>(len + lcs) != 0) return skip_start_code(DecodeStatus::kBadLength);
    body_len = len;
    body_start = p + 2;
  }
  if (body_len == 0 || body_len > kMaxFrameData + 1)
    return skip_start_code(DecodeStatus::kBadLength);
  if (body_start + body_len + 2 > b.size()) {
    r.consumed = start;
    return r;
  }
  std::uint8_t sum = 0;
  for (std::size_t i = 0; i < body_len; ++i)
    sum = static_cast<std::uint8_t>(sum + b[body_start + i]);
  const std::uint8_t dcs = b[body_start + body_len];
  const std::uint8_t post = b[body_start + body_len + 1];
  if (static_cast<std::uint8_t>(sum + dcs) != 0) {
    r.status = DecodeStatus::kBadChecksum;
    r.consumed = body_start + body_len + 1;
    return r;
  }
  if (post != 0x00) {
    r.status = DecodeStatus::kBadPostamble;
    r.consumed = body_start + body_len + 1;
    return r;
  }
  r.consumed = body_start + body_len + 2;
  // The syntax error frame 00 00 FF 01 FF 7F 81 00 is well formed with the pseudo-TFI 7F.
  if (body_len == 1 && b[body_start] == 0x7F) {
    r.status = DecodeStatus::kErrorFrame;
    return r;
  }
  r.status = DecodeStatus::kFrame;
  r.tfi = b[body_start];
  r.data.assign(b.begin() + static_cast<std::ptrdiff_t>(body_start + 1),
                b.begin() + static_cast<std::ptrdiff_t>(body_start + body_len));
  return r;
}

std::vector<std::uint8_t> encode_frame(std::uint8_t tfi, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> out;
  out.reserve(data.size() + 12);
  out.push_back(0x00);
  out.push_back(0x00);
  out.push_back(0xFF);
  const std::size_t body = data.size() + 1;
  if (body <= 0xFF - 1) {
    out.push_back(static_cast<std::uint8_t>(body));
    out.push_back(static_cast<std::uint8_t>(0x100 - body));
  } else {
    const auto lm = static_cast<std::uint8_t>(body >> 8);
    const auto ll = static_cast<std::uint8_t>(body & 0xFF);
    out.push_back(0xFF);
    out.push_back(0xFF);
    out.push_back(lm);
    out.push_back(ll);
    out.push_back(static_cast<std::uint8_t>(0x100 - ((lm + ll) & 0xFF)));
  }
  std::uint8_t sum = tfi;
  out.push_back(tfi);
  for (auto v : data) {
    out.push_back(v);
    sum = static_cast<std::uint8_t>(sum + v);
  }
  out.push_back(static_cast<std::uint8_t>(0x100 - sum));
  out.push_back(0x00);
  return out;
}

std::vector<std::uint8_t> ack_frame() {
  return {0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00};
}
std::vector<std::uint8_t> nack_frame() {
  return {0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00};
}
std::vector<std::uint8_t> error_frame() {
  return {0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00};
}

void FrameDecoder::feed(std::span<const std::uint8_t> bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

DecodeResult FrameDecoder::next() {
  DecodeResult r = decode_frame(buffer_);
  const std::size_t n = std::min(r.consumed, buffer_.size());
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
  return r;
}

std::string hex_dump(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) out.push_back(' ');
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace labgate::drivers::pn532_emu
