// The one catalogue. Keys are short English identifiers; every entry has both languages.
#include "i18n.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace labgate::gateway::console {

namespace {

struct Entry {
  std::string_view key;
  std::string_view ja;
  std::string_view en;
};

constexpr std::array kCatalogue = {
    Entry{"title", "labgate 管理コンソール", "labgate console"},
    Entry{"login.heading", "ログイン", "Log in"},
    Entry{"login.login", "ログインID", "Login"},
    Entry{"login.password", "パスワード", "Password"},
    Entry{"login.submit", "ログイン", "Log in"},
    Entry{"login.failed", "ログインIDまたはパスワードが違います。", "Wrong login or password."},
    Entry{"login.locked", "失敗が続いたため一時的にロックされています。しばらく待ってください。",
          "Too many failures: locked for a while. Please wait."},
    Entry{"logout", "ログアウト", "Log out"},
    Entry{"nav.live", "現在の状況", "Live site"},
    Entry{"nav.rollcall", "在館者（点呼）", "Roll call"},
    Entry{"nav.members", "会員", "Members"},
    Entry{"lang.switch", "表示言語", "Language"},
    Entry{"lang.apply", "切替", "Switch"},
    Entry{"live.doors", "扉", "Doors"},
    Entry{"live.machines", "機械", "Machines"},
    Entry{"live.events", "最新のイベント", "Latest events"},
    Entry{"live.state", "状態", "State"},
    Entry{"live.unavailable", "labgated に接続できません。", "labgated does not answer."},
    Entry{"door.unlock", "解錠", "Unlock"},
    Entry{"machine.lockout", "使用停止", "Lock out"},
    Entry{"machine.release", "使用停止解除", "Release"},
    Entry{"reason", "理由", "Reason"},
    Entry{"confirm", "実行してよろしいですか？", "Are you sure?"},
    Entry{"rollcall.heading", "現在の在館者", "On site now"},
    Entry{"rollcall.count", "人", "people"},
    Entry{"rollcall.since", "入館時刻", "Since"},
    Entry{"member.no", "会員番号", "Member no."},
    Entry{"member.name", "氏名", "Name"},
    Entry{"member.email", "メール", "E-mail"},
    Entry{"member.status", "状態", "Status"},
    Entry{"member.plan", "プラン", "Plan"},
    Entry{"member.cards", "カード", "Cards"},
    Entry{"member.certs", "資格", "Certifications"},
    Entry{"member.events", "最近のイベント", "Recent events"},
    Entry{"member.sessions", "最近の利用", "Recent sessions"},
    Entry{"member.status.pending", "承認待ち", "pending"},
    Entry{"member.status.active", "有効", "active"},
    Entry{"member.status.suspended", "利用停止", "suspended"},
    Entry{"members.search", "検索", "Search"},
    Entry{"members.query", "番号・氏名", "Number or name"},
    Entry{"members.none", "該当する会員はいません。", "No member matches."},
    Entry{"members.next", "次へ", "Next"},
    Entry{"members.prev", "前へ", "Previous"},
    Entry{"members.register", "会員登録", "Register a member"},
    Entry{"members.add", "登録", "Register"},
    Entry{"member.approve", "承認", "Approve"},
    Entry{"member.suspend", "利用停止", "Suspend"},
    Entry{"done", "完了しました。", "Done."},
    Entry{"error.forbidden", "この操作の権限がありません。", "You may not do this."},
    Entry{"error.csrf", "フォームの有効期限が切れています。もう一度お試しください。",
          "The form has expired. Please try again."},
    Entry{"error.not_found", "見つかりません。", "Not found."},
    Entry{"error.bad_request", "入力内容に誤りがあります。", "The input is not valid."},
    Entry{"error.refused", "labgated が拒否しました：", "labgated refused: "},
    Entry{"error.unavailable", "labgated に接続できません。", "labgated does not answer."},
    Entry{"error.too_large", "送信データが大きすぎます。", "The request is too large."},
    Entry{"error.media_type", "このデータ形式は受け付けません。",
          "This content type is not accepted."},
    Entry{"back", "戻る", "Back"},
};

const Entry* find(std::string_view key) {
  const auto it = std::find_if(kCatalogue.begin(), kCatalogue.end(),
                               [&](const Entry& e) { return e.key == key; });
  return it == kCatalogue.end() ? nullptr : &*it;
}

}  // namespace

std::string_view code(Lang lang) {
  return lang == Lang::kJa ? "ja" : "en";
}

Lang parse_lang(std::string_view c, Lang fallback) {
  if (c == "ja") return Lang::kJa;
  if (c == "en") return Lang::kEn;
  return fallback;
}

Lang from_accept_language(std::string_view header) {
  // The first language range that is ja or en wins; q-values are honoured only by order, which
  // is how browsers write them.
  std::string lower(header);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t at = 0;
  while (at < lower.size()) {
    auto end = lower.find(',', at);
    if (end == std::string::npos) end = lower.size();
    std::string_view range = std::string_view(lower).substr(at, end - at);
    while (!range.empty() && range.front() == ' ') range.remove_prefix(1);
    if (range.starts_with("ja")) return Lang::kJa;
    if (range.starts_with("en")) return Lang::kEn;
    at = end + 1;
  }
  return Lang::kJa;
}

std::string_view tr(Lang lang, std::string_view key) {
  const Entry* e = find(key);
  if (e == nullptr) return key;
  return lang == Lang::kJa ? e->ja : e->en;
}

bool has_key(std::string_view key) {
  const Entry* e = find(key);
  return e != nullptr && !e->ja.empty() && !e->en.empty();
}

}  // namespace labgate::gateway::console
