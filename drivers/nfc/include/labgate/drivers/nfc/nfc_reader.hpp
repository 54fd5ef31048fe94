#pragma once
// A card reader behind libnfc (PN532 over UART, ACR122, ...), one reader per instance and thread.

#include <nfc/nfc-types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "labgate/drivers/devices.hpp"

namespace labgate::drivers::nfc {

/// Proves a card genuine on the reader's thread, on the reader's open device, before the card
/// is reported. The gateway supplies it with the key material; the reader knows no keys.
class CardAuthenticator {
 public:
  virtual ~CardAuthenticator() = default;
  /// Runs the exchange with the selected `target` and fills `card.proof` (and, for a card with
  /// random IDs, replaces `card.identifier` by the real UID). Never throws; leaves the target
  /// selected so the presence checks can follow.
  virtual void authenticate(nfc_device* device, const nfc_target& target, Card& card) = 0;
};

/// Configuration of one libnfc reader.
struct NfcReaderConfig {
  std::string id;          ///< reader id reported in every event
  std::string connstring;  ///< explicit libnfc connstring, e.g. "pn532_uart:/dev/ttyS0"
  bool iso14443a{true};    ///< poll ISO14443A 106 kbps (MIFARE, NTAG, DESFire)
  bool felica_212{true};   ///< poll FeliCa 212 kbps
  bool felica_424{true};   ///< poll FeliCa 424 kbps
  /// Pause between polling rounds while the field is empty (a round itself takes a few ms).
  std::chrono::milliseconds poll_interval{15};
  /// Pause between presence checks while a card is in the field.
  std::chrono::milliseconds presence_interval{40};
  /// Consecutive failed reader operations that declare the reader down.
  int failures_before_down{3};
  /// A reader with no successful operation for this long is declared down.
  std::chrono::milliseconds down_after{1500};
  /// First and largest delay between reopen attempts (doubling in between).
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{5000};
  /// Authenticates DESFire cards; nullptr = none, and every DESFire card is reported with a
  /// failed proof (it cannot be told from a clone).
  std::shared_ptr<CardAuthenticator> desfire;
};

/// libnfc reader backend. start() spawns the reader thread; it opens the device, polls the
/// configured modulations with nfc_initiator_select_passive_target (every libnfc call bounded by
/// libnfc's own timeouts), reports one kCardPresent per presentation and kCardRemoved when
/// nfc_initiator_target_is_present says the card left; reports kReaderDown (with the reason) after
/// repeated failures and reopens with exponential backoff, then kReaderUp.
class NfcReader final : public Reader {
 public:
  /// Takes the configuration; nothing is opened before start().
  explicit NfcReader(NfcReaderConfig config);
  /// Stops the thread.
  ~NfcReader() override;
  NfcReader(const NfcReader&) = delete;
  NfcReader& operator=(const NfcReader&) = delete;

  /// Configured identifier.
  const std::string& id() const override { return config_.id; }
  /// Starts the reader thread; events go to `sink` (called on that thread only).
  void start(ReaderSink sink) override;
  /// Aborts the running libnfc command (nfc_abort_command) and joins; idempotent.
  void stop() override;

 private:
  void run();
  bool wait_for(std::chrono::milliseconds d);  // false when stopping
  bool stopping() const;
  void emit(ReaderEvent::Kind kind, std::optional<Card> card, std::string detail,
            bool reader_lost = false);

  NfcReaderConfig config_;
  ReaderSink sink_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_{false};
  nfc_device* device_{nullptr};  // guarded by mutex_ for nfc_abort_command
};

}  // namespace labgate::drivers::nfc
