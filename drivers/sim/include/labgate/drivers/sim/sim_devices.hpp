#pragma once
// Simulated devices: the Reader / Output / Input interfaces with no hardware behind them. The
// simulation controls (present(), set(), ...) may be called from any thread; each event is handed
// to the sink synchronously on the calling thread, and events of one device are delivered one at a
// time, in order. After stop() returns no further callback runs (a stop() made from inside the
// sink itself returns at once; later deliveries are dropped).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"

namespace labgate::drivers::sim {

namespace detail {
template <class Event>
class CallbackGate;
}  // namespace detail

/// What became of a simulated stimulus.
enum class SimResult {
  kDelivered,   ///< the state changed and the event reached the sink
  kNotStarted,  ///< the device has no sink (never started, or stopped); nothing changed
  kDown,        ///< the reader is simulating a failure; nothing changed
  kNoChange,    ///< nothing to report (no card to remove, level already set, already down/up)
};

/// Stable lowercase name of a SimResult ("delivered", "not started", "down", "no change").
const char* to_string(SimResult r);

/// A simulated card reader. Remembers the card currently in its field.
class SimReader final : public Reader {
 public:
  /// A reader with the given configured id; stopped, up, with no card.
  explicit SimReader(std::string id);
  ~SimReader() override;
  SimReader(const SimReader&) = delete;
  SimReader& operator=(const SimReader&) = delete;

  const std::string& id() const override { return id_; }
  /// Begins delivering events. A card already in the field is reported (kCardPresent) and a
  /// simulated failure is reported (kReaderDown). Ignored while already started.
  void start(ReaderSink sink) override;
  /// Stops delivering; returns once no callback can run any more. Idempotent; start() may follow.
  void stop() override;

  /// A card enters the field. A card still in the field leaves it first
  /// (kCardRemoved, then kCardPresent). `at` becomes the event's timestamp.
  SimResult present(Card card, Clock::time_point at = Clock::now());
  /// The card leaves the field (kCardRemoved); kNoChange when the field is empty.
  SimResult remove(Clock::time_point at = Clock::now());
  /// Simulates a failure (kReaderDown with `detail`). The card in the field is forgotten without
  /// a kCardRemoved event, as a reader that stopped answering cannot see it leave. When stopped,
  /// only the state changes (start() then reports it).
  SimResult fail(std::string detail, Clock::time_point at = Clock::now());
  /// Ends a simulated failure (kReaderUp).
  SimResult recover(Clock::time_point at = Clock::now());

  /// True between start() and stop().
  bool started() const;
  /// True while a failure is simulated.
  bool down() const;
  /// The card in the field, if any.
  std::optional<Card> card() const;
  /// Number of presentations so far; lets a caller tell "the same card still lies there" from
  /// "it was taken away and put back".
  std::uint64_t presentation() const;

 private:
  std::string id_;
  std::unique_ptr<detail::CallbackGate<ReaderEvent>> gate_;
  mutable std::mutex mutex_;  // guards the simulated state below
  std::optional<Card> card_;
  bool down_{false};
  std::string down_detail_;
  std::uint64_t presentation_{0};
};

/// One recorded level change of a SimOutput.
struct OutputChange {
  Clock::time_point at{};
  bool on{false};
};

/// A simulated output line (relay, strike, LED, beeper). Records its level and a bounded history
/// of level changes; can be told to fail.
class SimOutput final : public Output {
 public:
  /// Default number of changes kept by history().
  static constexpr std::size_t kDefaultHistory = 256;

  /// An output with the given id, off, keeping at most `history_limit` changes (at least 1).
  explicit SimOutput(std::string id, std::size_t history_limit = kDefaultHistory);

  const std::string& id() const override { return id_; }
  /// Records the command. Returns kDone and changes the level, unless a fault is injected: then
  /// returns that result and the level stays (commanded() still records the command).
  IoResult set(bool on) override;
  bool commanded() const override;

  /// The simulated physical level (what a relay contact would be).
  bool level() const;
  /// Level changes, oldest first; at most the history limit, the oldest dropped first.
  std::vector<OutputChange> history() const;
  /// Number of level changes since construction (not bounded by the history limit).
  std::uint64_t change_count() const;
  /// Makes every following set() return `result` without changing the level (kRetry: a remote
  /// actuator not answering; kFatal: a dead driver). nullopt or kDone clears the fault.
  void inject_fault(std::optional<IoResult> result);
  /// The injected fault, if any.
  std::optional<IoResult> fault() const;

 private:
  std::string id_;
  std::size_t history_limit_;
  mutable std::mutex mutex_;
  bool commanded_{false};
  bool level_{false};
  std::deque<OutputChange> history_;
  std::uint64_t change_count_{0};
  std::optional<IoResult> fault_;
};

/// A simulated binary input (door contact, exit button, busy sense, fire alarm).
class SimInput final : public Input {
 public:
  /// An input with the given id and kind, at level `initial` (true = active).
  SimInput(std::string id, InputKind kind, bool initial = false);
  ~SimInput() override;
  SimInput(const SimInput&) = delete;
  SimInput& operator=(const SimInput&) = delete;

  const std::string& id() const override { return id_; }
  /// Reports the current level once, then every change. Ignored while already started.
  void start(InputSink sink) override;
  /// Stops reporting; returns once no callback can run any more. Idempotent.
  void stop() override;

  /// Drives the simulated line. The level changes even when stopped (start() reports it);
  /// kDelivered when a change reached the sink, kNoChange when the level was already `active`.
  SimResult set(bool active, Clock::time_point at = Clock::now());
  /// Current simulated level.
  bool level() const;
  /// Kind given at construction.
  InputKind kind() const { return kind_; }
  /// True between start() and stop().
  bool started() const;

 private:
  std::string id_;
  InputKind kind_;
  std::unique_ptr<detail::CallbackGate<InputEvent>> gate_;
  mutable std::mutex mutex_;
  bool level_;
};

/// Stable lowercase name of an input kind ("door-contact", "exit-button", "busy", "fire-alarm").
const char* to_string(InputKind kind);

}  // namespace labgate::drivers::sim
