#include "labgate/drivers/pn532_emu/desfire_card.hpp"

#include <algorithm>
#include <sstream>
#include <utility>

#include "labgate/drivers/desfire/crypto.hpp"

namespace labgate::drivers::pn532_emu {
namespace {

namespace st = desfire_status;
namespace df = labgate::drivers::desfire;
using Bytes = std::vector<std::uint8_t>;
using View = std::span<const std::uint8_t>;

constexpr std::size_t kMaxFrameData = 59;  // a native answer frame: status + 59 bytes
constexpr std::size_t kMaxApplications = 28;
constexpr std::size_t kMaxFiles = 32;
constexpr std::size_t kMaxKeys = 14;
constexpr std::size_t kCapacity = 4096;
constexpr std::uint8_t kModePlain = 0x00;
constexpr std::uint8_t kModeMaced = 0x01;
constexpr std::uint8_t kModeEnciphered = 0x03;
constexpr std::uint8_t kFree = 0x0E;
constexpr std::uint8_t kNever = 0x0F;
// Key settings bits (the same for the PICC and for applications).
constexpr std::uint8_t kMasterKeyChangeable = 0x01;
constexpr std::uint8_t kFreeDirectory = 0x02;
constexpr std::uint8_t kFreeCreateDelete = 0x04;
constexpr std::uint8_t kSettingsChangeable = 0x08;

std::uint32_t le24(View b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at] | b[at + 1] << 8 | b[at + 2] << 16);
}

void put_le(Bytes& out, std::uint32_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint32_t read_le32(View b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | static_cast<std::uint32_t>(b[at + 1]) << 8 |
         static_cast<std::uint32_t>(b[at + 2]) << 16 | static_cast<std::uint32_t>(b[at + 3]) << 24;
}

Bytes rotate_left(View b) {
  Bytes out(b.begin() + 1, b.end());
  out.push_back(b[0]);
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> to_array(View b) {
  std::array<std::uint8_t, N> out{};
  std::copy_n(b.begin(), N, out.begin());
  return out;
}

bool all_zero(View b) {
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

std::size_t padded(std::size_t n, std::size_t block) {
  return n % block == 0 ? n : (n / block + 1) * block;
}

// ISO/IEC 14443-3 CRC_A, the 16-bit CRC of legacy (DES) DESFire secure messaging.
std::uint16_t crc_a(View data) {
  return df::iso14443a_crc(data);
}

df::TdesKey des_key(const std::array<std::uint8_t, 16>& v) {
  return v;
}

// One 8-byte block through the DES/3DES encryption function (ECB).
Bytes des_encrypt_block(const df::TdesKey& key, View block) {
  return df::tdes_cbc_encrypt(key, df::DesBlock{}, block);
}

// Legacy DESFire lets the reader "encipher" with the decryption function in CBC send mode
// (C_i = D(P_i ^ C_i-1)); the card undoes it with P_i = E(C_i) ^ C_i-1, IV zero.
Bytes legacy_receive(const df::TdesKey& key, View ct) {
  Bytes out;
  Bytes prev(8, 0x00);
  for (std::size_t i = 0; i + 8 <= ct.size(); i += 8) {
    Bytes p = des_encrypt_block(key, ct.subspan(i, 8));
    for (std::size_t j = 0; j < 8; ++j) p[j] ^= prev[j];
    out.insert(out.end(), p.begin(), p.end());
    prev.assign(ct.begin() + static_cast<std::ptrdiff_t>(i),
                ct.begin() + static_cast<std::ptrdiff_t>(i + 8));
  }
  return out;
}

std::uint8_t des_key_version(const std::array<std::uint8_t, 16>& v) {
  std::uint8_t version = 0;
  for (int i = 0; i < 8; ++i) version = static_cast<std::uint8_t>(version << 1 | (v[i] & 1));
  return version;
}

}  // namespace

DesfireCard::DesfireCard(Bytes uid, bool random_uid, bool aes_picc_key)
    : uid_(std::move(uid)), random_uid_(random_uid) {
  picc_.settings = 0x0F;
  picc_.type = aes_picc_key ? KeyType::kAes : KeyType::kDes;
  picc_.keys.resize(1);
  power_up();
}

void DesfireCard::power_up() {
  if (random_uid_) {
    random_id_ = df::random_bytes(4);
    random_id_[0] = 0x08;  // ISO/IEC 14443-3: NFCID1 starting with 08 is a random ID
  }
  activate();
}

void DesfireCard::activate() {
  session_.reset();
  pending_auth_.reset();
  pending_write_.reset();
  queued_.clear();
  selected_ = 0;
}

std::vector<std::uint32_t> DesfireCard::application_ids() const {
  std::vector<std::uint32_t> out;
  for (const auto& [aid, _] : apps_) out.push_back(aid);
  return out;
}

namespace {

std::string hex(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto v : b) {
    out += kDigits[v >> 4];
    out += kDigits[v & 0x0F];
  }
  return out.empty() ? "-" : out;
}

std::optional<Bytes> unhex(const std::string& s) {
  if (s == "-") return Bytes{};
  if (s.size() % 2 != 0) return std::nullopt;
  Bytes out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    for (std::size_t j = i; j < i + 2; ++j) {
      const char c = s[j];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else
        return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}

}  // namespace

// One line per fact, the PICC level first as application 0:
//   card <uid> <random_uid> <format_disabled>
//   app <aid> <settings> <des|aes> <number of keys>
//   key <value> <version>            (the app's keys, in order)
//   file <no> <comm> <access> <data> (the app's files)
std::string DesfireCard::save() const {
  std::ostringstream out;
  out << "card " << hex(uid_) << ' ' << int{random_uid_} << ' ' << int{format_disabled_} << '\n';
  auto app = [&](std::uint32_t aid, const Application& a) {
    out << "app " << aid << ' ' << int{a.settings} << ' '
        << (a.type == KeyType::kAes ? "aes" : "des") << ' ' << a.keys.size() << '\n';
    for (const auto& k : a.keys)
      out << "key " << hex(Bytes(k.value.begin(), k.value.end())) << ' ' << int{k.version} << '\n';
    for (const auto& [no, f] : a.files)
      out << "file " << int{no} << ' ' << int{f.comm} << ' ' << f.access << ' ' << hex(f.data)
          << '\n';
  };
  app(0, picc_);
  for (const auto& [aid, a] : apps_) app(aid, a);
  return out.str();
}

std::optional<DesfireCard> DesfireCard::load(const std::string& text) {
  std::istringstream in(text);
  std::string word, uid_hex;
  int random = 0, disabled = 0;
  if (!(in >> word >> uid_hex >> random >> disabled) || word != "card") return std::nullopt;
  auto uid = unhex(uid_hex);
  if (!uid || uid->size() != 7) return std::nullopt;
  DesfireCard card(*uid, random == 1, false);
  card.format_disabled_ = disabled == 1;
  Application* current = nullptr;
  bool first = true;
  while (in >> word) {
    if (word == "app") {
      std::uint32_t aid = 0;
      unsigned settings = 0, nkeys = 0;
      std::string type;
      if (!(in >> aid >> settings >> type >> nkeys) || settings > 0xFF ||
          (type != "aes" && type != "des") || nkeys > kMaxKeys || aid > 0xFFFFFF ||
          first != (aid == 0))
        return std::nullopt;
      current = first ? &card.picc_ : &card.apps_[aid];
      *current = Application{};
      current->settings = static_cast<std::uint8_t>(settings);
      current->type = type == "aes" ? KeyType::kAes : KeyType::kDes;
      current->keys.reserve(nkeys);
      first = false;
    } else if (word == "key" && current) {
      std::string v;
      unsigned version = 0;
      if (!(in >> v >> version) || version > 0xFF) return std::nullopt;
      auto b = unhex(v);
      if (!b || b->size() != 16) return std::nullopt;
      Key k;
      std::copy(b->begin(), b->end(), k.value.begin());
      k.version = static_cast<std::uint8_t>(version);
      current->keys.push_back(k);
    } else if (word == "file" && current) {
      unsigned no = 0, comm = 0, access = 0;
      std::string data;
      if (!(in >> no >> comm >> access >> data) || no > 0xFF || comm > 0xFF || access > 0xFFFF)
        return std::nullopt;
      auto b = unhex(data);
      if (!b) return std::nullopt;
      File f;
      f.comm = static_cast<std::uint8_t>(comm);
      f.access = static_cast<std::uint16_t>(access);
      f.data = std::move(*b);
      current->files[static_cast<std::uint8_t>(no)] = std::move(f);
    } else {
      return std::nullopt;
    }
  }
  if (first || card.picc_.keys.empty()) return std::nullopt;
  for (const auto& [aid, a] : card.apps_)
    if (a.keys.empty()) return std::nullopt;
  card.power_up();
  return card;
}

Bytes DesfireCard::transceive(std::span<const std::uint8_t> f) {
  if (f.empty()) return {st::kLengthError};
  const bool wrapped = f[0] == 0x90;
  Bytes native;
  if (wrapped) {
    // 90 INS 00 00 00 (no data) or 90 INS 00 00 Lc data 00.
    if (f.size() < 5 || f[2] != 0x00 || f[3] != 0x00) return {0x67, 0x00};
    native.push_back(f[1]);
    if (f.size() > 5) {
      const std::size_t lc = f[4];
      if (lc == 0 || f.size() != 6 + lc) return {0x67, 0x00};
      native.insert(native.end(), f.begin() + 5, f.begin() + 5 + static_cast<std::ptrdiff_t>(lc));
    } else if (f[4] != 0x00) {
      return {0x67, 0x00};
    }
  } else {
    native.assign(f.begin(), f.end());
  }
  Answer a = execute(native);
  if (wrapped) {
    a.data.push_back(0x91);
    a.data.push_back(a.status);
    return std::move(a.data);
  }
  a.data.insert(a.data.begin(), a.status);
  return std::move(a.data);
}

DesfireCard::Answer DesfireCard::fail(std::uint8_t status) {
  // A real card ends the authentication on any error; the reader has to start over.
  session_.reset();
  pending_auth_.reset();
  pending_write_.reset();
  queued_.clear();
  return {{}, status};
}

DesfireCard::Answer DesfireCard::send(Bytes payload, std::uint8_t status) {
  queued_.clear();
  if (payload.size() <= kMaxFrameData) return {std::move(payload), status};
  Answer first{Bytes(payload.begin(), payload.begin() + kMaxFrameData), st::kAdditionalFrame};
  for (std::size_t at = kMaxFrameData; at < payload.size(); at += kMaxFrameData) {
    const std::size_t end = std::min(payload.size(), at + kMaxFrameData);
    const bool last = end == payload.size();
    queued_.push_back({Bytes(payload.begin() + static_cast<std::ptrdiff_t>(at),
                             payload.begin() + static_cast<std::ptrdiff_t>(end)),
                       last ? status : st::kAdditionalFrame});
  }
  return first;
}

// EV1: with an AES session every successful answer ends with the first 8 bytes of the CMAC
// over data || status, chained on the session IV.
Bytes DesfireCard::with_mac(Bytes payload) {
  if (session_ && session_->type == KeyType::kAes) {
    Bytes m = payload;
    m.push_back(st::kOk);
    session_->iv = df::desfire_cmac(session_->key, session_->iv, m);
    auto mac = df::desfire_truncate_mac(session_->iv);
    const MacFault fault = std::exchange(mac_fault_, MacFault::kNone);
    if (fault == MacFault::kMissing) return payload;
    if (fault == MacFault::kWrong) mac[0] ^= 0x5A;
    payload.insert(payload.end(), mac.begin(), mac.end());
  }
  return payload;
}

DesfireCard::Answer DesfireCard::ok(Bytes payload) {
  return send(with_mac(std::move(payload)), st::kOk);
}

// EV1 enciphered answer: E(data || CRC32(data || status) || zero padding), CBC on the session IV.
DesfireCard::Answer DesfireCard::ok_enciphered(Bytes payload) {
  Bytes m = payload;
  m.push_back(st::kOk);
  const std::uint32_t crc = df::desfire_crc32(m);
  put_le(payload, crc, 4);
  payload.resize(padded(payload.size(), df::kAesBlock), 0x00);
  Bytes ct = df::aes128_cbc_encrypt(session_->key, session_->iv, payload);
  session_->iv = to_array<16>(View(ct).last(df::kAesBlock));
  return send(std::move(ct), st::kOk);
}

// The reader CMACs every plain command of an AES session to keep the shared IV moving.
void DesfireCard::mac_command(std::span<const std::uint8_t> c) {
  if (session_ && session_->type == KeyType::kAes) {
    session_->iv = df::desfire_cmac(session_->key, session_->iv, c);
  }
}

Bytes DesfireCard::decipher_command(std::span<const std::uint8_t> ct) {
  if (session_->type == KeyType::kAes) {
    Bytes pt = df::aes128_cbc_decrypt(session_->key, session_->iv, ct);
    session_->iv = to_array<16>(ct.last(df::kAesBlock));
    return pt;
  }
  return legacy_receive(des_key(session_->key), ct);
}

std::optional<DesfireCard::Answer> DesfireCard::start(std::span<const std::uint8_t> c,
                                                      std::size_t size) {
  if (c.size() != size) return fail(st::kLengthError);
  mac_command(c);
  return std::nullopt;
}

bool DesfireCard::master_or(const Application& app, std::uint8_t free_bit) const {
  return (app.settings & free_bit) || authenticated_with(0);
}

DesfireCard::Application& DesfireCard::current() {
  if (selected_ == 0) return picc_;
  return apps_.at(selected_);
}

bool DesfireCard::authenticated_with(std::uint8_t key_no) const {
  return session_ && session_->key_no == key_no;
}

std::size_t DesfireCard::used_bytes() const {
  std::size_t n = 0;
  for (const auto& [_, app] : apps_) {
    for (const auto& [__, f] : app.files) n += padded(f.data.size(), 32);
  }
  return n;
}

DesfireCard::Answer DesfireCard::execute(std::span<const std::uint8_t> c) {
  if (c[0] == 0xAF) return continue_frame(c);
  // Any other command abandons an unfinished multi-frame exchange.
  const bool interrupted = pending_auth_ || pending_write_;
  pending_auth_.reset();
  pending_write_.reset();
  queued_.clear();
  if (interrupted) session_.reset();
  switch (c[0]) {
    case 0x60:
      return get_version(c);
    case 0x5A:
      return select_application(c);
    case 0x0A:
    case 0x1A:
    case 0xAA:
      return authenticate(c);
    case 0x45:
      return get_key_settings(c);
    case 0x54:
      return change_key_settings(c);
    case 0x64:
      return get_key_version(c);
    case 0xC4:
      return change_key(c);
    case 0xCA:
      return create_application(c);
    case 0xDA:
      return delete_application(c);
    case 0xFC:
      return format_picc(c);
    case 0x6A:
      return get_application_ids(c);
    case 0x6E:
      return free_memory(c);
    case 0x6F:
      return get_file_ids(c);
    case 0xF5:
      return get_file_settings(c);
    case 0xCD:
      return create_std_data_file(c);
    case 0xDF:
      return delete_file(c);
    case 0xBD:
      return read_data(c);
    case 0x3D:
      return write_data(c);
    case 0x51:
      return get_card_uid(c);
    case 0x5C:
      return set_configuration(c);
    case 0x5F:
      return change_file_settings(c);
    default:
      return fail(st::kIllegalCommand);
  }
}

DesfireCard::Answer DesfireCard::continue_frame(std::span<const std::uint8_t> c) {
  if (pending_auth_) return finish_authenticate(c);
  if (pending_write_) {
    PendingWrite& w = *pending_write_;
    w.body.insert(w.body.end(), c.begin() + 1, c.end());
    if (w.body.size() > w.expected) return fail(st::kLengthError);
    if (w.body.size() < w.expected) return {{}, st::kAdditionalFrame};
    return finish_write();
  }
  if (!queued_.empty()) {
    if (c.size() != 1) return fail(st::kLengthError);
    Answer a = std::move(queued_.front());
    queued_.pop_front();
    return a;
  }
  return fail(st::kIllegalCommand);
}

DesfireCard::Answer DesfireCard::get_version(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 1)) return *e;
  // Hardware and software: NXP, DESFire, EV1 (1.0 / 1.4), 4 KB, ISO14443-2 and -3.
  Bytes all{0x04, 0x01, 0x01, 0x01, 0x00, 0x18, 0x05, 0x04, 0x01, 0x01, 0x01, 0x04, 0x18, 0x05};
  // A random-ID card keeps its UID out of GetVersion: only GetCardUID tells it.
  Bytes uid = random_uid_ ? Bytes(7, 0x00) : uid_;
  uid.resize(7, 0x00);
  all.insert(all.end(), uid.begin(), uid.end());
  all.insert(all.end(), {0xBA, 0x34, 0x4C, 0x39, 0x50, 0x12, 0x20});  // batch, week, year
  const Bytes full = with_mac(all);
  // libfreefare expects exactly three frames: 7 bytes, 7 bytes, then the rest with the CMAC.
  queued_.clear();
  queued_.push_back({Bytes(full.begin() + 7, full.begin() + 14), st::kAdditionalFrame});
  queued_.push_back({Bytes(full.begin() + 14, full.end()), st::kOk});
  return {Bytes(full.begin(), full.begin() + 7), st::kAdditionalFrame};
}

DesfireCard::Answer DesfireCard::select_application(std::span<const std::uint8_t> c) {
  if (c.size() != 4) return fail(st::kLengthError);
  const std::uint32_t aid = le24(c, 1);
  if (aid != 0 && !apps_.count(aid)) return fail(st::kApplicationNotFound);
  session_.reset();
  selected_ = aid;
  return {{}, st::kOk};
}

DesfireCard::Answer DesfireCard::authenticate(std::span<const std::uint8_t> c) {
  if (c.size() != 2) return fail(st::kLengthError);
  session_.reset();
  Application& app = current();
  const std::uint8_t key_no = c[1];
  if (key_no >= app.keys.size()) return fail(st::kNoSuchKey);
  const bool aes = c[0] == 0xAA;
  const bool legacy = c[0] == 0x0A;
  if ((aes && app.type != KeyType::kAes) || (legacy && app.type != KeyType::kDes) ||
      (!aes && !legacy)) {
    return fail(st::kAuthenticationError);
  }
  const auto& key = app.keys[key_no].value;
  PendingAuth p;
  p.key_no = key_no;
  p.type = app.type;
  Bytes ek;
  if (aes) {
    p.rnd_b = df::random_bytes(16);
    ek = df::aes128_cbc_encrypt(key, df::AesBlock{}, p.rnd_b);
    p.iv = to_array<16>(ek);
  } else {
    p.rnd_b = df::random_bytes(8);
    ek = des_encrypt_block(des_key(key), p.rnd_b);
  }
  pending_auth_ = std::move(p);
  return {std::move(ek), st::kAdditionalFrame};
}

DesfireCard::Answer DesfireCard::finish_authenticate(std::span<const std::uint8_t> c) {
  const PendingAuth p = std::move(*pending_auth_);
  pending_auth_.reset();
  const auto& key = current().keys[p.key_no].value;
  const std::size_t n = p.rnd_b.size();
  if (c.size() != 1 + 2 * n) return fail(st::kLengthError);
  const View token = c.subspan(1);
  Bytes plain = p.type == KeyType::kAes ? df::aes128_cbc_decrypt(key, p.iv, token)
                                        : legacy_receive(des_key(key), token);
  const Bytes rnd_a(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(n));
  const Bytes rnd_b_rot(plain.begin() + static_cast<std::ptrdiff_t>(n), plain.end());
  if (rnd_b_rot != rotate_left(p.rnd_b)) return fail(st::kAuthenticationError);
  Session s;
  s.key_no = p.key_no;
  s.type = p.type;
  Bytes answer;
  const Bytes& b = p.rnd_b;
  if (p.type == KeyType::kAes) {
    answer = df::aes128_cbc_encrypt(key, to_array<16>(token.last(16)), rotate_left(rnd_a));
    const Bytes sk{rnd_a[0],  rnd_a[1],  rnd_a[2],  rnd_a[3],  b[0],  b[1],  b[2],  b[3],
                   rnd_a[12], rnd_a[13], rnd_a[14], rnd_a[15], b[12], b[13], b[14], b[15]};
    s.key = to_array<16>(sk);
  } else {
    answer = des_encrypt_block(des_key(key), rotate_left(rnd_a));
    const bool single_des = std::equal(key.begin(), key.begin() + 8, key.begin() + 8);
    Bytes sk{rnd_a[0], rnd_a[1], rnd_a[2], rnd_a[3], b[0], b[1], b[2], b[3]};
    if (single_des) {
      sk.insert(sk.end(), sk.begin(), sk.end());
    } else {
      sk.insert(sk.end(), {rnd_a[4], rnd_a[5], rnd_a[6], rnd_a[7], b[4], b[5], b[6], b[7]});
    }
    s.key = to_array<16>(sk);
  }
  session_ = s;
  return {std::move(answer), st::kOk};
}

DesfireCard::Answer DesfireCard::get_key_settings(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 1)) return *e;
  const Application& app = current();
  const auto keys =
      static_cast<std::uint8_t>(app.keys.size() | (app.type == KeyType::kAes ? 0x80 : 0x00));
  return ok({app.settings, keys});
}

std::size_t DesfireCard::enciphered_length(std::size_t secured) const {
  return session_->type == KeyType::kAes ? padded(secured + 4, df::kAesBlock)
                                         : padded(secured + 2, 8);
}

// Enciphered command: header in clear, then E(secured || CRC || zero padding). EV1 AES: CRC32
// over header and secured data; legacy: CRC16 (CRC_A) over the secured data only.
std::optional<Bytes> DesfireCard::open_enciphered(std::span<const std::uint8_t> c,
                                                  std::size_t header, std::size_t secured) {
  const Bytes pt = decipher_command(c.subspan(header));
  Bytes data(pt.begin(), pt.begin() + static_cast<std::ptrdiff_t>(secured));
  std::size_t end = secured;
  bool intact = false;
  if (session_->type == KeyType::kAes) {
    Bytes covered(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(header));
    covered.insert(covered.end(), data.begin(), data.end());
    intact = read_le32(pt, secured) == df::desfire_crc32(covered);
    end += 4;
  } else {
    const auto crc = crc_a(data);
    intact = pt[secured] == (crc & 0xFF) && pt[secured + 1] == (crc >> 8);
    end += 2;
  }
  if (!intact || !all_zero(View(pt).subspan(end))) return std::nullopt;
  return data;
}

DesfireCard::Answer DesfireCard::change_key_settings(std::span<const std::uint8_t> c) {
  if (!authenticated_with(0)) return fail(st::kAuthenticationError);
  if (c.size() != 1 + enciphered_length(1)) return fail(st::kLengthError);
  Application& app = current();
  auto settings = open_enciphered(c, 1, 1);
  if (!settings) return fail(st::kIntegrityError);
  if (!(app.settings & kSettingsChangeable)) return fail(st::kPermissionDenied);
  app.settings = (*settings)[0];
  return ok({});
}

DesfireCard::Answer DesfireCard::set_configuration(std::span<const std::uint8_t> c) {
  if (selected_ != 0 || !authenticated_with(0)) return fail(st::kAuthenticationError);
  // Option 0 only: the PICC configuration byte (bit 0 format disabled, bit 1 random ID).
  if (c.size() < 2 || c[1] != 0x00) return fail(st::kParameterError);
  if (c.size() != 2 + enciphered_length(1)) return fail(st::kLengthError);
  auto flags = open_enciphered(c, 2, 1);
  if (!flags) return fail(st::kIntegrityError);
  format_disabled_ = format_disabled_ || ((*flags)[0] & 0x01);
  // Takes effect at the next power-up, and cannot be switched off again (as on the real card).
  random_uid_ = random_uid_ || ((*flags)[0] & 0x02);
  return ok({});
}

DesfireCard::Answer DesfireCard::get_key_version(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 2)) return *e;
  const Application& app = current();
  const std::uint8_t k = c[1] & 0x0F;
  if (k >= app.keys.size()) return fail(st::kNoSuchKey);
  return ok({app.keys[k].version});
}

DesfireCard::Answer DesfireCard::change_key(std::span<const std::uint8_t> c) {
  if (!session_) return fail(st::kAuthenticationError);
  const bool aes_session = session_->type == KeyType::kAes;
  const std::size_t ct_len = aes_session ? 32 : 24;
  if (c.size() != 2 + ct_len) return fail(st::kLengthError);
  Application& app = current();
  const std::uint8_t k = c[1] & 0x0F;
  if (k >= app.keys.size()) return fail(st::kNoSuchKey);
  KeyType new_type = app.type;
  if (selected_ == 0) {
    // At PICC level the flag bits choose the master key's new cipher.
    if ((c[1] & 0xC0) == 0x40) return fail(st::kParameterError);
    new_type = (c[1] & 0x80) ? KeyType::kAes : KeyType::kDes;
  }
  // Who may change key k (key settings, high nibble for application keys).
  const std::uint8_t change_key = app.settings >> 4;
  if (k == 0) {
    if (session_->key_no != 0) return fail(st::kAuthenticationError);
    if (!(app.settings & kMasterKeyChangeable)) return fail(st::kPermissionDenied);
  } else if (change_key == 0x0F) {
    return fail(st::kPermissionDenied);
  } else {
    const std::uint8_t needed = change_key == 0x0E ? k : change_key;
    if (session_->key_no != needed) return fail(st::kAuthenticationError);
  }
  const bool same_key = session_->key_no == k;
  const Bytes pt = decipher_command(c.subspan(2));
  std::array<std::uint8_t, 16> value = to_array<16>(pt);
  std::size_t pos = 16;
  std::uint8_t version = 0;
  if (new_type == KeyType::kAes) version = pt[pos++];
  if (!same_key) {
    for (std::size_t i = 0; i < 16; ++i) value[i] ^= app.keys[k].value[i];
  }
  bool intact = true;
  if (aes_session) {
    Bytes covered{c[0], c[1]};
    covered.insert(covered.end(), pt.begin(), pt.begin() + static_cast<std::ptrdiff_t>(pos));
    intact = read_le32(pt, pos) == df::desfire_crc32(covered);
    pos += 4;
    if (!same_key) {
      intact = intact && read_le32(pt, pos) == df::desfire_crc32(value);
      pos += 4;
    }
  } else {
    const auto crc = crc_a(View(pt).first(pos));
    intact = pt[pos] == (crc & 0xFF) && pt[pos + 1] == (crc >> 8);
    pos += 2;
    if (!same_key) {
      const auto crc2 = crc_a(value);
      intact = intact && pt[pos] == (crc2 & 0xFF) && pt[pos + 1] == (crc2 >> 8);
      pos += 2;
    }
  }
  if (!intact || !all_zero(View(pt).subspan(pos))) return fail(st::kIntegrityError);
  app.keys[k].value = value;
  app.keys[k].version = new_type == KeyType::kAes ? version : des_key_version(value);
  if (selected_ == 0) app.type = new_type;
  if (same_key) {
    // The session key was derived from the old key: the card drops the session and answers
    // without a CMAC.
    session_.reset();
    return {{}, st::kOk};
  }
  return ok({});
}

DesfireCard::Answer DesfireCard::create_application(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 6)) return *e;
  if (selected_ != 0) return fail(st::kPermissionDenied);
  if (!master_or(picc_, kFreeCreateDelete)) return fail(st::kAuthenticationError);
  const std::uint32_t aid = le24(c, 1);
  const std::uint8_t nkeys = c[5] & 0x0F;
  const std::uint8_t crypto = c[5] & 0xC0;
  if (aid == 0 || nkeys == 0 || nkeys > kMaxKeys || crypto == 0x40 || crypto == 0xC0) {
    return fail(st::kParameterError);
  }
  if (apps_.count(aid)) return fail(st::kDuplicateError);
  if (apps_.size() >= kMaxApplications) return fail(st::kCountError);
  Application app;
  app.settings = c[4];
  app.type = crypto == 0x80 ? KeyType::kAes : KeyType::kDes;
  app.keys.resize(nkeys);
  apps_.emplace(aid, std::move(app));
  return ok({});
}

DesfireCard::Answer DesfireCard::delete_application(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 4)) return *e;
  const std::uint32_t aid = le24(c, 1);
  if (aid == 0) return fail(st::kParameterError);
  if (!apps_.count(aid)) return fail(st::kApplicationNotFound);
  const bool picc_master = selected_ == 0 && authenticated_with(0);
  const bool app_master = selected_ == aid && authenticated_with(0);
  if (!picc_master && !app_master) return fail(st::kAuthenticationError);
  apps_.erase(aid);
  Answer a = ok({});
  if (selected_ == aid) {
    selected_ = 0;
    session_.reset();
  }
  return a;
}

DesfireCard::Answer DesfireCard::format_picc(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 1)) return *e;
  if (selected_ != 0 || !authenticated_with(0)) return fail(st::kAuthenticationError);
  if (format_disabled_) return fail(st::kPermissionDenied);
  apps_.clear();
  return ok({});
}

DesfireCard::Answer DesfireCard::get_application_ids(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 1)) return *e;
  if (selected_ != 0) return fail(st::kPermissionDenied);
  if (!master_or(picc_, kFreeDirectory)) return fail(st::kAuthenticationError);
  Bytes out;
  for (const auto& [aid, _] : apps_) put_le(out, aid, 3);
  return ok(std::move(out));
}

DesfireCard::Answer DesfireCard::free_memory(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 1)) return *e;
  Bytes out;
  put_le(out, static_cast<std::uint32_t>(kCapacity - used_bytes()), 3);
  return ok(std::move(out));
}

DesfireCard::Answer DesfireCard::get_file_ids(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 1)) return *e;
  if (selected_ == 0) return fail(st::kPermissionDenied);
  const Application& app = current();
  if (!master_or(app, kFreeDirectory)) return fail(st::kAuthenticationError);
  Bytes out;
  for (const auto& [no, _] : app.files) out.push_back(no);
  return ok(std::move(out));
}

DesfireCard::Answer DesfireCard::get_file_settings(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 2)) return *e;
  if (selected_ == 0) return fail(st::kPermissionDenied);
  const Application& app = current();
  auto it = app.files.find(c[1]);
  if (it == app.files.end()) return fail(st::kFileNotFound);
  if (!master_or(app, kFreeDirectory)) return fail(st::kAuthenticationError);
  const File& f = it->second;
  Bytes out{0x00, f.comm};  // 0x00: standard data file
  put_le(out, f.access, 2);
  put_le(out, static_cast<std::uint32_t>(f.data.size()), 3);
  return ok(std::move(out));
}

DesfireCard::Answer DesfireCard::create_std_data_file(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 8)) return *e;
  if (selected_ == 0) return fail(st::kPermissionDenied);
  Application& app = current();
  if (!master_or(app, kFreeCreateDelete)) return fail(st::kAuthenticationError);
  const std::uint8_t no = c[1];
  const std::uint8_t comm = c[2];
  const std::uint32_t size = le24(c, 5);
  if (no >= kMaxFiles || (comm != kModePlain && comm != kModeMaced && comm != kModeEnciphered)) {
    return fail(st::kParameterError);
  }
  if (app.files.count(no)) return fail(st::kDuplicateError);
  if (size == 0 || used_bytes() + padded(size, 32) > kCapacity) return fail(st::kOutOfEeprom);
  File f;
  f.comm = comm;
  f.access = static_cast<std::uint16_t>(c[3] | c[4] << 8);
  f.data.assign(size, 0x00);
  app.files.emplace(no, std::move(f));
  return ok({});
}

DesfireCard::Answer DesfireCard::delete_file(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 2)) return *e;
  if (selected_ == 0) return fail(st::kPermissionDenied);
  Application& app = current();
  if (!app.files.count(c[1])) return fail(st::kFileNotFound);
  if (!master_or(app, kFreeCreateDelete)) return fail(st::kAuthenticationError);
  app.files.erase(c[1]);
  return ok({});
}

DesfireCard::Answer DesfireCard::change_file_settings(std::span<const std::uint8_t> c) {
  if (c.size() < 2) return fail(st::kLengthError);
  if (selected_ == 0) return fail(st::kPermissionDenied);
  auto it = current().files.find(c[1]);
  if (it == current().files.end()) return fail(st::kFileNotFound);
  File& f = it->second;
  const std::uint8_t change = f.access & 0x0F;
  Bytes settings;  // comm, access rights (2 bytes LE)
  if (change == kFree) {
    // Free change right: the new settings travel in clear (CMACed within a session).
    if (auto e = start(c, 5)) return *e;
    settings.assign(c.begin() + 2, c.end());
  } else {
    if (change == kNever) return fail(st::kPermissionDenied);
    if (!authenticated_with(change)) return fail(st::kAuthenticationError);
    if (c.size() != 2 + enciphered_length(3)) return fail(st::kLengthError);
    auto plain = open_enciphered(c, 2, 3);
    if (!plain) return fail(st::kIntegrityError);
    settings = std::move(*plain);
  }
  if (settings[0] != kModePlain && settings[0] != kModeMaced && settings[0] != kModeEnciphered) {
    return fail(st::kParameterError);
  }
  f.comm = settings[0];
  f.access = static_cast<std::uint16_t>(settings[1] | settings[2] << 8);
  return ok({});
}

std::optional<std::uint8_t> DesfireCard::file_mode(std::uint8_t file_no, int shift_a, int shift_b,
                                                   std::uint8_t& status) {
  if (selected_ == 0) {
    status = st::kPermissionDenied;
    return std::nullopt;
  }
  const auto& files = current().files;
  auto it = files.find(file_no);
  if (it == files.end()) {
    status = st::kFileNotFound;
    return std::nullopt;
  }
  const File& f = it->second;
  const auto a = static_cast<std::uint8_t>((f.access >> shift_a) & 0x0F);
  const auto b = static_cast<std::uint8_t>((f.access >> shift_b) & 0x0F);
  if (session_ && (session_->key_no == a || session_->key_no == b)) {
    // MACed and enciphered transfers follow the EV1 AES scheme only.
    if (f.comm != kModePlain && session_->type != KeyType::kAes) {
      status = st::kPermissionDenied;
      return std::nullopt;
    }
    return f.comm;
  }
  if (a == kFree || b == kFree) return kModePlain;
  status = (a == kNever && b == kNever) ? st::kPermissionDenied : st::kAuthenticationError;
  return std::nullopt;
}

DesfireCard::Answer DesfireCard::read_data(std::span<const std::uint8_t> c) {
  if (auto e = start(c, 8)) return *e;
  std::uint8_t status = st::kOk;
  auto mode = file_mode(c[1], 12, 4, status);
  if (!mode) return fail(status);
  const File& f = current().files.at(c[1]);
  const std::size_t offset = le24(c, 2);
  std::size_t length = le24(c, 5);
  if (offset >= f.data.size()) return fail(st::kBoundaryError);
  if (length == 0) length = f.data.size() - offset;
  if (offset + length > f.data.size()) return fail(st::kBoundaryError);
  Bytes data(f.data.begin() + static_cast<std::ptrdiff_t>(offset),
             f.data.begin() + static_cast<std::ptrdiff_t>(offset + length));
  data.resize(data.size() + std::exchange(oversize_read_, 0), 0xA5);
  if (*mode == kModeEnciphered) return ok_enciphered(std::move(data));
  return ok(std::move(data));
}

DesfireCard::Answer DesfireCard::write_data(std::span<const std::uint8_t> c) {
  if (c.size() < 8) return fail(st::kLengthError);
  std::uint8_t status = st::kOk;
  auto mode = file_mode(c[1], 8, 4, status);
  if (!mode) return fail(status);
  const File& f = current().files.at(c[1]);
  PendingWrite w;
  w.file = c[1];
  w.offset = le24(c, 2);
  w.length = le24(c, 5);
  w.mode = *mode;
  w.header.assign(c.begin(), c.begin() + 8);
  w.body.assign(c.begin() + 8, c.end());
  if (w.length == 0) return fail(st::kLengthError);
  if (w.offset + w.length > f.data.size()) return fail(st::kBoundaryError);
  if (w.mode == kModeEnciphered) {
    w.expected = enciphered_length(w.length);
  } else if (w.mode == kModeMaced) {
    w.expected = w.length + df::kDesfireMacLength;
  } else {
    w.expected = w.length;
  }
  if (w.body.size() > w.expected) return fail(st::kLengthError);
  pending_write_ = std::move(w);
  if (pending_write_->body.size() < pending_write_->expected) return {{}, st::kAdditionalFrame};
  return finish_write();
}

DesfireCard::Answer DesfireCard::finish_write() {
  PendingWrite w = std::move(*pending_write_);
  pending_write_.reset();
  Bytes data;
  if (w.mode == kModeEnciphered) {
    Bytes whole = w.header;
    whole.insert(whole.end(), w.body.begin(), w.body.end());
    auto plain = open_enciphered(whole, w.header.size(), w.length);
    if (!plain) return fail(st::kIntegrityError);
    data = std::move(*plain);
  } else {
    data.assign(w.body.begin(), w.body.begin() + static_cast<std::ptrdiff_t>(w.length));
    Bytes full = w.header;
    full.insert(full.end(), data.begin(), data.end());
    if (w.mode == kModeMaced) {
      const auto cmac = df::desfire_cmac(session_->key, session_->iv, full);
      const auto mac = df::desfire_truncate_mac(cmac);
      if (!std::equal(mac.begin(), mac.end(),
                      w.body.begin() + static_cast<std::ptrdiff_t>(w.length))) {
        return fail(st::kIntegrityError);
      }
      session_->iv = cmac;
    } else {
      mac_command(full);
    }
  }
  File& f = current().files.at(w.file);
  std::copy(data.begin(), data.end(), f.data.begin() + static_cast<std::ptrdiff_t>(w.offset));
  return ok({});
}

DesfireCard::Answer DesfireCard::get_card_uid(std::span<const std::uint8_t> c) {
  if (c.size() != 1) return fail(st::kLengthError);
  if (!session_ || session_->type != KeyType::kAes) return fail(st::kAuthenticationError);
  mac_command(c);
  Bytes uid = uid_;
  uid.resize(7, 0x00);
  return ok_enciphered(std::move(uid));
}

}  // namespace labgate::drivers::pn532_emu
