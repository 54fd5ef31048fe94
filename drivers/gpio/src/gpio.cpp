#include "labgate/drivers/gpio/gpio.hpp"

#include <gpiod.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace labgate::drivers::gpio {

namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string describe(const LineSpec& spec) {
  return "gpio " + spec.chip + ":" + std::to_string(spec.offset);
}

int request_flags(const LineSpec& spec) {
  return spec.active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
}

// Opens the chip and looks up the line; on failure returns the reason and leaves both null.
std::string open_line(const LineSpec& spec, gpiod_chip*& chip, gpiod_line*& line) {
  line = nullptr;
  chip = ::gpiod_chip_open_lookup(spec.chip.c_str());
  if (chip == nullptr) return errno_text("cannot open gpio chip '" + spec.chip + "'");
  line = ::gpiod_chip_get_line(chip, spec.offset);
  if (line == nullptr) {
    auto why =
        errno_text("no line " + std::to_string(spec.offset) + " on gpio chip '" + spec.chip + "'");
    ::gpiod_chip_close(chip);
    chip = nullptr;
    return why;
  }
  return {};
}

void close_line(gpiod_chip*& chip, gpiod_line*& line) {
  if (line != nullptr) ::gpiod_line_release(line);
  if (chip != nullptr) ::gpiod_chip_close(chip);
  line = nullptr;
  chip = nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
GpioOutput::GpioOutput(std::string id, LineSpec spec) : id_(std::move(id)), spec_(std::move(spec)) {
  gpiod_line* line = nullptr;
  error_ = open_line(spec_, chip_, line);
  if (line == nullptr) return;
  if (::gpiod_line_request_output_flags(line, spec_.consumer.c_str(), request_flags(spec_), 0) !=
      0) {
    error_ = errno_text("cannot request " + describe(spec_) + " as output");
    ::gpiod_chip_close(chip_);
    chip_ = nullptr;
    return;
  }
  line_ = line;
}

GpioOutput::~GpioOutput() {
  // Fail safe: whatever the line drives is switched off when the daemon lets go of it.
  if (line_ != nullptr) ::gpiod_line_set_value(line_, 0);
  close_line(chip_, line_);
}

IoResult GpioOutput::set(bool on) {
  std::lock_guard lk(mutex_);
  commanded_ = on;
  if (line_ == nullptr) return IoResult::kFatal;
  if (::gpiod_line_set_value(line_, on ? 1 : 0) != 0) {
    error_ = errno_text("cannot drive " + describe(spec_));
    return IoResult::kFatal;
  }
  return IoResult::kDone;
}

bool GpioOutput::commanded() const {
  std::lock_guard lk(mutex_);
  return commanded_;
}

std::string GpioOutput::error() const {
  std::lock_guard lk(mutex_);
  return error_;
}

// ---------------------------------------------------------------------------------------------
GpioInput::GpioInput(std::string id, LineSpec spec, std::chrono::milliseconds debounce)
    : id_(std::move(id)),
      spec_(std::move(spec)),
      debounce_(std::max(debounce, std::chrono::milliseconds(0))) {
  gpiod_line* line = nullptr;
  error_ = open_line(spec_, chip_, line);
  if (line == nullptr) return;
  if (::gpiod_line_request_both_edges_events_flags(line, spec_.consumer.c_str(),
                                                   request_flags(spec_)) != 0) {
    error_ = errno_text("cannot request edge events on " + describe(spec_));
    ::gpiod_chip_close(chip_);
    chip_ = nullptr;
    return;
  }
  line_ = line;
}

GpioInput::~GpioInput() {
  stop();
  // A stop() from inside the sink could not join; the thread has been told to end.
  if (thread_.joinable()) thread_.join();
  close_line(chip_, line_);
}

void GpioInput::start(InputSink sink) {
  if (line_ == nullptr) return;
  if (thread_.joinable()) {
    if (!stopping_ || thread_.get_id() == std::this_thread::get_id()) return;
    thread_.join();
  }
  stopping_ = false;
  thread_ = std::thread([this, s = std::move(sink)]() mutable { watch(std::move(s)); });
}

void GpioInput::stop() {
  stopping_ = true;
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string GpioInput::error() const {
  std::lock_guard lk(mutex_);
  return error_;
}

void GpioInput::set_error(std::string text) {
  std::lock_guard lk(mutex_);
  error_ = std::move(text);
}

void GpioInput::watch(InputSink sink) {
  using std::chrono::steady_clock;
  auto deliver = [&](bool active) {
    if (!stopping_) sink(InputEvent{id_, active, Clock::now()});
  };
  const int initial = ::gpiod_line_get_value(line_);
  if (initial < 0) {
    set_error(errno_text("cannot read " + describe(spec_)));
    return;
  }
  bool reported = initial != 0;
  deliver(reported);

  bool settling = false;
  auto last_edge = steady_clock::now();
  while (!stopping_) {
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(kPollInterval);
    if (settling) {
      const auto left = last_edge + debounce_ - steady_clock::now();
      wait = std::clamp(std::chrono::duration_cast<std::chrono::nanoseconds>(left),
                        std::chrono::nanoseconds(0), wait);
    }
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(wait.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(wait.count() % 1'000'000'000);
    const int r = ::gpiod_line_event_wait(line_, &ts);
    if (r < 0) {
      if (errno == EINTR) continue;
      set_error(errno_text("waiting for events on " + describe(spec_) + " failed"));
      return;
    }
    if (r > 0) {
      // Only the fact that the line moved matters; the level is sampled once it has settled.
      gpiod_line_event events[16];
      if (::gpiod_line_event_read_multiple(line_, events, 16) < 0) {
        set_error(errno_text("reading events on " + describe(spec_) + " failed"));
        return;
      }
      settling = true;
      last_edge = steady_clock::now();
    }
    if (settling && steady_clock::now() - last_edge >= debounce_) {
      settling = false;
      const int v = ::gpiod_line_get_value(line_);
      if (v < 0) {
        set_error(errno_text("cannot read " + describe(spec_)));
        return;
      }
      if ((v != 0) != reported) {
        reported = v != 0;
        deliver(reported);
      }
    }
  }
}

}  // namespace labgate::drivers::gpio
