#pragma once
// Narrow hardware interfaces shared by every backend (simulated, libnfc, libgpiod, MQTT plugs).
// Backends may run their own threads; every callback they make may arrive on any thread, so the
// receiver (the gateway) posts it to its event loop and never does work inside the callback.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace labgate::drivers {

/// Monotonic clock used for every device timestamp.
using Clock = std::chrono::steady_clock;

/// Outcome class of a device operation, after libosdp's channel contract.
enum class IoResult {
  kDone,   ///< the operation took effect
  kRetry,  ///< transient failure (bus busy, reader reopening); try again later
  kFatal,  ///< the device is gone or misconfigured; the caller fails safe
};

/// Radio technology a card answered with. Decides whether a site accepts it.
enum class CardTechnology {
  kIso14443aUid,  ///< MIFARE Classic/Ultralight/NTAG: UID only, clonable
  kFelica,        ///< FeliCa IDm (Suica, PASMO, ...): clonable
  kDesfire,       ///< DESFire EV1+: believed only after AES authentication (CardProof)
};

/// Stable lowercase name of a technology ("iso14443a", "felica", "desfire").
const char* to_string(CardTechnology t);
/// Parses a technology name; nullopt when unknown.
std::optional<CardTechnology> parse_card_technology(const std::string& s);

/// What the reader proved about a DESFire card before reporting it.
struct CardProof {
  /// AES mutual authentication with the card's diversified read key, then the credential file
  /// read with MACed communication and its MAC checked against the card's real UID.
  bool authenticated{false};
  std::uint64_t credential{0};  ///< credential id from the file (authenticated only)
  std::uint8_t key_version{0};  ///< site key version of the card's keys (authenticated only)
  std::string failure;          ///< why not authenticated: step and cause, for the log
};

/// A card as a reader saw it. `identifier` is the UID or IDm, raw bytes; for an authenticated
/// DESFire card it is the real UID (read with GetCardUID when the card uses random IDs).
struct Card {
  CardTechnology technology{CardTechnology::kIso14443aUid};
  std::vector<std::uint8_t> identifier;
  std::optional<CardProof> proof{};  ///< set for DESFire cards by a reader that authenticates
};

/// Something a reader reports.
struct ReaderEvent {
  enum class Kind {
    kCardPresent,  ///< a card entered the field (one per presentation, not per poll)
    kCardRemoved,  ///< the card that was present left the field
    kReaderDown,   ///< the reader stopped answering or was unplugged
    kReaderUp,     ///< the reader is (again) working
  };
  Kind kind{Kind::kCardPresent};
  std::string reader_id;
  std::optional<Card> card;  ///< set for kCardPresent
  std::string detail;        ///< human-readable cause for kReaderDown
  /// kCardRemoved: the card was not seen to leave; the reader went down with it in the field,
  /// and its kReaderDown follows. A consumer that treats a down reader on its own (a machine
  /// winding its session down "because the reader is down") can ignore such a removal.
  bool reader_lost{false};
  Clock::time_point at{};
};

/// Receives reader events; called from the reader's own thread.
using ReaderSink = std::function<void(ReaderEvent)>;

/// A card reader. start() begins delivering events to the sink; stop() returns once no further
/// callback can run.
class Reader {
 public:
  virtual ~Reader() = default;
  /// Configured identifier of this reader.
  virtual const std::string& id() const = 0;
  /// Begins reading; events go to `sink` until stop().
  virtual void start(ReaderSink sink) = 0;
  /// Stops reading and joins any thread; idempotent.
  virtual void stop() = 0;
};

/// A binary output line: door strike, machine relay or contactor, LED, beeper.
class Output {
 public:
  virtual ~Output() = default;
  /// Configured identifier of this output.
  virtual const std::string& id() const = 0;
  /// Drives the line. Never blocks on the network; a remote actuator reports kRetry until it
  /// confirms and reports its confirmation through its own event path.
  virtual IoResult set(bool on) = 0;
  /// Last value commanded through set().
  virtual bool commanded() const = 0;
};

/// Kinds of binary input the gateway understands.
enum class InputKind {
  kDoorContact,  ///< active = door open
  kExitButton,   ///< active = pressed
  kBusy,         ///< active = machine busy (current sense, printer job running)
  kFireAlarm,    ///< active = fire alarm release asserted
};

/// A change of a binary input.
struct InputEvent {
  std::string input_id;
  bool active{false};
  Clock::time_point at{};
};

/// Receives input changes; called from the input's own thread or the loop.
using InputSink = std::function<void(InputEvent)>;

/// A binary input line. Reports its current level at start() and every change after it.
class Input {
 public:
  virtual ~Input() = default;
  /// Configured identifier of this input.
  virtual const std::string& id() const = 0;
  /// Begins watching; the current level is reported once, then every change.
  virtual void start(InputSink sink) = 0;
  /// Stops watching; idempotent.
  virtual void stop() = 0;
};

/// Hex encoding of an identifier, lowercase, no separators ("04a1b2c3").
std::string to_hex(const std::vector<std::uint8_t>& bytes);
/// Parses hex (separators ':' '-' ' ' allowed); nullopt on odd length or bad digit.
std::optional<std::vector<std::uint8_t>> from_hex(const std::string& text);

}  // namespace labgate::drivers
