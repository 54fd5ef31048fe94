#include "jobs.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <stdexcept>
#include <thread>

namespace labgate::gateway::console {

namespace {
// Finished jobs kept for their pages; older ones are forgotten.
constexpr std::size_t kKeep = 64;
}  // namespace

void JobProgress::phase(std::string phase, std::int64_t total) {
  std::lock_guard lock(mu_);
  state_.phase = std::move(phase);
  state_.done = 0;
  state_.total = total;
}

void JobProgress::advance(std::int64_t n) {
  std::lock_guard lock(mu_);
  state_.done += n;
}

Jobs::~Jobs() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return running_ == 0; });
}

std::pair<std::string, bool> Jobs::start(const std::string& key, const std::string& owner,
                                         Work work) {
  std::lock_guard lock(mu_);
  for (const auto& [id, job] : jobs_) {
    if (job.key == key && job.stage == JobState::Stage::kRunning) return {id, false};
  }
  // A counter first so the map keeps jobs in the order they started (the oldest is forgotten
  // first), then random bytes so that an id cannot be guessed from another.
  unsigned char raw[12];
  randombytes_buf(raw, sizeof raw);
  std::string id = fmt::format("{:08}-", next_++);
  for (const unsigned char b : raw) id += fmt::format("{:02x}", b);
  JobState& state = jobs_[id];
  state.id = id;
  state.key = key;
  state.owner = owner;
  state.phase = "job.queued";
  while (jobs_.size() > kKeep) {
    auto oldest = jobs_.end();
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (it->second.stage != JobState::Stage::kRunning && it->first != id) {
        oldest = it;
        break;
      }
    }
    if (oldest == jobs_.end()) break;
    jobs_.erase(oldest);
  }
  ++running_;
  // Detached, so a finished job leaves no thread to join; the destructor waits for running_.
  std::thread([this, &state, work = std::move(work)] {
    JobProgress progress(mu_, state);
    std::string result;
    std::string error;
    bool ok = true;
    try {
      result = work(progress);
    } catch (const std::exception& e) {
      ok = false;
      error = e.what();
    }
    std::lock_guard done_lock(mu_);
    state.stage = ok ? JobState::Stage::kDone : JobState::Stage::kFailed;
    state.result = std::move(result);
    state.error = std::move(error);
    --running_;
    // Under the lock: once it is released, this thread touches nothing of the Jobs any more.
    idle_.notify_all();
  }).detach();
  return {id, true};
}

std::optional<JobState> Jobs::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::optional<JobState> Jobs::running(const std::string& key) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, job] : jobs_) {
    if (job.key == key && job.stage == JobState::Stage::kRunning) return job;
  }
  return std::nullopt;
}

}  // namespace labgate::gateway::console
