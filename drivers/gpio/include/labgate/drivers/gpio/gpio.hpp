#pragma once
// Output and input lines over libgpiod 1.6 (the character-device GPIO interface).
// A line is named by its chip (name "gpiochip0", path "/dev/gpiochip0", label or number) and its
// offset on that chip. Construction never throws: a line that cannot be opened makes the object
// report kFatal (outputs) or nothing (inputs), with the reason in error().

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "labgate/drivers/devices.hpp"

struct gpiod_chip;
struct gpiod_line;

namespace labgate::drivers::gpio {

/// Where a line is and how it is wired.
struct LineSpec {
  std::string chip;        ///< chip name, path, label or number, as gpiod_chip_open_lookup takes
  unsigned offset{0};      ///< line offset on the chip
  bool active_low{false};  ///< true when the electrically low level means "on" / "active"
  std::string consumer{"labgate"};  ///< label the kernel shows for the requested line
};

/// A relay, strike, LED or beeper on a GPIO line. Requested as an output driven inactive ("off"),
/// so relays are off from the moment the line is taken; driven off again when destroyed.
class GpioOutput final : public Output {
 public:
  /// Opens and requests the line; on failure ok() is false and set() returns kFatal.
  GpioOutput(std::string id, LineSpec spec);
  ~GpioOutput() override;
  GpioOutput(const GpioOutput&) = delete;
  GpioOutput& operator=(const GpioOutput&) = delete;

  const std::string& id() const override { return id_; }
  /// Drives the line (logical level; active_low is applied by the kernel). kDone on success,
  /// kFatal when the line is not open or the kernel refuses (the device is gone).
  IoResult set(bool on) override;
  bool commanded() const override;

  /// True when the line was opened and requested.
  bool ok() const { return line_ != nullptr; }
  /// Why the line could not be opened or last failed; empty when fine.
  std::string error() const;

 private:
  std::string id_;
  LineSpec spec_;
  gpiod_chip* chip_{nullptr};
  gpiod_line* line_{nullptr};
  mutable std::mutex mutex_;
  bool commanded_{false};
  std::string error_;
};

/// A door contact, exit button, busy or fire-alarm input on a GPIO line. Watches both edges on
/// its own thread, waiting at most kPollInterval at a time so stop() returns promptly, and
/// reports a new level only after it stayed stable for the debounce time.
class GpioInput final : public Input {
 public:
  /// Longest single wait of the watcher thread; bounds how long stop() takes.
  static constexpr std::chrono::milliseconds kPollInterval{100};

  /// Opens and requests the line for edge events; on failure ok() is false and start() does
  /// nothing but log the error.
  GpioInput(std::string id, LineSpec spec,
            std::chrono::milliseconds debounce = std::chrono::milliseconds(30));
  ~GpioInput() override;
  GpioInput(const GpioInput&) = delete;
  GpioInput& operator=(const GpioInput&) = delete;

  const std::string& id() const override { return id_; }
  /// Reports the current level once, then every debounced change, from the watcher thread.
  /// Ignored while started or when the line is not open.
  void start(InputSink sink) override;
  /// Stops the watcher and joins it (at most about kPollInterval). Idempotent. Called from the
  /// sink itself it only asks the thread to end; no callback follows either way.
  void stop() override;

  /// True when the line was opened and requested.
  bool ok() const { return line_ != nullptr; }
  /// Why the line could not be opened or the watcher failed; empty when fine.
  std::string error() const;

 private:
  void watch(InputSink sink);
  void set_error(std::string text);

  std::string id_;
  LineSpec spec_;
  std::chrono::milliseconds debounce_;
  gpiod_chip* chip_{nullptr};
  gpiod_line* line_{nullptr};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string error_;
};

}  // namespace labgate::drivers::gpio
