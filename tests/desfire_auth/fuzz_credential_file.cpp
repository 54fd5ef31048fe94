// libFuzzer target: whatever a card returns as its credential file goes through the parser and
// the MAC check; a forged file must never both parse and verify, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "labgate/drivers/desfire/credential_file.hpp"

using namespace labgate::drivers::desfire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const AesKey kMac{0x6c, 0x61, 0x62, 0x67, 0x61, 0x74, 0x65, 0x2d,
                           0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79};
  const ByteView in(data, size);
  // The first 7 bytes (when present) play the card's UID, the rest its file.
  const ByteView uid = in.first(size < 7 ? size : 7);
  const ByteView file = in.subspan(uid.size());
  std::string why;
  auto record = parse_credential_file(file, why);
  const bool mac = credential_file_mac_ok(file, uid, kMac);
  if (record && mac) {
    // Only a file this key wrote verifies: re-encoding must reproduce it exactly.
    const Bytes again = encode_credential_file(*record, uid, kMac);
    if (Bytes(file.begin(), file.end()) != again) std::abort();
  }
  if (!record && why.empty()) std::abort();
  return 0;
}
