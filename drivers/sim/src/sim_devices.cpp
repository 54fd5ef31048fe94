#include "labgate/drivers/sim/sim_devices.hpp"

#include <algorithm>
#include <utility>

#include "callback_gate.hpp"

namespace labgate::drivers::sim {

const char* to_string(SimResult r) {
  switch (r) {
    case SimResult::kDelivered:
      return "delivered";
    case SimResult::kNotStarted:
      return "not started";
    case SimResult::kDown:
      return "down";
    case SimResult::kNoChange:
      return "no change";
  }
  return "unknown";
}

const char* to_string(InputKind kind) {
  switch (kind) {
    case InputKind::kDoorContact:
      return "door-contact";
    case InputKind::kExitButton:
      return "exit-button";
    case InputKind::kBusy:
      return "busy";
    case InputKind::kFireAlarm:
      return "fire-alarm";
  }
  return "unknown";
}

namespace {

ReaderEvent make_event(ReaderEvent::Kind kind, const std::string& reader_id, Clock::time_point at) {
  ReaderEvent e;
  e.kind = kind;
  e.reader_id = reader_id;
  e.at = at;
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
SimReader::SimReader(std::string id)
    : id_(std::move(id)), gate_(std::make_unique<detail::CallbackGate<ReaderEvent>>()) {}

SimReader::~SimReader() {
  stop();
}

void SimReader::start(ReaderSink sink) {
  auto delivery = gate_->lock();
  if (!gate_->open(std::move(sink))) return;
  std::optional<Card> card;
  bool down = false;
  std::string detail;
  {
    std::lock_guard lk(mutex_);
    card = card_;
    down = down_;
    detail = down_detail_;
  }
  const auto now = Clock::now();
  if (down) {
    auto e = make_event(ReaderEvent::Kind::kReaderDown, id_, now);
    e.detail = std::move(detail);
    gate_->emit(std::move(e));
  } else if (card) {
    auto e = make_event(ReaderEvent::Kind::kCardPresent, id_, now);
    e.card = std::move(card);
    gate_->emit(std::move(e));
  }
}

void SimReader::stop() {
  gate_->close();
}

SimResult SimReader::present(Card card, Clock::time_point at) {
  auto delivery = gate_->lock();
  if (!gate_->is_open()) return SimResult::kNotStarted;
  bool had_card = false;
  {
    std::lock_guard lk(mutex_);
    if (down_) return SimResult::kDown;
    had_card = card_.has_value();
    card_ = card;
    ++presentation_;
  }
  if (had_card) gate_->emit(make_event(ReaderEvent::Kind::kCardRemoved, id_, at));
  auto e = make_event(ReaderEvent::Kind::kCardPresent, id_, at);
  e.card = std::move(card);
  return gate_->emit(std::move(e)) ? SimResult::kDelivered : SimResult::kNotStarted;
}

SimResult SimReader::remove(Clock::time_point at) {
  auto delivery = gate_->lock();
  {
    std::lock_guard lk(mutex_);
    if (!card_) return SimResult::kNoChange;
    card_.reset();
  }
  // Taking a card off a stopped reader is still a change of the simulated world.
  if (!gate_->is_open()) return SimResult::kNotStarted;
  return gate_->emit(make_event(ReaderEvent::Kind::kCardRemoved, id_, at)) ? SimResult::kDelivered
                                                                           : SimResult::kNotStarted;
}

SimResult SimReader::fail(std::string detail, Clock::time_point at) {
  auto delivery = gate_->lock();
  {
    std::lock_guard lk(mutex_);
    if (down_) return SimResult::kNoChange;
    down_ = true;
    down_detail_ = detail;
    card_.reset();
  }
  auto e = make_event(ReaderEvent::Kind::kReaderDown, id_, at);
  e.detail = std::move(detail);
  return gate_->emit(std::move(e)) ? SimResult::kDelivered : SimResult::kNotStarted;
}

SimResult SimReader::recover(Clock::time_point at) {
  auto delivery = gate_->lock();
  {
    std::lock_guard lk(mutex_);
    if (!down_) return SimResult::kNoChange;
    down_ = false;
    down_detail_.clear();
  }
  return gate_->emit(make_event(ReaderEvent::Kind::kReaderUp, id_, at)) ? SimResult::kDelivered
                                                                        : SimResult::kNotStarted;
}

bool SimReader::started() const {
  return gate_->is_open();
}

bool SimReader::down() const {
  std::lock_guard lk(mutex_);
  return down_;
}

std::optional<Card> SimReader::card() const {
  std::lock_guard lk(mutex_);
  return card_;
}

std::uint64_t SimReader::presentation() const {
  std::lock_guard lk(mutex_);
  return presentation_;
}

// ---------------------------------------------------------------------------------------------
SimOutput::SimOutput(std::string id, std::size_t history_limit)
    : id_(std::move(id)), history_limit_(std::max<std::size_t>(history_limit, 1)) {}

IoResult SimOutput::set(bool on) {
  std::lock_guard lk(mutex_);
  commanded_ = on;
  if (fault_) return *fault_;
  if (level_ != on) {
    level_ = on;
    ++change_count_;
    history_.push_back(OutputChange{Clock::now(), on});
    while (history_.size() > history_limit_) history_.pop_front();
  }
  return IoResult::kDone;
}

bool SimOutput::commanded() const {
  std::lock_guard lk(mutex_);
  return commanded_;
}

bool SimOutput::level() const {
  std::lock_guard lk(mutex_);
  return level_;
}

std::vector<OutputChange> SimOutput::history() const {
  std::lock_guard lk(mutex_);
  return {history_.begin(), history_.end()};
}

std::uint64_t SimOutput::change_count() const {
  std::lock_guard lk(mutex_);
  return change_count_;
}

void SimOutput::inject_fault(std::optional<IoResult> result) {
  std::lock_guard lk(mutex_);
  if (result == IoResult::kDone) result.reset();
  fault_ = result;
}

std::optional<IoResult> SimOutput::fault() const {
  std::lock_guard lk(mutex_);
  return fault_;
}

// ---------------------------------------------------------------------------------------------
SimInput::SimInput(std::string id, InputKind kind, bool initial)
    : id_(std::move(id)),
      kind_(kind),
      gate_(std::make_unique<detail::CallbackGate<InputEvent>>()),
      level_(initial) {}

SimInput::~SimInput() {
  stop();
}

void SimInput::start(InputSink sink) {
  auto delivery = gate_->lock();
  if (!gate_->open(std::move(sink))) return;
  gate_->emit(InputEvent{id_, level(), Clock::now()});
}

void SimInput::stop() {
  gate_->close();
}

SimResult SimInput::set(bool active, Clock::time_point at) {
  auto delivery = gate_->lock();
  {
    std::lock_guard lk(mutex_);
    if (level_ == active) return SimResult::kNoChange;
    level_ = active;
  }
  return gate_->emit(InputEvent{id_, active, at}) ? SimResult::kDelivered : SimResult::kNotStarted;
}

bool SimInput::level() const {
  std::lock_guard lk(mutex_);
  return level_;
}

bool SimInput::started() const {
  return gate_->is_open();
}

}  // namespace labgate::drivers::sim
