#pragma once
// Background work of the console (exporting a month as a zip, issuing a month): each job runs on
// a thread of its own, off the request threads, and reports its progress, which the job's page
// shows. One job per key at a time: a second click while a job runs gets the running job.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace labgate::gateway::console {

/// Where a job stands, as its page shows it.
struct JobState {
  enum class Stage { kRunning, kDone, kFailed };
  std::string id;
  std::string key;    ///< e.g. "issue:2026-11": one running job per key
  std::string owner;  ///< the login that started it
  Stage stage{Stage::kRunning};
  std::string phase;  ///< what it is doing now (catalogue key)
  std::int64_t done{0};
  std::int64_t total{0};
  std::string result;  ///< on kDone: what the job's page links or shows (job-specific)
  std::string error;   ///< on kFailed: why
};

/// The handle a running job reports through.
class JobProgress {
 public:
  JobProgress(std::mutex& mu, JobState& state) : mu_(mu), state_(state) {}
  /// Starts a phase of `total` steps.
  void phase(std::string phase, std::int64_t total);
  /// `n` more steps of the phase are done.
  void advance(std::int64_t n = 1);

 private:
  std::mutex& mu_;
  JobState& state_;
};

/// The console's background jobs. Destruction waits for running jobs to end.
class Jobs {
 public:
  /// What a job does: returns its result, or throws std::runtime_error with why it failed.
  using Work = std::function<std::string(JobProgress&)>;
  Jobs() = default;
  ~Jobs();
  Jobs(const Jobs&) = delete;
  Jobs& operator=(const Jobs&) = delete;

  /// Starts `work` under `key` unless a job with that key is running; returns the id of the job
  /// that runs (the new one or the one already running) and whether it is new.
  std::pair<std::string, bool> start(const std::string& key, const std::string& owner, Work work);
  /// The job with `id`, if known.
  std::optional<JobState> find(const std::string& id) const;
  /// The running job with `key`, if any.
  std::optional<JobState> running(const std::string& key) const;

 private:
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::map<std::string, JobState> jobs_;  // by id; finished ones are kept (the newest kKeep)
  int running_{0};  // detached job threads still going; the destructor waits for 0
  std::uint64_t next_{1};
};

}  // namespace labgate::gateway::console
