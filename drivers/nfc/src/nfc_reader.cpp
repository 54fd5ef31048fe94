#include "labgate/drivers/nfc/nfc_reader.hpp"

#include <nfc/nfc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace labgate::drivers::nfc {
namespace {

std::string error_text(nfc_device* dev, int res) {
  switch (res) {
    case NFC_EIO:
      return "input/output error (malformed or corrupt frame)";
    case NFC_ETIMEOUT:
      return "timeout (reader not answering)";
    case NFC_EOPABORTED:
      return "operation aborted";
    case NFC_ERFTRANS:
      return "RF transmission error";
    case NFC_ECHIP:
      return "chip error";
    case NFC_EINVARG:
      return "invalid argument";
    case NFC_EDEVNOTSUPP:
      return "not supported by device";
    case NFC_ENOTIMPL:
      return "not implemented";
    case NFC_ESOFT:
      return "software error";
    default:
      break;
  }
  return dev ? std::string(nfc_strerror(dev)) : "error " + std::to_string(res);
}

// Turns what libnfc decoded into a Card, or explains why the target is not believable.
std::optional<Card> card_from_target(const nfc_target& t, std::string& why) {
  Card c;
  if (t.nm.nmt == NMT_ISO14443A) {
    const nfc_iso14443a_info& a = t.nti.nai;
    if (a.szUidLen != 4 && a.szUidLen != 7 && a.szUidLen != 10) {
      why = "ISO14443A UID of impossible length " + std::to_string(a.szUidLen);
      return std::nullopt;
    }
    if (a.btSak & 0x04) {
      why = "SAK says the UID is incomplete";
      return std::nullopt;
    }
    if (a.szAtsLen > sizeof a.abtAts) {
      why = "ATS of impossible length";
      return std::nullopt;
    }
    c.identifier.assign(a.abtUid, a.abtUid + a.szUidLen);
    const bool iso14443_4 = (a.btSak & 0x20) != 0;
    const bool desfire_atqa = a.abtAtqa[0] == 0x03 && a.abtAtqa[1] == 0x44;
    c.technology = (iso14443_4 && desfire_atqa && a.szAtsLen > 0) ? CardTechnology::kDesfire
                                                                  : CardTechnology::kIso14443aUid;
    return c;
  }
  if (t.nm.nmt == NMT_FELICA) {
    const nfc_felica_info& f = t.nti.nfi;
    if (f.szLen < 18 || f.btResCode != 0x01) {
      why = "FeliCa polling response malformed (length " + std::to_string(f.szLen) + ")";
      return std::nullopt;
    }
    c.technology = CardTechnology::kFelica;
    c.identifier.assign(f.abtId, f.abtId + 8);
    return c;
  }
  why = "unexpected modulation";
  return std::nullopt;
}

}  // namespace

NfcReader::NfcReader(NfcReaderConfig config) : config_(std::move(config)) {}

NfcReader::~NfcReader() {
  stop();
}

void NfcReader::start(ReaderSink sink) {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  sink_ = std::move(sink);
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void NfcReader::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    // Unblocks a receive in progress; libnfc answers the chip with an ACK to cancel the command.
    if (device_) nfc_abort_command(device_);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool NfcReader::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool NfcReader::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void NfcReader::emit(ReaderEvent::Kind kind, std::optional<Card> card, std::string detail,
                     bool reader_lost) {
  ReaderEvent e;
  e.reader_lost = reader_lost;
  e.kind = kind;
  e.reader_id = config_.id;
  e.card = std::move(card);
  e.detail = std::move(detail);
  e.at = Clock::now();
  if (sink_) sink_(std::move(e));
}

void NfcReader::run() {
  nfc_context* ctx = nullptr;
  nfc_init(&ctx);
  if (!ctx) {
    spdlog::error("reader {}: nfc_init failed", config_.id);
    emit(ReaderEvent::Kind::kReaderDown, std::nullopt, "libnfc initialisation failed");
    return;
  }
  std::vector<nfc_modulation> modulations;
  if (config_.iso14443a) modulations.push_back({NMT_ISO14443A, NBR_106});
  if (config_.felica_212) modulations.push_back({NMT_FELICA, NBR_212});
  if (config_.felica_424) modulations.push_back({NMT_FELICA, NBR_424});

  auto backoff = config_.backoff_initial;
  bool down_reported = false;
  while (!stopping()) {
    std::string reason;
    nfc_device* dev = nfc_open(ctx, config_.connstring.c_str());
    if (!dev) {
      reason = "cannot open " + config_.connstring;
    } else if (int r = nfc_initiator_init(dev); r < 0) {
      reason = "initiator init failed: " + error_text(dev, r);
    } else if (int r2 = nfc_device_set_property_bool(dev, NP_INFINITE_SELECT, false); r2 < 0) {
      // A finite retry count makes the chip answer "no target" instead of waiting for a card.
      reason = "cannot configure retries: " + error_text(dev, r2);
    }
    if (!reason.empty()) {
      if (dev) nfc_close(dev);
      spdlog::warn("reader {}: {}; retrying in {} ms", config_.id, reason, backoff.count());
      if (!down_reported) {
        emit(ReaderEvent::Kind::kReaderDown, std::nullopt, reason);
        down_reported = true;
      }
      if (!wait_for(backoff)) break;
      backoff = std::min(backoff * 2, config_.backoff_max);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      device_ = dev;
    }
    backoff = config_.backoff_initial;
    down_reported = false;
    spdlog::info("reader {}: up ({})", config_.id, nfc_device_get_name(dev));
    emit(ReaderEvent::Kind::kReaderUp, std::nullopt, nfc_device_get_name(dev));

    // --- one session with an open device -------------------------------------------------------
    int failures = 0;
    auto last_ok = Clock::now();
    std::optional<Card> card;
    nfc_target current{};
    std::string down_reason;
    auto failed = [&](const char* op, int res) {
      ++failures;
      const std::string text = std::string(op) + ": " + error_text(dev, res);
      spdlog::warn("reader {}: {} (failure {} in a row)", config_.id, text, failures);
      if (failures >= config_.failures_before_down || Clock::now() - last_ok > config_.down_after) {
        down_reason = text;
      }
    };
    auto succeeded = [&] {
      failures = 0;
      last_ok = Clock::now();
    };
    while (!stopping() && down_reason.empty()) {
      if (!card) {
        bool found = false;
        for (const auto& nm : modulations) {
          nfc_target t{};
          int res = nfc_initiator_select_passive_target(dev, nm, nullptr, 0, &t);
          if (stopping()) break;
          if (res < 0) {
            failed("select", res);
            break;
          }
          succeeded();
          if (res == 0) continue;
          std::string why;
          auto c = card_from_target(t, why);
          if (!c) {
            spdlog::warn("reader {}: ignoring target: {}", config_.id, why);
            nfc_initiator_deselect_target(dev);
            failed("select", NFC_EIO);
            break;
          }
          if (c->technology == CardTechnology::kDesfire) {
            // On this thread, before the loop hears of the card: a DESFire card is only
            // believed once it has proved it holds its diversified key.
            if (config_.desfire) {
              config_.desfire->authenticate(dev, t, *c);
            } else {
              c->proof = CardProof{false, 0, 0, "this reader has no DESFire keys"};
            }
            if (stopping()) break;
            if (!c->proof || !c->proof->authenticated)
              spdlog::warn("reader {}: DESFire card {} not authenticated: {}", config_.id,
                           to_hex(c->identifier), c->proof ? c->proof->failure : "no proof");
          }
          spdlog::info("reader {}: card {} {}", config_.id, to_string(c->technology),
                       to_hex(c->identifier));
          current = t;
          card = c;
          emit(ReaderEvent::Kind::kCardPresent, c, {});
          found = true;
          break;
        }
        if (!found && down_reason.empty()) wait_for(config_.poll_interval);
        continue;
      }
      int res = nfc_initiator_target_is_present(dev, &current);
      if (stopping()) break;
      if (res == NFC_SUCCESS) {
        succeeded();
        wait_for(config_.presence_interval);
        continue;
      }
      if (res == NFC_ETGRELEASED) {
        succeeded();
        spdlog::info("reader {}: card {} removed", config_.id, to_hex(card->identifier));
        emit(ReaderEvent::Kind::kCardRemoved, card, {});
        card.reset();
        nfc_initiator_deselect_target(dev);
        continue;
      }
      failed("presence check", res);
    }
    {
      std::lock_guard lock(mutex_);
      device_ = nullptr;
    }
    if (card)
      emit(ReaderEvent::Kind::kCardRemoved, card,
           down_reason.empty() ? "reader stopped" : "reader down", !down_reason.empty());
    if (!down_reason.empty()) {
      spdlog::error("reader {}: down: {}", config_.id, down_reason);
      emit(ReaderEvent::Kind::kReaderDown, std::nullopt, down_reason);
      down_reported = true;
    }
    nfc_close(dev);
    if (!down_reason.empty() && !wait_for(backoff)) break;
  }
  nfc_exit(ctx);
}

}  // namespace labgate::drivers::nfc
