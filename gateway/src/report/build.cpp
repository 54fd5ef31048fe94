#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "labgate/gateway/policy/booking.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "labgate/gateway/store/bookings.hpp"
#include "time.hpp"

namespace labgate::gateway::report {

std::int64_t WardReport::machine_sessions() const {
  std::int64_t n = 0;
  for (const auto& m : machines) n += m.sessions;
  return n;
}

std::int64_t WardReport::machine_ms() const {
  std::int64_t n = 0;
  for (const auto& m : machines) n += m.ms;
  return n;
}

namespace {

using st::Result;

constexpr std::int64_t kDayMs = 86'400'000;
// Sessions longer than this that started before the look-back window are fetched by their own
// scan; everything shorter that can reach into the period starts inside the window.
constexpr std::int64_t kLookBackMs = kDayMs;

// Distinct member ids: a bitmap while ids are dense enough, a hash set beyond that.
class MemberSet {
 public:
  void add(std::int64_t id) {
    if (id < 0) return;
    if (id < kBitmapLimit) {
      const auto word = static_cast<std::size_t>(id >> 6);
      if (word >= bits_.size()) bits_.resize(word + 1 + word / 2, 0);
      const std::uint64_t mask = std::uint64_t{1} << (id & 63);
      if ((bits_[word] & mask) == 0) {
        bits_[word] |= mask;
        ++count_;
      }
    } else if (big_.insert(id).second) {
      ++count_;
    }
  }
  std::int64_t count() const { return count_; }

 private:
  static constexpr std::int64_t kBitmapLimit = std::int64_t{1} << 26;
  std::vector<std::uint64_t> bits_;
  std::unordered_set<std::int64_t> big_;
  std::int64_t count_{0};
};

// Index of the bucket [bounds[i], bounds[i+1]) holding t; bounds has n+1 entries.
std::size_t bucket_of(const std::vector<std::int64_t>& bounds, std::int64_t t) {
  auto it = std::upper_bound(bounds.begin(), bounds.end(), t);
  if (it == bounds.begin()) return 0;
  return static_cast<std::size_t>(it - bounds.begin()) - 1;
}

// Adds the part of [a, b) lying in each bucket to `out` (same size as buckets).
template <typename Out>
void split_add(const std::vector<std::int64_t>& bounds, std::int64_t a, std::int64_t b,
               const Out& out) {
  std::size_t i = bucket_of(bounds, a);
  while (a < b && i + 1 < bounds.size()) {
    const std::int64_t seg_end = std::min(b, bounds[i + 1]);
    if (seg_end > a) out(i, seg_end - a);
    a = seg_end;
    ++i;
  }
}

// Peak occupancy by sweep line: starts arrive in non-decreasing order, ends wait in a min-heap.
// An end at t is released before a start at t, so back-to-back sessions never overlap.
class PeakSweep {
 public:
  explicit PeakSweep(std::vector<std::int64_t> month_bounds)
      : bounds_(std::move(month_bounds)), month_peak_(bounds_.size() - 1, 0) {}

  void add(std::int64_t start, std::int64_t end) {
    settle_boundaries(start);
    release(start);
    ends_.push(end);
    const auto occ = static_cast<std::int64_t>(ends_.size());
    if (occ > peak_) {
      peak_ = occ;
      peak_at_ = start;
    }
    auto& mp = month_peak_[bucket_of(bounds_, start)];
    mp = std::max(mp, occ);
  }
  void finish() { settle_boundaries(bounds_.back()); }

  std::int64_t peak() const { return peak_; }
  std::optional<std::int64_t> peak_at() const { return peak_at_; }
  const std::vector<std::int64_t>& month_peaks() const { return month_peak_; }

 private:
  void release(std::int64_t t) {
    while (!ends_.empty() && ends_.top() <= t) ends_.pop();
  }
  // Sessions carried over a month boundary occupy the new month from its first instant.
  void settle_boundaries(std::int64_t t) {
    while (next_bound_ + 1 < bounds_.size() && bounds_[next_bound_] <= t) {
      release(bounds_[next_bound_]);
      auto& mp = month_peak_[next_bound_];
      mp = std::max(mp, static_cast<std::int64_t>(ends_.size()));
      ++next_bound_;
    }
  }

  std::vector<std::int64_t> bounds_;
  std::vector<std::int64_t> month_peak_;
  std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<>> ends_;
  std::size_t next_bound_{1};  // bounds_[0] is the period start: nothing is carried into it yet
  std::int64_t peak_{0};
  std::optional<std::int64_t> peak_at_;
};

template <typename T>
Result<T> fail(const st::Error& e) {
  return e;
}

// The first session, event or member, whichever is earliest.
Result<std::optional<std::int64_t>> first_activity_ms(st::Store& store) {
  auto events = store.events().first_activity_ms();
  if (!events) return events.error();
  auto members = store.staff().first_member_created_ms();
  if (!members) return members.error();
  if (!*events) return *members;
  if (!*members) return *events;
  return std::optional<std::int64_t>{std::min(**events, **members)};
}

struct MachineAcc {
  MachineUsage usage;
  MemberSet users;
};

class Builder {
 public:
  Builder(st::Store& store, const Period& period, const ReportOptions& options)
      : store_(store), period_(period), options_(options) {}

  Result<WardReport> run();

 private:
  st::Status setup_calendar();
  st::Status load_machines();
  std::size_t machine_index(const std::string& id);
  st::Status scan_sessions();
  // Adds coworking time [a, b) to the report's hour-of-day buckets.
  void add_hours(std::int64_t a, std::int64_t b);
  void add_session(std::int64_t member, const std::string& machine, bool coworking,
                   std::int64_t start, std::optional<std::int64_t> end);
  st::Status scan_door_grants();
  st::Status count_members();
  st::Status count_trainings();
  st::Status count_inspections();
  st::Status count_rooms();
  st::Status count_lockers();

  st::Store& store_;
  const Period& period_;
  const ReportOptions& options_;
  WardReport r_;
  std::int64_t clip_end_{0};   // min(period end, as_of): open sessions stop here
  std::string eval_last_day_;  // last day whose state is known
  std::vector<std::int64_t> day_bounds_;
  std::vector<std::int64_t> month_bounds_;
  std::vector<std::string> month_labels_;
  std::vector<MachineAcc> machines_;
  std::unordered_map<std::string, std::size_t> machine_by_id_;
  MemberSet users_;
  std::vector<MemberSet> month_users_;
  MemberSet coworking_users_;
  std::optional<PeakSweep> sweep_;
  std::int64_t door_grants_{0};
};

st::Status Builder::setup_calendar() {
  const auto& tz = period_.time_zone;
  std::string day = period_.first_day;
  while (day <= period_.last_day) {
    day_bounds_.push_back(detail::local_midnight_ms(day, tz));
    DayUsage d;
    d.date = day;
    r_.days.push_back(std::move(d));
    if (day.substr(8, 2) == "01") {
      month_bounds_.push_back(day_bounds_.back());
      month_labels_.push_back(day.substr(0, 7));
    }
    day = st::add_days(day, 1);
  }
  day_bounds_.push_back(period_.end_ms);
  month_bounds_.push_back(period_.end_ms);
  month_users_.resize(month_labels_.size());
  for (const auto& label : month_labels_) {
    MonthFigures m;
    m.month = label;
    r_.months.push_back(std::move(m));
  }
  sweep_.emplace(month_bounds_);
  return {};
}

st::Status Builder::load_machines() {
  auto machines = store_.staff().list_machines();
  if (!machines) return machines.error();
  for (const auto& m : *machines) {
    machine_index(m.id);
    machines_.back().usage.name = m.name;
  }
  return {};
}

std::size_t Builder::machine_index(const std::string& id) {
  auto it = machine_by_id_.find(id);
  if (it != machine_by_id_.end()) return it->second;
  // A session naming a machine no longer in the table still counts (history is never refused).
  machines_.emplace_back();
  machines_.back().usage.id = id;
  machine_by_id_.emplace(id, machines_.size() - 1);
  for (auto& d : r_.days) d.machine_ms.push_back(0);
  return machines_.size() - 1;
}

void Builder::add_hours(std::int64_t a, std::int64_t b) {
  // Hours count from each local midnight, so a 25-hour day (a zone with DST) puts its extra
  // hour in the last bucket rather than shifting the rest of the day.
  constexpr std::int64_t kHour = 3'600'000;
  while (a < b) {
    const std::size_t d = bucket_of(day_bounds_, a);
    if (d + 1 >= day_bounds_.size()) return;
    const std::int64_t hour = std::min<std::int64_t>(23, (a - day_bounds_[d]) / kHour);
    const std::int64_t end =
        std::min({b, day_bounds_[d + 1],
                  hour == 23 ? day_bounds_[d + 1] : day_bounds_[d] + (hour + 1) * kHour});
    r_.coworking_hour_ms[static_cast<std::size_t>(hour)] += end - a;
    a = end;
  }
}

void Builder::add_session(std::int64_t member, const std::string& machine, bool coworking,
                          std::int64_t start, std::optional<std::int64_t> end) {
  const std::int64_t e = std::min(end.value_or(clip_end_), clip_end_);
  const std::int64_t a = std::max(start, period_.start_ms);
  const std::int64_t b = std::max(a, e);
  const bool started_here = start >= period_.start_ms && start < period_.end_ms;
  if (!started_here && b <= a) return;            // does not reach into the period
  if (started_here && start > clip_end_) return;  // cannot happen before as_of; ignore if it does

  users_.add(member);
  // Monthly unique users: every month the session touches (a zero-length one: its start month).
  if (b > a) {
    for (std::size_t i = bucket_of(month_bounds_, a); i + 1 < month_bounds_.size(); ++i) {
      if (month_bounds_[i] >= b) break;
      month_users_[i].add(member);
    }
  } else {
    month_users_[bucket_of(month_bounds_, a)].add(member);
  }
  const std::size_t start_month = bucket_of(month_bounds_, a);

  if (coworking) {
    coworking_users_.add(member);
    if (started_here) {
      ++r_.coworking.sessions;
      ++r_.months[start_month].coworking_sessions;
    }
    r_.coworking.ms += b - a;
    split_add(day_bounds_, a, b,
              [&](std::size_t i, std::int64_t ms) { r_.days[i].coworking_ms += ms; });
    add_hours(a, b);
    if (b > a) sweep_->add(a, b);
    return;
  }
  auto& m = machines_[machine_index(machine)];
  const std::size_t mi = static_cast<std::size_t>(&m - machines_.data());
  m.users.add(member);
  if (started_here) {
    ++m.usage.sessions;
    ++r_.months[start_month].machine_sessions;
  }
  m.usage.ms += b - a;
  split_add(day_bounds_, a, b, [&](std::size_t i, std::int64_t ms) {
    r_.days[i].machine_ms[mi] += ms;
    r_.days[i].machines_total_ms += ms;
  });
}

st::Status Builder::scan_sessions() {
  // Both scans return rows in start order, the first ending where the second begins, which the
  // sweep line relies on. The first one walks long or open sessions only.
  const std::int64_t window = period_.start_ms - kLookBackMs;
  std::string machine;
  const auto add = [&](st::SessionSpan&& s) {
    if (!s.coworking) machine = s.machine_id.value_or("");
    add_session(s.member_id, machine, s.coworking, s.started_at_ms, s.ended_at_ms);
  };
  if (auto s = store_.events().scan_long_sessions(window, period_.start_ms, add); !s) return s;
  return store_.events().scan_sessions_started(window, std::min(period_.end_ms, clip_end_ + 1),
                                               add);
}

st::Status Builder::scan_door_grants() {
  return store_.events().scan_door_grants(
      period_.start_ms, clip_end_, [&](std::int64_t member, std::int64_t at_ms) {
        users_.add(member);
        month_users_[bucket_of(month_bounds_, at_ms)].add(member);
        ++door_grants_;
      });
}

st::Status Builder::count_members() {
  auto created = store_.staff().scan_members_created(
      period_.start_ms, period_.end_ms, [&](std::int64_t created_at_ms) {
        ++r_.new_members;
        ++r_.months[bucket_of(month_bounds_, created_at_ms)].new_members;
      });
  if (!created) return created;
  // Status is the member's current one (no status history is kept); approval and validity dates
  // place it at the period end.
  auto active = store_.staff().count_active_members(clip_end_, eval_last_day_);
  if (!active) return active.error();
  r_.active_members_at_end = *active;
  return {};
}

st::Status Builder::count_trainings() {
  auto types = store_.staff().list_certification_types();
  if (!types) return types.error();
  std::map<std::string, TrainingCount> by_code;
  for (const auto& type : *types) {
    TrainingCount t;
    t.type_code = type.code;
    t.name = type.name;
    by_code.emplace(t.type_code, std::move(t));
  }
  auto granted = store_.staff().scan_certifications_granted(
      period_.first_day, period_.last_day, [&](st::CertificationGrant&& g) {
        auto& t = by_code[g.type_code];
        if (t.type_code.empty()) t.type_code = g.type_code;
        ++t.granted;
        if (g.revoked) ++t.granted_revoked;
        const std::string month = g.granted_on.substr(0, 7);
        for (auto& m : r_.months) {
          if (m.month == month) ++m.trainings;
        }
      });
  if (!granted) return granted;
  auto revoked = store_.staff().revocations_by_type(period_.start_ms, period_.end_ms);
  if (!revoked) return revoked.error();
  for (const auto& [code, count] : *revoked) {
    auto& t = by_code[code];
    if (t.type_code.empty()) t.type_code = code;
    t.revoked_in_period = count;
  }
  for (auto& [code, t] : by_code) r_.trainings.push_back(std::move(t));
  return {};
}

st::Status Builder::count_inspections() {
  struct Done {
    std::string on;
    std::optional<std::string> next_due;
  };
  std::map<std::string, std::vector<Done>> history;
  std::vector<InspectionFigures> figures(machines_.size());
  for (std::size_t i = 0; i < machines_.size(); ++i) {
    figures[i].machine_id = machines_[i].usage.id;
    figures[i].name = machines_[i].usage.name;
  }
  auto done = store_.staff().scan_inspections_until(period_.last_day, [&](st::InspectionDone&& in) {
    history[in.machine_id].push_back({in.done_on, in.next_due});
    if (in.done_on >= period_.first_day) {
      const auto idx = machine_index(in.machine_id);
      if (figures.size() < machines_.size()) figures.resize(machines_.size());
      auto& g = figures[idx];
      g.machine_id = in.machine_id;
      if (in.result == "pass") {
        ++g.passed;
      } else {
        ++g.failed;
      }
      for (auto& m : r_.months) {
        if (m.month == in.done_on.substr(0, 7)) ++m.inspections;
      }
    }
  });
  if (!done) return done;
  auto machines = store_.staff().list_machines();
  if (!machines) return machines.error();
  std::unordered_map<std::string, std::string> created_on;
  for (const auto& m : *machines) {
    created_on[m.id] = detail::local_date(m.created_at_ms, period_.time_zone);
  }
  for (auto& f : figures) {
    const auto& h = history[f.machine_id];
    const auto c = created_on.find(f.machine_id);
    const std::string since = c != created_on.end() ? c->second : period_.first_day;
    std::size_t k = 0;  // inspections done on or before the day
    for (const auto& day : r_.days) {
      if (day.date > eval_last_day_) break;
      while (k < h.size() && h[k].on <= day.date) ++k;
      bool overdue = false;
      std::optional<std::string> due;
      if (k == 0) {
        overdue = day.date >= since;  // never inspected: the tap path refuses it
      } else {
        due = h[k - 1].next_due;
        overdue = due && *due < day.date;
      }
      if (overdue) ++f.overdue_days;
      if (day.date == eval_last_day_) {
        f.overdue_at_end = overdue;
        f.due_at_end = due;
      }
    }
  }
  r_.inspections = std::move(figures);
  return {};
}

// A room's open time is every grid step of the period (up to as_of) that the booking rules
// would accept, asked as if booked just in time: the same opening hours, closure and holidays
// that refuse a booking, so "booked / open" cannot exceed what could have been booked. A report
// never writes, so bookings are read as a settling at as_of would leave them: one nobody used
// by its no-show time counts as a no-show, as billing (which settles first) counts it.
st::Status Builder::count_rooms() {
  auto rooms = store_.bookings().rooms();
  if (!rooms) return rooms.error();
  auto cal = store_.bookings().calendar();
  if (!cal) return cal.error();
  const auto instant = [](std::int64_t ms) {
    return std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)};
  };
  for (const auto& room : *rooms) {
    RoomUsage u;
    u.id = room.id;
    u.name = room.name;
    const std::int64_t step = std::int64_t{std::max(room.rules.grid_minutes, 1)} * 60'000;
    const auto lead = std::chrono::minutes(std::max(room.rules.lead_minutes, 0));
    for (std::size_t d = 0; d + 1 < day_bounds_.size(); ++d) {
      for (std::int64_t t = day_bounds_[d]; t < day_bounds_[d + 1] && t < clip_end_; t += step) {
        if (!policy::check_booking(room.rules, *cal, instant(t), instant(t + step),
                                   instant(t) - lead, 1)) {
          u.open_ms += std::min(step, clip_end_ - t);
        }
      }
    }
    st::BookingFilter f;
    f.room_id = room.id;
    f.from_ms = period_.start_ms;
    f.to_ms = clip_end_;
    auto bookings = store_.bookings().list_as_settled(f, options_.as_of_ms);
    if (!bookings) return bookings.error();
    for (const auto& b : *bookings) {
      if (b.state == "booked" || b.state == "held") {
        ++u.bookings;
        u.booked_ms += std::min(b.end_ms, clip_end_) - std::max(b.start_ms, period_.start_ms);
      } else if (b.state == "no_show" && b.start_ms >= period_.start_ms) {
        ++u.no_shows;
      }
    }
    r_.rooms.push_back(std::move(u));
  }
  return {};
}

// A loan holds its locker from its first day until it is taken back (an overdue locker is still
// occupied), not only until its last day: every loan begun by the end is read, since an overdue
// one may have ended on paper before the period. The loans table is small (lockers x turnover).
st::Status Builder::count_lockers() {
  auto lockers = store_.bookings().lockers();
  if (!lockers) return lockers.error();
  std::unordered_set<std::string> active;
  for (const auto& l : *lockers) active.insert(l.locker.id);
  const auto day_no = [](const std::string& date) {
    const auto d = policy::parse_date(date);
    return d ? std::chrono::sys_days(*d).time_since_epoch().count() : 0;
  };
  const auto first = day_no(period_.first_day);
  const auto last = day_no(eval_last_day_);
  auto& o = r_.lockers;
  o.lockers = static_cast<std::int64_t>(active.size());
  o.locker_days = o.lockers * (last - first + 1);
  auto loans = store_.bookings().loans("0000-01-01", eval_last_day_);
  if (!loans) return loans.error();
  for (const auto& loan : *loans) {
    if (!active.contains(loan.locker_id)) continue;
    const auto from = std::max(first, day_no(loan.from_date));
    auto to = last;
    if (loan.returned_at_ms) {
      to = std::min(to, day_no(detail::local_date(*loan.returned_at_ms, period_.time_zone)));
    }
    if (from > to) continue;
    o.lent_days += to - from + 1;
    if (to == last) ++o.lent_at_end;
  }
  return {};
}

Result<WardReport> Builder::run() {
  r_.period = period_;
  r_.as_of_ms = options_.as_of_ms;
  const auto& tz = period_.time_zone;
  if (options_.as_of_ms < period_.start_ms) {
    return st::Error{
        st::ErrorKind::kInvalid, 0,
        fmt::format("{} has not begun yet (it starts on {}; today is {} in {})", period_.label,
                    period_.first_day, detail::local_date(options_.as_of_ms, tz), tz)};
  }
  auto first = first_activity_ms(store_);
  if (!first) return first.error();
  if (!*first) {
    return st::Error{st::ErrorKind::kNotFound, 0,
                     "the database holds no activity yet (no members, sessions or events)"};
  }
  r_.data_starts_on = detail::local_date(**first, tz);
  if (**first >= period_.end_ms) {
    return st::Error{st::ErrorKind::kNotFound, 0,
                     fmt::format("no data for {}: the database starts on {} (no data before {})",
                                 period_.label, r_.data_starts_on, r_.data_starts_on)};
  }
  r_.complete = options_.as_of_ms >= period_.end_ms;
  clip_end_ = std::min(period_.end_ms, options_.as_of_ms);
  eval_last_day_ = r_.complete ? period_.last_day : detail::local_date(options_.as_of_ms, tz);

  // One read snapshot for every query, so the figures agree with each other.
  auto tx = st::Transaction::begin(store_.database(), st::Transaction::Mode::kDeferred);
  if (!tx) return tx.error();
  if (auto s = setup_calendar(); !s) return s.error();
  if (auto s = load_machines(); !s) return s.error();
  if (auto s = scan_sessions(); !s) return s.error();
  sweep_->finish();
  if (auto s = scan_door_grants(); !s) return s.error();
  if (auto s = count_members(); !s) return s.error();
  if (auto s = count_trainings(); !s) return s.error();
  if (auto s = count_inspections(); !s) return s.error();
  if (auto s = count_rooms(); !s) return s.error();
  if (auto s = count_lockers(); !s) return s.error();
  tx->rollback();

  for (auto& m : machines_) {
    m.usage.unique_users = m.users.count();
    r_.machines.push_back(std::move(m.usage));
  }
  r_.unique_users = users_.count();
  r_.coworking.unique_members = coworking_users_.count();
  r_.coworking.peak_occupancy = sweep_->peak();
  r_.coworking.peak_at_ms = sweep_->peak_at();
  for (std::size_t i = 0; i < r_.months.size(); ++i) {
    auto& m = r_.months[i];
    m.unique_users = month_users_[i].count();
    m.coworking_peak = sweep_->month_peaks()[i];
  }
  for (std::size_t d = 0; d < r_.days.size(); ++d) {
    auto& m = r_.months[bucket_of(month_bounds_, day_bounds_[d])];
    m.machine_ms += r_.days[d].machines_total_ms;
    m.coworking_ms += r_.days[d].coworking_ms;
  }

  std::int64_t inspections_done = 0;
  for (const auto& f : r_.inspections) inspections_done += f.passed + f.failed;
  std::int64_t trainings = 0;
  for (const auto& t : r_.trainings) trainings += t.granted + t.revoked_in_period;
  r_.empty = r_.unique_users == 0 && r_.new_members == 0 && trainings == 0 &&
             inspections_done == 0 && door_grants_ == 0;
  if (r_.empty) {
    r_.notes.push_back(fmt::format(
        "No activity was recorded in {} ({} .. {}): no sessions, door entries, new members, "
        "trainings or inspections. The figures below are all zero.",
        period_.label, period_.first_day, period_.last_day));
  }
  if (!r_.complete) {
    r_.notes.push_back(fmt::format("Partial period: {} is not over; figures are up to {} ({}).",
                                   period_.label, detail::local_time(options_.as_of_ms, tz), tz));
  }
  if (**first > period_.start_ms) {
    r_.notes.push_back(fmt::format("The database starts on {}: days of {} before it have no data.",
                                   r_.data_starts_on, period_.label));
  }
  return std::move(r_);
}

}  // namespace

st::Result<WardReport> build_ward_report(st::Store& store, const Period& period,
                                         const ReportOptions& options) {
  Builder b(store, period, options);
  return b.run();
}

}  // namespace labgate::gateway::report
