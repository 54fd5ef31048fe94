#pragma once
// Internal: one DESFire card spoken to in native commands over nfc_initiator_transceive_bytes,
// with the EV1 AES session (three-pass authentication, CMAC-chained IV, enciphered answers).
// Shared by the door (authenticator.cpp) and the desk (issuer.cpp). Every length is checked
// before use; failures throw Failure with a sentence for the log.

#include <nfc/nfc.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <string>

#include "labgate/drivers/desfire/crypto.hpp"

namespace labgate::drivers::desfire::detail {

constexpr std::uint8_t kOk = 0x00;
constexpr std::uint8_t kAdditionalFrame = 0xAF;
constexpr std::size_t kMaxAnswer = 128;  // nothing labgate reads is longer
constexpr int kTimeoutMs = 500;

struct Failure {
  std::string why;
};

inline Bytes rotate_left(const Bytes& b) {
  Bytes r(b.begin() + 1, b.end());
  r.push_back(b.front());
  return r;
}

inline AesBlock block_of(ByteView v) {
  AesBlock b{};
  std::copy_n(v.begin(), b.size(), b.begin());
  return b;
}

// One card: native command frames, additional frames gathered, the EV1 AES session IV kept.
class Exchange {
 public:
  explicit Exchange(nfc_device* dev) : dev_(dev) {}
  ~Exchange() {
    OPENSSL_cleanse(session_key_.data(), session_key_.size());
    OPENSSL_cleanse(iv_.data(), iv_.size());
  }

  // Sends `cmd`; returns the status byte and the data of all frames.
  std::uint8_t raw(const Bytes& cmd, Bytes& data) {
    data.clear();
    Bytes tx = cmd;
    for (;;) {
      std::uint8_t rx[64];
      const int n =
          nfc_initiator_transceive_bytes(dev_, tx.data(), tx.size(), rx, sizeof rx, kTimeoutMs);
      if (n < 0)
        throw Failure{"card stopped answering (removed?): " + std::string(nfc_strerror(dev_))};
      if (n < 1) throw Failure{"empty answer"};
      data.insert(data.end(), rx + 1, rx + n);
      if (data.size() > kMaxAnswer) throw Failure{"answer longer than any labgate reads"};
      if (rx[0] != kAdditionalFrame || authenticating_) return rx[0];
      tx = {kAdditionalFrame};
    }
  }

  // A command outside a session: status must be OK.
  Bytes plain(const Bytes& cmd, const char* what) {
    Bytes data;
    const std::uint8_t st = raw(cmd, data);
    if (st != kOk) throw Failure{std::string(what) + ": card status " + hex_byte(st)};
    return data;
  }

  // AES authentication (three passes) with `key` as key number `key_no`.
  void authenticate(std::uint8_t key_no, const AesKey& key) {
    authenticating_ = true;
    Bytes enc_b;
    std::uint8_t st = raw({0xAA, key_no}, enc_b);
    if (st != kAdditionalFrame || enc_b.size() != 16)
      throw Failure{"authentication refused: status " + hex_byte(st)};
    const Bytes rnd_b = aes128_cbc_decrypt(key, AesBlock{}, enc_b);
    const Bytes rnd_a = random_bytes(16);
    Bytes token = rnd_a;
    const Bytes rot_b = rotate_left(rnd_b);
    token.insert(token.end(), rot_b.begin(), rot_b.end());
    const Bytes enc_token = aes128_cbc_encrypt(key, block_of(enc_b), token);
    Bytes cmd{kAdditionalFrame};
    cmd.insert(cmd.end(), enc_token.begin(), enc_token.end());
    Bytes enc_a;
    st = raw(cmd, enc_a);
    authenticating_ = false;
    if (st != kOk || enc_a.size() != 16)
      throw Failure{"the card refused our proof (wrong key?): status " + hex_byte(st)};
    const Bytes rot_a = aes128_cbc_decrypt(key, block_of(ByteView(enc_token).last(16)), enc_a);
    // The card's proof that it knows the key too: a card replaying a recorded exchange cannot
    // produce it, because RndA is fresh.
    if (CRYPTO_memcmp(rot_a.data(), rotate_left(rnd_a).data(), 16) != 0)
      throw Failure{"the card's answer to our challenge is wrong (not the card's key)"};
    const std::array<std::uint8_t, 16> sk{
        rnd_a[0],  rnd_a[1],  rnd_a[2],  rnd_a[3],  rnd_b[0],  rnd_b[1],  rnd_b[2],  rnd_b[3],
        rnd_a[12], rnd_a[13], rnd_a[14], rnd_a[15], rnd_b[12], rnd_b[13], rnd_b[14], rnd_b[15]};
    session_key_ = sk;
    iv_ = AesBlock{};
    legacy_ = false;
  }

  // Legacy DESFire authentication (0x0A) with a DES/2K3DES key, as a factory PICC master key
  // needs. The card sends E(RndB); the reader answers in "send mode" (C_i = D(P_i ^ C_i-1)),
  // the card proves itself with E(RndA rotated). Afterwards commands and answers are plain
  // except ChangeKey (legacy_change_key).
  void authenticate_des(std::uint8_t key_no, const TdesKey& key) {
    authenticating_ = true;
    Bytes enc_b;
    std::uint8_t st = raw({0x0A, key_no}, enc_b);
    if (st != kAdditionalFrame || enc_b.size() != 8)
      throw Failure{"DES authentication refused: status " + hex_byte(st)};
    const Bytes rnd_b = tdes_cbc_decrypt(key, DesBlock{}, enc_b);
    const Bytes rnd_a = random_bytes(8);
    Bytes token = rnd_a;
    const Bytes rot_b = rotate_left(rnd_b);
    token.insert(token.end(), rot_b.begin(), rot_b.end());
    Bytes cmd{kAdditionalFrame};
    const Bytes sent = legacy_send(key, token);
    cmd.insert(cmd.end(), sent.begin(), sent.end());
    Bytes enc_a;
    st = raw(cmd, enc_a);
    authenticating_ = false;
    if (st != kOk || enc_a.size() != 8)
      throw Failure{"the card refused our DES proof (wrong key?): status " + hex_byte(st)};
    const Bytes rot_a = tdes_cbc_decrypt(key, DesBlock{}, enc_a);
    if (CRYPTO_memcmp(rot_a.data(), rotate_left(rnd_a).data(), 8) != 0)
      throw Failure{"the card's answer to our DES challenge is wrong"};
    // Single DES (K1 == K2, the factory key): the session key is RndA[0..3] || RndB[0..3] twice.
    for (std::size_t i = 0; i < 4; ++i) {
      session_key_[i] = session_key_[8 + i] = rnd_a[i];
      session_key_[4 + i] = session_key_[12 + i] = rnd_b[i];
    }
    legacy_ = true;
    iv_ = AesBlock{};
  }

  // Legacy "send mode" encipherment with the DES decryption function, IV zero.
  static Bytes legacy_send(const TdesKey& key, ByteView plain) {
    Bytes out;
    DesBlock prev{};
    for (std::size_t i = 0; i + 8 <= plain.size(); i += 8) {
      Bytes block(plain.begin() + static_cast<std::ptrdiff_t>(i),
                  plain.begin() + static_cast<std::ptrdiff_t>(i + 8));
      for (std::size_t j = 0; j < 8; ++j) block[j] ^= prev[j];
      const Bytes c = tdes_cbc_decrypt(key, DesBlock{}, block);
      std::copy_n(c.begin(), 8, prev.begin());
      out.insert(out.end(), c.begin(), c.end());
    }
    return out;
  }

  // ChangeKey of the session's own key in a legacy session to an AES key (`key_no` carries the
  // PICC's key-type flag 0x80): E(key || version || CRC_A || zero padding to 24 bytes). The
  // card ends the session and answers with its status only.
  void legacy_change_own_key_to_aes(std::uint8_t key_no, const AesKey& key, std::uint8_t version,
                                    const char* what) {
    if (!legacy_) throw Failure{std::string(what) + ": no DES session"};
    Bytes p(key.begin(), key.end());
    p.push_back(version);
    const std::uint16_t crc = iso14443a_crc(p);
    p.push_back(static_cast<std::uint8_t>(crc));
    p.push_back(static_cast<std::uint8_t>(crc >> 8));
    p.resize(24, 0x00);
    Bytes tx{0xC4, key_no};
    const Bytes ct = legacy_send(session_key_, p);
    OPENSSL_cleanse(p.data(), p.size());
    tx.insert(tx.end(), ct.begin(), ct.end());
    Bytes data;
    const std::uint8_t st = raw(tx, data);
    legacy_ = false;
    if (st != kOk) throw Failure{std::string(what) + ": card status " + hex_byte(st)};
  }

  // Authentication that may fail (probing which key a card holds): true on success. A refused
  // attempt leaves the card unauthenticated, as after any error.
  bool try_authenticate(std::uint8_t key_no, const AesKey& key) {
    try {
      authenticate(key_no, key);
      return true;
    } catch (const Failure&) {
      authenticating_ = false;
      return false;
    }
  }
  bool try_authenticate_des(std::uint8_t key_no, const TdesKey& key) {
    try {
      authenticate_des(key_no, key);
      return true;
    } catch (const Failure&) {
      authenticating_ = false;
      legacy_ = false;
      return false;
    }
  }

  // A command without data in whichever session is open: MACed answer in an AES session, a
  // plain status in a legacy one.
  Bytes session_command(const Bytes& cmd, const char* what) {
    if (legacy_) return plain(cmd, what);
    return maced(cmd, what);
  }

  // A command in the session whose answer carries the 8-byte CMAC (MACed communication).
  Bytes maced(const Bytes& cmd, const char* what) {
    iv_ = desfire_cmac(session_key_, iv_, cmd);
    Bytes data;
    const std::uint8_t st = raw(cmd, data);
    if (st != kOk) throw Failure{std::string(what) + ": card status " + hex_byte(st)};
    if (data.size() < kDesfireMacLength) throw Failure{std::string(what) + ": answer has no MAC"};
    Bytes body(data.begin(), data.end() - kDesfireMacLength);
    Bytes m = body;
    m.push_back(st);
    iv_ = desfire_cmac(session_key_, iv_, m);
    const auto mac = desfire_truncate_mac(iv_);
    if (CRYPTO_memcmp(mac.data(), data.data() + body.size(), mac.size()) != 0)
      throw Failure{std::string(what) + ": answer MAC wrong (altered or replayed)"};
    return body;
  }

  // A command in the session sent with its own CMAC appended (MACed WriteData); the answer
  // carries the card's CMAC over its status.
  void maced_write(const Bytes& cmd, const char* what) {
    iv_ = desfire_cmac(session_key_, iv_, cmd);
    const auto mac = desfire_truncate_mac(iv_);
    Bytes tx = cmd;
    tx.insert(tx.end(), mac.begin(), mac.end());
    check_mac_answer(tx, what);
  }

  // An enciphered command (ChangeKey): E(plain) on the session IV after `header`. With
  // `answer_maced` false (the key of the session was changed) the card ends the session and
  // answers with its status only.
  void enciphered_command(const Bytes& header, const Bytes& plain, bool answer_maced,
                          const char* what) {
    const Bytes ct = aes128_cbc_encrypt(session_key_, iv_, plain);
    iv_ = block_of(ByteView(ct).last(16));
    Bytes tx = header;
    tx.insert(tx.end(), ct.begin(), ct.end());
    if (answer_maced) return check_mac_answer(tx, what);
    Bytes data;
    const std::uint8_t st = raw(tx, data);
    if (st != kOk) throw Failure{std::string(what) + ": card status " + hex_byte(st)};
  }

  const AesKey& session_key() const { return session_key_; }

  // A command in the session whose answer is enciphered: E(data || CRC32 || padding).
  Bytes enciphered(const Bytes& cmd, std::size_t length, const char* what) {
    iv_ = desfire_cmac(session_key_, iv_, cmd);
    Bytes data;
    const std::uint8_t st = raw(cmd, data);
    if (st != kOk) throw Failure{std::string(what) + ": card status " + hex_byte(st)};
    const std::size_t expected = (length + 4 + 15) / 16 * 16;
    if (data.size() != expected) throw Failure{std::string(what) + ": answer of wrong length"};
    Bytes pt = aes128_cbc_decrypt(session_key_, iv_, data);
    iv_ = block_of(ByteView(data).last(16));
    Bytes body(pt.begin(), pt.begin() + static_cast<std::ptrdiff_t>(length));
    Bytes covered = body;
    covered.push_back(st);
    const std::uint32_t crc = desfire_crc32(covered);
    std::uint32_t got = 0;
    for (int i = 3; i >= 0; --i) got = (got << 8) | pt[length + static_cast<std::size_t>(i)];
    const bool padding_zero = std::all_of(pt.begin() + static_cast<std::ptrdiff_t>(length + 4),
                                          pt.end(), [](std::uint8_t b) { return b == 0; });
    if (crc != got || !padding_zero)
      throw Failure{std::string(what) + ": enciphered answer does not check"};
    return body;
  }

  void check_mac_answer(const Bytes& tx, const char* what) {
    Bytes data;
    const std::uint8_t st = raw(tx, data);
    if (st != kOk) throw Failure{std::string(what) + ": card status " + hex_byte(st)};
    if (data.size() != kDesfireMacLength) throw Failure{std::string(what) + ": answer has no MAC"};
    iv_ = desfire_cmac(session_key_, iv_, Bytes{st});
    const auto mac = desfire_truncate_mac(iv_);
    if (CRYPTO_memcmp(mac.data(), data.data(), mac.size()) != 0)
      throw Failure{std::string(what) + ": answer MAC wrong"};
  }

  static std::string hex_byte(std::uint8_t b) {
    static const char* d = "0123456789abcdef";
    return std::string("0x") + d[b >> 4] + d[b & 15];
  }

 private:
  nfc_device* dev_;
  bool authenticating_{false};
  bool legacy_{false};
  AesKey session_key_{};
  AesBlock iv_{};
};

inline Bytes le24(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
          static_cast<std::uint8_t>(v >> 16)};
}

// SelectApplication of `aid`.
inline Bytes select_application(std::uint32_t aid) {
  Bytes select{0x5A};
  const Bytes aid_bytes = le24(aid);
  select.insert(select.end(), aid_bytes.begin(), aid_bytes.end());
  return select;
}

}  // namespace labgate::drivers::desfire::detail
