#include "labgate/drivers/pn532_emu/chip.hpp"

#include <algorithm>

#include "labgate/drivers/devices.hpp"

namespace labgate::drivers::pn532_emu {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint8_t kStatusOk = 0x00;
constexpr std::uint8_t kStatusTimeout = 0x01;
constexpr std::uint8_t kStatusWrongContext = 0x27;
constexpr std::uint8_t kParamAutoRats = 0x10;
// InAutoPoll spends Period x 150 ms on each target type in each round (UM0701-02 §7.3.13).
constexpr auto kAutoPollUnit = std::chrono::milliseconds(150);

bool is_type_a(CardKind k) {
  return k != CardKind::kFelica;
}

std::optional<std::uint8_t> hex_byte(const std::string& s) {
  auto v = from_hex(s);
  if (!v || v->size() != 1) return std::nullopt;
  return (*v)[0];
}

}  // namespace

const char* to_string(CardKind k) {
  switch (k) {
    case CardKind::kMifareClassic:
      return "classic";
    case CardKind::kUltralight:
      return "ultralight";
    case CardKind::kDesfire:
      return "desfire";
    case CardKind::kFelica:
      return "felica";
  }
  return "unknown";
}

std::optional<EmuCard> make_card(const std::string& type, const std::string& hex_uid,
                                 const std::map<std::string, std::string>& options,
                                 std::string& error) {
  EmuCard c;
  if (type == "classic" || type == "mifare" || type == "iso14443a") {
    c.kind = CardKind::kMifareClassic;
  } else if (type == "ultralight" || type == "ntag") {
    c.kind = CardKind::kUltralight;
    c.atqa = {0x00, 0x44};
    c.sak = 0x00;
  } else if (type == "desfire") {
    c.kind = CardKind::kDesfire;
    c.atqa = {0x03, 0x44};
    c.sak = 0x20;
    c.ats = {0x75, 0x77, 0x81, 0x02,
             0x80};  // DESFire EV1: TL excluded, FSCI 5, TA/TB/TC, one historical byte
  } else if (type == "felica") {
    c.kind = CardKind::kFelica;
    c.pmm = {0x01, 0x20, 0x22, 0x04, 0x27, 0x67, 0x4e, 0xff};
  } else {
    error = "unknown card type '" + type + "' (classic, ultralight, desfire, felica)";
    return std::nullopt;
  }
  auto uid = from_hex(hex_uid);
  if (!uid) {
    error = "bad hex identifier '" + hex_uid + "'";
    return std::nullopt;
  }
  c.uid = *uid;
  if (c.kind == CardKind::kFelica) {
    if (c.uid.size() != 8) {
      error = "a FeliCa IDm has 8 bytes";
      return std::nullopt;
    }
  } else if (c.uid.size() != 4 && c.uid.size() != 7 && c.uid.size() != 10) {
    error = "an ISO14443A UID has 4, 7 or 10 bytes";
    return std::nullopt;
  }
  bool random_uid = false;
  bool aes_picc = false;
  for (const auto& [key, value] : options) {
    if (c.kind == CardKind::kDesfire && key == "random_uid") {
      if (value != "0" && value != "1") {
        error = "random_uid is 0 or 1";
        return std::nullopt;
      }
      random_uid = value == "1";
    } else if (c.kind == CardKind::kDesfire && key == "picc") {
      if (value != "des" && value != "aes") {
        error = "picc is des or aes";
        return std::nullopt;
      }
      aes_picc = value == "aes";
    } else if (key == "atqa") {
      auto v = from_hex(value);
      if (!v || v->size() != 2) {
        error = "atqa needs 2 bytes";
        return std::nullopt;
      }
      c.atqa = {(*v)[0], (*v)[1]};
    } else if (key == "sak") {
      auto v = hex_byte(value);
      if (!v) {
        error = "sak needs 1 byte";
        return std::nullopt;
      }
      c.sak = *v;
    } else if (key == "ats") {
      auto v = from_hex(value);
      if (!v || v->size() > 20) {
        error = "ats needs 1..20 bytes";
        return std::nullopt;
      }
      c.ats = *v;
    } else if (key == "pmm") {
      auto v = from_hex(value);
      if (!v || v->size() != 8) {
        error = "pmm needs 8 bytes";
        return std::nullopt;
      }
      c.pmm = *v;
    } else if (key == "sys") {
      auto v = from_hex(value);
      if (!v || v->size() != 2) {
        error = "sys needs 2 bytes";
        return std::nullopt;
      }
      c.system_code = static_cast<std::uint16_t>((*v)[0] << 8 | (*v)[1]);
    } else if (key == "baud") {
      c.felica_212 = value == "212" || value == "both";
      c.felica_424 = value == "424" || value == "both";
      if (!c.felica_212 && !c.felica_424) {
        error = "baud is 212, 424 or both";
        return std::nullopt;
      }
    } else if (key != "tap" &&
               !(c.kind == CardKind::kDesfire && (key == "clone" || key == "fresh"))) {
      // tap=, clone= and fresh= are the emulator's business, not the card's.
      error = "unknown option '" + key + "'";
      return std::nullopt;
    }
  }
  if (c.kind == CardKind::kDesfire) {
    c.desfire = std::make_shared<DesfireCard>(c.uid, random_uid, aes_picc);
  }
  return c;
}

Chip::Chip() {
  // Reset values of the CIU registers libnfc reads before masked writes (PN532 C1 datasheet §8.6).
  registers_[0x6302] = 0x80;  // CIU_TxMode: TxCRCEn
  registers_[0x6303] = 0x80;  // CIU_RxMode: RxCRCEn
  registers_[0x6305] = 0x00;  // CIU_TxAuto
  registers_[0x630D] = 0x00;  // CIU_ManualRCV
  registers_[0x6338] = 0x00;  // CIU_Status2
  registers_[0x633C] = 0x10;  // CIU_Control: initiator
  registers_[0x633D] = 0x00;  // CIU_BitFraming
}

std::uint8_t Chip::reg(std::uint16_t address) const {
  auto it = registers_.find(address);
  return it == registers_.end() ? 0 : it->second;
}

void Chip::place(EmuCard card) {
  card_ = std::move(card);
  selected_ = false;
  desfire_block_ = 0;
  if (card_->desfire) card_->desfire->power_up();
}

const Bytes& Chip::anticollision_uid() const {
  return card_->desfire ? card_->desfire->anticollision_uid() : card_->uid;
}

void Chip::activated() {
  selected_ = true;
  desfire_block_ = 0;
  if (card_ && card_->desfire) card_->desfire->activate();
}

void Chip::remove() {
  card_.reset();
  selected_ = false;
}

void Chip::abort_pending() {
  pending_.reset();
}

std::optional<EmuClock::time_point> Chip::pending_deadline() const {
  if (!pending_) return std::nullopt;
  return pending_->deadline;
}

ChipReply Chip::on_command(std::span<const std::uint8_t> c, EmuClock::time_point now) {
  // A new command replaces whatever was deferred: a real chip handles one command at a time.
  pending_.reset();
  powered_down_ = false;
  ChipReply r;
  if (c.empty()) {
    r.known = false;
    return r;
  }
  const std::uint8_t code = c[0];
  const auto rc = static_cast<std::uint8_t>(code + 1);
  auto reply = [&](Bytes data) {
    r.data = std::move(data);
    return r;
  };
  auto syntax_error = [&] {
    r.known = false;
    return r;
  };
  switch (code) {
    case cmd::kDiagnose:
      if (c.size() < 2) return syntax_error();
      return reply(diagnose(c));
    case cmd::kGetFirmwareVersion:
      return reply({rc, 0x32, 0x01, 0x06, 0x07});
    case cmd::kGetGeneralStatus: {
      Bytes d{rc, 0x00, static_cast<std::uint8_t>(rf_on_ ? 1 : 0)};
      if (selected_ && card_) {
        const bool felica = card_->kind == CardKind::kFelica;
        d.insert(d.end(), {0x01, 0x01, static_cast<std::uint8_t>(felica ? 1 : 0),
                           static_cast<std::uint8_t>(felica ? 1 : 0),
                           static_cast<std::uint8_t>(felica ? 0x10 : 0x00)});
      } else {
        d.push_back(0x00);
      }
      d.push_back(0x00);  // SAM status
      return reply(d);
    }
    case cmd::kReadRegister:
      if (c.size() < 3 || (c.size() - 1) % 2 != 0) return syntax_error();
      return reply(read_registers(c));
    case cmd::kWriteRegister:
      if (c.size() < 4 || (c.size() - 1) % 3 != 0) return syntax_error();
      return reply(write_registers(c));
    case cmd::kSetParameters:
      if (c.size() < 2) return syntax_error();
      parameters_ = c[1];
      return reply({rc});
    case cmd::kSamConfiguration:
      if (c.size() < 2) return syntax_error();
      return reply({rc});
    case cmd::kPowerDown:
      if (c.size() < 2) return syntax_error();
      powered_down_ = true;
      selected_ = false;
      return reply({rc, kStatusOk});
    case cmd::kRfConfiguration:
      if (c.size() < 3) return syntax_error();
      if (c[1] == 0x01) {
        const bool was_on = rf_on_;
        rf_on_ = (c[2] & 0x01) != 0;
        // A card powers up again when the field comes back: a random-ID card shows a new ID.
        if (rf_on_ && !was_on && card_ && card_->desfire) card_->desfire->power_up();
      }
      if (c[1] == 0x05) {
        if (c.size() < 5) return syntax_error();
        retries_passive_ = c[4];
      }
      if (!rf_on_) selected_ = false;
      return reply({rc});
    case cmd::kInListPassiveTarget:
      return list_passive(c, now);
    case cmd::kInAutoPoll:
      return auto_poll(c, now);
    case cmd::kInDataExchange:
      if (c.size() < 2) return syntax_error();
      return reply(exchange(rc, c.subspan(2)));
    case cmd::kInCommunicateThru: {
      if (!card_ || !selected_) return reply({rc, card_ ? kStatusWrongContext : kStatusTimeout});
      auto answer = card_answer(c.subspan(1), true);
      if (!answer) return reply({rc, kStatusTimeout});
      Bytes d{rc, kStatusOk};
      d.insert(d.end(), answer->begin(), answer->end());
      return reply(d);
    }
    case cmd::kInDeselect:
    case cmd::kInRelease:
      if (c.size() < 2) return syntax_error();
      selected_ = false;
      return reply({rc, kStatusOk});
    case cmd::kInSelect:
      if (c.size() < 2) return syntax_error();
      if (!card_) return reply({rc, kStatusTimeout});
      selected_ = true;
      return reply({rc, kStatusOk});
    default:
      return syntax_error();
  }
}

Bytes Chip::diagnose(std::span<const std::uint8_t> c) const {
  const std::uint8_t rc = cmd::kDiagnose + 1;
  switch (c[1]) {
    case 0x00: {  // communication line test: echo NumTst and InParam
      Bytes d{rc};
      d.insert(d.end(), c.begin() + 1, c.end());
      return d;
    }
    case 0x06:  // card presence detection
      return {rc, static_cast<std::uint8_t>(selected_ && card_ ? kStatusOk : kStatusTimeout)};
    default:  // ROM, RAM, polling, antenna tests: all pass
      return {rc, kStatusOk};
  }
}

Bytes Chip::read_registers(std::span<const std::uint8_t> c) const {
  Bytes d{cmd::kReadRegister + 1};
  for (std::size_t i = 1; i + 1 < c.size(); i += 2) {
    d.push_back(reg(static_cast<std::uint16_t>(c[i] << 8 | c[i + 1])));
  }
  return d;
}

Bytes Chip::write_registers(std::span<const std::uint8_t> c) {
  for (std::size_t i = 1; i + 2 < c.size(); i += 3) {
    registers_[static_cast<std::uint16_t>(c[i] << 8 | c[i + 1])] = c[i + 2];
  }
  return {cmd::kWriteRegister + 1};
}

Bytes Chip::type_a_target_data(bool with_ats) const {
  // Reserved up front: growing a vector built from a short initializer list trips g++ 12's
  // -Warray-bounds false positive at -O3.
  Bytes d;
  const Bytes& uid = anticollision_uid();
  d.reserve(6 + uid.size() + card_->ats.size());
  for (std::uint8_t b : {std::uint8_t{0x01}, card_->atqa[0], card_->atqa[1], card_->sak,
                         static_cast<std::uint8_t>(uid.size())}) {
    d.push_back(b);
  }
  d.insert(d.end(), uid.begin(), uid.end());
  if (with_ats && !card_->ats.empty()) {
    d.push_back(static_cast<std::uint8_t>(card_->ats.size() + 1));  // TL counts itself
    d.insert(d.end(), card_->ats.begin(), card_->ats.end());
  }
  return d;
}

Bytes Chip::felica_target_data(std::span<const std::uint8_t> init) const {
  const std::uint8_t request_code = init.size() >= 4 ? init[3] : 0x00;
  const bool with_sys = request_code == 0x01;
  Bytes d;
  d.reserve(5 + card_->uid.size() + card_->pmm.size());
  d.push_back(0x01);
  d.push_back(with_sys ? 0x14 : 0x12);
  d.push_back(0x01);
  d.insert(d.end(), card_->uid.begin(), card_->uid.end());
  d.insert(d.end(), card_->pmm.begin(), card_->pmm.end());
  if (with_sys) {
    d.push_back(static_cast<std::uint8_t>(card_->system_code >> 8));
    d.push_back(static_cast<std::uint8_t>(card_->system_code & 0xFF));
  }
  return d;
}

std::optional<Bytes> Chip::target_for_list(std::uint8_t brty,
                                           std::span<const std::uint8_t> init) const {
  if (!card_ || !rf_on_) return std::nullopt;
  if (brty == 0x00) {
    if (!is_type_a(card_->kind)) return std::nullopt;
    if (!init.empty()) {
      // Initiator data selects one UID; cascade tags (88) precede the first bytes of long UIDs.
      Bytes plain;
      for (std::size_t i = 0; i < init.size(); ++i) {
        if (init[i] == 0x88 && (i == 0 || i == 4) && init.size() > 4) continue;
        plain.push_back(init[i]);
      }
      if (plain != anticollision_uid()) return std::nullopt;
    }
    return type_a_target_data((parameters_ & kParamAutoRats) != 0);
  }
  if (brty == 0x01 || brty == 0x02) {
    if (card_->kind != CardKind::kFelica) return std::nullopt;
    if (brty == 0x01 && !card_->felica_212) return std::nullopt;
    if (brty == 0x02 && !card_->felica_424) return std::nullopt;
    if (init.size() >= 3) {
      const auto sc = static_cast<std::uint16_t>(init[1] << 8 | init[2]);
      const bool match = (init[1] == 0xFF || init[1] == (card_->system_code >> 8)) &&
                         (init[2] == 0xFF || init[2] == (card_->system_code & 0xFF));
      if (sc != 0xFFFF && !match) return std::nullopt;
    }
    return felica_target_data(init);
  }
  return std::nullopt;  // ISO14443B, Jewel: no such card in this emulator
}

std::optional<Bytes> Chip::target_for_autopoll(std::uint8_t type) const {
  if (!card_) return std::nullopt;
  switch (type) {
    case 0x00:  // generic passive 106 kbps
    case 0x10:  // MIFARE
      if (!is_type_a(card_->kind)) return std::nullopt;
      return type_a_target_data(false);
    case 0x20:  // ISO14443-4A
      if (!is_type_a(card_->kind) || !(card_->sak & 0x20)) return std::nullopt;
      return type_a_target_data(true);
    case 0x01:
    case 0x11: {  // FeliCa 212
      if (card_->kind != CardKind::kFelica || !card_->felica_212) return std::nullopt;
      static constexpr std::uint8_t kPoll[] = {0x00, 0xFF, 0xFF, 0x00, 0x00};
      return felica_target_data(kPoll);
    }
    case 0x02:
    case 0x12: {  // FeliCa 424
      if (card_->kind != CardKind::kFelica || !card_->felica_424) return std::nullopt;
      static constexpr std::uint8_t kPoll[] = {0x00, 0xFF, 0xFF, 0x00, 0x00};
      return felica_target_data(kPoll);
    }
    default:
      return std::nullopt;
  }
}

ChipReply Chip::list_passive(std::span<const std::uint8_t> c, EmuClock::time_point now) {
  ChipReply r;
  if (c.size() < 3 || c[1] == 0 || c[1] > 2 || c[2] > 0x04) {
    r.known = false;
    return r;
  }
  Bytes init(c.begin() + 3, c.end());
  if (auto t = target_for_list(c[2], init)) {
    activated();
    Bytes d{cmd::kInListPassiveTarget + 1, 0x01};
    d.insert(d.end(), t->begin(), t->end());
    r.data = std::move(d);
    return r;
  }
  selected_ = false;
  if (retries_passive_ != 0xFF) {
    // Finite MxRtyPassiveActivation: the chip gives up and reports no target.
    r.data = Bytes{cmd::kInListPassiveTarget + 1, 0x00};
    return r;
  }
  // Infinite retries: a real chip keeps trying until a card shows up or the host aborts.
  pending_ = Pending{cmd::kInListPassiveTarget, {c[2]}, std::move(init), std::nullopt};
  (void)now;
  return r;
}

ChipReply Chip::auto_poll(std::span<const std::uint8_t> c, EmuClock::time_point now) {
  ChipReply r;
  if (c.size() < 4 || c.size() > 18 || c[2] == 0) {
    r.known = false;
    return r;
  }
  Pending p{cmd::kInAutoPoll, Bytes(c.begin() + 3, c.end()), {}, std::nullopt};
  const std::uint8_t poll_nr = c[1];
  if (poll_nr != 0xFF) {
    p.deadline =
        now + kAutoPollUnit * c[2] * static_cast<int>(p.types.size()) * std::max<int>(poll_nr, 1);
  }
  pending_ = std::move(p);
  if (auto d = poll(now)) r.data = std::move(d);
  return r;
}

std::optional<Bytes> Chip::poll(EmuClock::time_point now) {
  if (!pending_) return std::nullopt;
  if (pending_->command == cmd::kInAutoPoll) {
    for (auto type : pending_->types) {
      if (auto t = target_for_autopoll(type)) {
        pending_.reset();
        activated();
        Bytes d{cmd::kInAutoPoll + 1, 0x01, type, static_cast<std::uint8_t>(t->size())};
        d.insert(d.end(), t->begin(), t->end());
        return d;
      }
    }
    if (pending_->deadline && now >= *pending_->deadline) {
      pending_.reset();
      return Bytes{cmd::kInAutoPoll + 1, 0x00};
    }
    return std::nullopt;
  }
  if (pending_->command == cmd::kInListPassiveTarget) {
    if (auto t = target_for_list(pending_->types[0], pending_->initiator_data)) {
      pending_.reset();
      activated();
      Bytes d{cmd::kInListPassiveTarget + 1, 0x01};
      d.insert(d.end(), t->begin(), t->end());
      return d;
    }
  }
  return std::nullopt;
}

Bytes Chip::exchange(std::uint8_t rc, std::span<const std::uint8_t> payload) {
  if (!card_) return {rc, kStatusTimeout};  // the card left the field: no answer before timeout
  if (!selected_) return {rc, kStatusWrongContext};
  if (leave_after_) {
    if (*leave_after_ == 0) {
      // The card left the field mid-exchange: the chip hears nothing and times out.
      leave_after_.reset();
      remove();
      return {rc, kStatusTimeout};
    }
    --*leave_after_;
  }
  auto answer = card_answer(payload, false);
  if (!answer) return {rc, kStatusTimeout};
  Bytes d{rc, kStatusOk};
  d.insert(d.end(), answer->begin(), answer->end());
  return d;
}

std::optional<Bytes> Chip::card_answer(std::span<const std::uint8_t> f, bool raw) {
  if (f.empty()) return std::nullopt;
  const EmuCard& card = *card_;
  switch (card.kind) {
    case CardKind::kUltralight:
    case CardKind::kMifareClassic: {
      if (f[0] == 0x30 && f.size() >= 2) {  // READ: 16 bytes from the page/block
        Bytes d(16, 0x00);
        if (f[1] == 0x00)
          std::copy_n(card.uid.begin(), std::min<std::size_t>(card.uid.size(), 16), d.begin());
        return d;
      }
      if ((f[0] == 0x60 || f[0] == 0x61) && card.kind == CardKind::kMifareClassic) return Bytes{};
      if (f[0] == 0xA2 || f[0] == 0xA0) return Bytes{};  // WRITE acknowledged
      return std::nullopt;
    }
    case CardKind::kDesfire: {
      if (raw) {
        // ISO14443-4 block level (easy framing off): answer R(NAK) presence checks with R(ACK).
        if ((f[0] & 0xE6) == 0xA2) return Bytes{static_cast<std::uint8_t>(0xA2 | desfire_block_)};
        return std::nullopt;
      }
      // Native DESFire commands, plain or ISO 7816 wrapped, go to the card model.
      if (!card.desfire) return std::nullopt;
      return card.desfire->transceive(f);
    }
    case CardKind::kFelica: {
      // FeliCa frames are LEN CMD ...; LEN counts itself.
      if (f.size() < 2 || f[0] != f.size()) return std::nullopt;
      if (f[1] == 0x04 && f.size() >= 10 &&
          std::equal(card.uid.begin(), card.uid.end(), f.begin() + 2)) {
        Bytes d{0x0B, 0x05};  // Request Response: mode 0
        d.insert(d.end(), card.uid.begin(), card.uid.end());
        d.push_back(0x00);
        return d;
      }
      if (f[1] == 0x00) {  // Polling
        Bytes d = felica_target_data(f.subspan(1));
        d.erase(d.begin());  // no Tg on the air
        return d;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace labgate::drivers::pn532_emu
