#include "labgate/drivers/desfire/diversify.hpp"

#include <algorithm>

namespace labgate::drivers::desfire {
namespace {

using Block = AesBlock;

// SP 800-38B subkey step: shift left one bit, fold the carry back with R128 = 0x87.
Block double_block(const Block& in) {
  Block out{};
  for (std::size_t i = 0; i < 16; ++i) {
    out[i] = static_cast<std::uint8_t>(in[i] << 1);
    if (i + 1 < 16) out[i] |= static_cast<std::uint8_t>(in[i + 1] >> 7);
  }
  if (in[0] & 0x80) out[15] ^= 0x87;
  return out;
}

}  // namespace

AesKey diversify_aes128(const AesKey& master, std::span<const std::uint8_t> m) {
  if (m.empty() || m.size() > 31)
    throw DiversifyError("AN10922 diversification input must be 1 to 31 bytes, got " +
                         std::to_string(m.size()));
  // OpenSSL's CMAC pads to the next block only; AN10922 always works on two blocks, so the
  // subkeys are derived here and the final block is masked by hand before the CBC pass.
  const Block l = aes128_ecb_encrypt(master, Block{});
  const Block k1 = double_block(l);
  const Block k2 = double_block(k1);

  std::array<std::uint8_t, 32> d{};
  d[0] = 0x01;
  std::copy(m.begin(), m.end(), d.begin() + 1);
  const std::size_t used = 1 + m.size();
  const bool padded = used < d.size();
  if (padded) d[used] = 0x80;
  const Block& mask = padded ? k2 : k1;
  for (std::size_t i = 0; i < 16; ++i) d[16 + i] ^= mask[i];
  Bytes cipher = aes128_cbc_encrypt(master, Block{}, d);
  AesKey key{};
  std::copy(cipher.end() - 16, cipher.end(), key.begin());
  std::fill(d.begin(), d.end(), std::uint8_t{0});
  std::fill(cipher.begin(), cipher.end(), std::uint8_t{0});
  return key;
}

std::vector<std::uint8_t> diversification_input(std::span<const std::uint8_t> uid,
                                                std::uint32_t aid,
                                                std::span<const std::uint8_t> system_id) {
  if (uid.empty()) throw DiversifyError("diversification needs the card's UID");
  std::vector<std::uint8_t> m(uid.begin(), uid.end());
  m.push_back(static_cast<std::uint8_t>(aid & 0xff));
  m.push_back(static_cast<std::uint8_t>((aid >> 8) & 0xff));
  m.push_back(static_cast<std::uint8_t>((aid >> 16) & 0xff));
  m.insert(m.end(), system_id.begin(), system_id.end());
  if (m.size() > 31) m.resize(31);
  return m;
}

}  // namespace labgate::drivers::desfire
