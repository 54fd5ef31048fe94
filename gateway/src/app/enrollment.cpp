#include "labgate/gateway/app/enrollment.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

namespace labgate::gateway::app {

Enrollments::Enrollments(std::set<std::string> readers, Clock& clock)
    : readers_(std::move(readers)), clock_(clock) {}

std::string Enrollments::arm_command(const std::vector<std::string>& args) {
  if (args.size() < 2 || args.size() > 4) {
    return "err usage: enroll <reader> <member_no> [timeout_s] [actor]";
  }
  const std::string& reader = args[0];
  if (!readers_.count(reader)) return "err unknown reader " + reader;
  std::chrono::seconds timeout = kDefaultTimeout;
  if (args.size() >= 3) {
    long s = 0;
    const auto& t = args[2];
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), s);
    if (ec != std::errc{} || end != t.data() + t.size() || s <= 0 || s > kMaxTimeout.count()) {
      return "err timeout must be 1.." + std::to_string(kMaxTimeout.count()) + " seconds";
    }
    timeout = std::chrono::seconds(s);
  }
  Slot slot;
  slot.member_no = args[1];
  slot.actor = args.size() == 4 ? args[3] : std::string("enroll@") + reader;
  slot.deadline = clock_.mono() + timeout;
  slots_[reader] = std::move(slot);
  spdlog::info("reader {} armed to enroll the next card for {} ({} s)", reader, args[1],
               timeout.count());
  return "ok armed " + reader;
}

void Enrollments::expire(Slot& slot) const {
  if (slot.state == State::kWaiting && clock_.mono() >= slot.deadline) {
    slot.state = State::kTimeout;
    slot.result = "err timeout";
  }
}

std::string Enrollments::status_command(const std::vector<std::string>& args) {
  if (args.size() != 1) return "err usage: enroll-status <reader>";
  auto it = slots_.find(args[0]);
  if (it == slots_.end()) return "err not armed " + args[0];
  expire(it->second);
  return it->second.state == State::kWaiting ? "ok waiting" : it->second.result;
}

std::string Enrollments::cancel_command(const std::vector<std::string>& args) {
  if (args.size() != 1) return "err usage: enroll-cancel <reader>";
  auto it = slots_.find(args[0]);
  if (it == slots_.end()) return "err not armed " + args[0];
  expire(it->second);
  if (it->second.state != State::kWaiting) return "err finished";
  it->second.state = State::kCancelled;
  it->second.result = "err cancelled";
  spdlog::info("reader {}: enrolment for {} cancelled", args[0], it->second.member_no);
  return "ok cancelled";
}

bool Enrollments::intercept(const drivers::ReaderEvent& event, store::Store& store,
                            Site::TapDone& done) {
  auto it = slots_.find(event.reader_id);
  if (it == slots_.end() || !event.card) return false;
  Slot& slot = it->second;
  expire(slot);
  if (slot.state != State::kWaiting) return false;

  const char* tech = drivers::to_string(event.card->technology);
  auto r = store.staff().enroll_credential(slot.member_no, tech, event.card->identifier,
                                           "enrolled at " + event.reader_id, slot.actor);
  TapOutcome outcome;
  outcome.target = event.reader_id;
  outcome.member_no = slot.member_no;
  if (r.ok()) {
    slot.state = State::kEnrolled;
    slot.result = "ok enrolled " + slot.member_no + " " + tech +
                  " credential=" + std::to_string(r.value().id);
    outcome.reason = "enrolled";
    spdlog::info("reader {}: {} card enrolled for {} (credential {})", event.reader_id, tech,
                 slot.member_no, r.value().id);
  } else {
    slot.state = State::kFailed;
    slot.result = "err " + r.error().message;
    outcome.reason = "enroll_failed";
    outcome.detail = r.error().message;
    spdlog::warn("reader {}: enrolling a {} card for {} failed: {}", event.reader_id, tech,
                 slot.member_no, r.error().message);
  }
  if (done) done(outcome);
  return true;
}

}  // namespace labgate::gateway::app
