// The machines page (staff and above): state, lockout and release, inspections with overdue
// machines first, and recording an inspection. Every stored value goes through esc().
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "app_context.hpp"

namespace labgate::gateway::console {

namespace {

struct MachineView {
  store::Machine machine;
  std::vector<store::Inspection> inspections;
  bool overdue{false};
};

std::string today_local() {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return local_time(now.count()).substr(0, 10);
}

std::string inspection_form(const Context& c, const std::string& id) {
  return fmt::format(
      R"(<form method="post" action="/machines/{0}/inspection" class="inspection" id="inspect-{0}">{1})"
      R"(<label>{2} <input name="done_on" type="date"></label> )"
      R"(<label>{3} <input name="inspector" value="{4}"></label> )"
      R"(<label>{5} <select name="result"><option value="pass">{6}</option><option value="fail">{7}</option></select></label> )"
      R"(<label>{8} <input name="notes" maxlength="1000"></label> )"
      R"(<label>{9} <input name="next_due" type="date"></label> <button type="submit">{10}</button></form>)",
      esc(id), csrf_input(c.session->csrf), t(c, "inspection.date"), t(c, "inspection.inspector"),
      esc(c.session->login), t(c, "inspection.result"), t(c, "inspection.pass"),
      t(c, "inspection.fail"), t(c, "inspection.notes"), t(c, "inspection.next_due"),
      t(c, "inspection.record"));
}

std::string machine_section(const Context& c, const MachineView& v) {
  const auto& m = v.machine;
  const std::string base = "/machines/" + m.id;
  std::string out = fmt::format(
      R"(<section class="machine" data-machine="{0}" data-locked="{2}" data-overdue="{3}"><h2>{0} {1}</h2><p class="state">{4}{5}</p><p>{6}: <span class="next-due">{7}</span></p>)",
      esc(m.id), esc(m.name), m.locked_out ? "true" : "false", v.overdue ? "true" : "false",
      m.locked_out ? t(c, "machines.locked") : t(c, "machines.in_service"),
      m.lockout_reason ? " — " + esc(*m.lockout_reason) : "", t(c, "inspection.next_due"),
      esc(m.next_inspection_due.value_or("-")));
  if (v.overdue) out += "<p class=\"overdue\">" + t(c, "machines.overdue") + "</p>";
  // Back to this page after the confirmation, not to the live page.
  const std::string back = R"(<input type="hidden" name="back" value="/machines">)";
  out += fmt::format(
      R"(<form method="post" action="{0}/lockout" class="inline">{1}{2} <input name="reason" placeholder="{3}" maxlength="500"> <button type="submit">{4}</button></form>)",
      esc(base), csrf_input(c.session->csrf), back, t(c, "reason"), t(c, "machine.lockout"));
  out += fmt::format(
      R"(<form method="post" action="{0}/release" class="inline">{1}{2} <button type="submit">{3}</button></form>)",
      esc(base), csrf_input(c.session->csrf), back, t(c, "machine.release"));
  out += fmt::format(
      R"(<table class="inspections"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
      t(c, "inspection.date"), t(c, "inspection.inspector"), t(c, "inspection.result"),
      t(c, "inspection.notes"), t(c, "inspection.next_due"));
  for (const auto& i : v.inspections) {
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                       esc(i.done_on), esc(i.inspector), esc(i.result), esc(i.notes),
                       esc(i.next_due.value_or("-")));
  }
  return out + "</tbody></table>" + inspection_form(c, m.id) + "</section>";
}

}  // namespace

Response App::machines_page(Context& c) {
  const std::string today = today_local();
  std::vector<MachineView> views;
  {
    std::lock_guard lock(store_mu_);
    if (auto r = store_->staff().list_machines()) {
      for (auto& m : *r) {
        MachineView v{std::move(m), {}, false};
        if (auto i = store_->staff().list_inspections(v.machine.id)) v.inspections = std::move(*i);
        // Due dates are ISO dates, so string order is date order.
        v.overdue = v.machine.next_inspection_due && *v.machine.next_inspection_due < today;
        views.push_back(std::move(v));
      }
    }
  }
  std::stable_sort(views.begin(), views.end(), [](const MachineView& a, const MachineView& b) {
    return a.overdue && !b.overdue;
  });
  std::string body = "<div id=\"machine-list\">";
  for (const auto& v : views) body += machine_section(c, v);
  body += "</div>";
  return c.html(http::status::ok, tr(c.lang, "nav.machines"), body);
}

}  // namespace labgate::gateway::console
