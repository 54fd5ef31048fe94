#pragma once
// PN532 host-interface frame codec (NXP UM0701-02 §6.2). Pure functions without I/O so that unit
// tests and a libFuzzer target can feed them arbitrary bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace labgate::drivers::pn532_emu {

/// Frame identifier byte of a frame sent by the host to the chip.
inline constexpr std::uint8_t kTfiHostToChip = 0xD4;
/// Frame identifier byte of a frame sent by the chip to the host.
inline constexpr std::uint8_t kTfiChipToHost = 0xD5;
/// Largest PD0..PDn payload an extended frame may carry (PN532 buffer: 264 bytes + TFI).
inline constexpr std::size_t kMaxFrameData = 264;

/// What the decoder found at the front of a byte buffer.
enum class DecodeStatus {
  kNeedMore,     ///< no complete frame yet; feed more bytes (junk before 00 FF is consumed)
  kAck,          ///< ACK frame 00 00 FF 00 FF 00
  kNack,         ///< NACK frame 00 00 FF FF 00 00
  kErrorFrame,   ///< application-level syntax error frame 00 00 FF 01 FF 7F 81 00
  kFrame,        ///< information frame (normal or extended); `tfi` and `data` are set
  kBadLength,    ///< LEN/LCS checksum mismatch or impossible length; start code skipped
  kBadChecksum,  ///< DCS mismatch; the frame is skipped
  kBadPostamble  ///< checksums fine but the postamble is not 00; the frame is skipped
};

/// Stable lowercase name of a status, for logs.
const char* to_string(DecodeStatus s);

/// Result of decoding one frame from the front of a buffer.
struct DecodeResult {
  DecodeStatus status{DecodeStatus::kNeedMore};
  std::size_t consumed{0};         ///< bytes to drop from the front of the buffer (junk included)
  std::uint8_t tfi{0};             ///< for kFrame: D4 or D5
  std::vector<std::uint8_t> data;  ///< for kFrame: PD0..PDn (command/response code first)
};

/// Decodes at most one frame from the front of `bytes`. Junk (anything before a 00 FF start code,
/// e.g. the 55 55 00 wake-up preamble) is consumed. Never reads out of bounds; never throws.
DecodeResult decode_frame(std::span<const std::uint8_t> bytes);

/// Encodes an information frame: 00 00 FF LEN LCS TFI data DCS 00; an extended frame
/// (00 00 FF FF FF LENM LENL LCS ...) when data is longer than 254 bytes.
std::vector<std::uint8_t> encode_frame(std::uint8_t tfi, std::span<const std::uint8_t> data);
/// The ACK frame 00 00 FF 00 FF 00.
std::vector<std::uint8_t> ack_frame();
/// The NACK frame 00 00 FF FF 00 00.
std::vector<std::uint8_t> nack_frame();
/// The syntax error frame 00 00 FF 01 FF 7F 81 00.
std::vector<std::uint8_t> error_frame();

/// Incremental decoder over a byte stream: append bytes, then take decoded results.
class FrameDecoder {
 public:
  /// Appends received bytes.
  void feed(std::span<const std::uint8_t> bytes);
  /// Decodes the next frame or error; status kNeedMore when nothing complete is buffered.
  DecodeResult next();
  /// Drops everything buffered.
  void clear() { buffer_.clear(); }
  /// Bytes currently buffered.
  std::size_t buffered() const { return buffer_.size(); }

 private:
  std::vector<std::uint8_t> buffer_;
};

/// Space-separated lowercase hex for logs ("d4 02").
std::string hex_dump(std::span<const std::uint8_t> bytes);

}  // namespace labgate::drivers::pn532_emu
