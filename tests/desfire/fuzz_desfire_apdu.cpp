// libFuzzer target: hostile APDU sequences against the emulated DESFire EV1 card, before and
// after a genuine AES authentication (so the decipher and CMAC paths see garbage too).
// Input: [flags] then frames as [length][bytes...].
#include <cstddef>
#include <cstdint>

#include "labgate/drivers/desfire/crypto.hpp"
#include "labgate/drivers/pn532_emu/desfire_card.hpp"

using labgate::drivers::pn532_emu::DesfireCard;
namespace df = labgate::drivers::desfire;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes rol(const Bytes& b) {
  Bytes out(b.begin() + 1, b.end());
  out.push_back(b[0]);
  return out;
}

// AES application 0x000001 with two zero keys, selected and authenticated with key 0.
void authenticate(DesfireCard& card) {
  (void)card.transceive(Bytes{0xCA, 0x01, 0x00, 0x00, 0x0F, 0x82});
  (void)card.transceive(Bytes{0x5A, 0x01, 0x00, 0x00});
  (void)card.transceive(Bytes{0xCD, 0x01, 0x03, 0x00, 0x00, 0x40, 0x00, 0x00});
  const df::AesKey zero{};
  const Bytes r1 = card.transceive(Bytes{0xAA, 0x00});
  if (r1.size() != 17 || r1[0] != 0xAF) return;
  const Bytes ek(r1.begin() + 1, r1.end());
  df::AesBlock iv{};
  std::copy(ek.begin(), ek.end(), iv.begin());
  const Bytes rnd_b = df::aes128_cbc_decrypt(zero, df::AesBlock{}, ek);
  Bytes token(16, 0x42);
  const Bytes rb = rol(rnd_b);
  token.insert(token.end(), rb.begin(), rb.end());
  Bytes cmd{0xAF};
  const Bytes ct = df::aes128_cbc_encrypt(zero, iv, token);
  cmd.insert(cmd.end(), ct.begin(), ct.end());
  (void)card.transceive(cmd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  DesfireCard card({0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, data[0] & 2, data[0] & 4);
  if (data[0] & 1) authenticate(card);
  std::size_t at = 1;
  while (at < size) {
    const std::size_t n = std::min<std::size_t>(data[at], size - at - 1);
    const Bytes frame(data + at + 1, data + at + 1 + n);
    const Bytes answer = card.transceive(frame);
    if (answer.empty()) __builtin_trap();  // every frame gets at least a status
    at += 1 + n;
  }
  return 0;
}
