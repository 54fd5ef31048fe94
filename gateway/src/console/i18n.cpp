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
    Entry{"members.query", "番号・氏名・カードUID", "Number, name or card UID"},
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
    Entry{"nav.certs", "資格", "Certifications"},
    Entry{"nav.machines", "機械と点検", "Machines"},
    Entry{"confirm.action", "次の操作を実行します：", "About to do:"},
    Entry{"confirm.yes", "実行する", "Yes, do it"},
    Entry{"confirm.cancel", "やめる", "Cancel"},
    Entry{"live.all_stop", "全機械を緊急停止", "Stop all machines"},
    Entry{"machine.confirm", "起動確認", "Confirm"},
    Entry{"certs.all_types", "すべての種類", "All types"},
    Entry{"certs.type", "資格の種類", "Certification type"},
    Entry{"certs.expiring", "期限まで（日）", "Expiring within (days)"},
    Entry{"certs.expiring_in", "期限切れが近いもの（日以内）：", "Expiring within days:"},
    Entry{"certs.show", "表示", "Show"},
    Entry{"certs.none", "該当する資格はありません。", "No certification matches."},
    Entry{"certs.trainer", "講習担当", "Trainer"},
    Entry{"certs.granted_on", "付与日", "Granted on"},
    Entry{"certs.expires_on", "有効期限", "Expires on"},
    Entry{"certs.grant", "資格の付与", "Grant a certification"},
    Entry{"certs.grant_submit", "付与", "Grant"},
    Entry{"certs.revoke", "取消", "Revoke"},
    Entry{"machines.locked", "使用停止中", "Locked out"},
    Entry{"machines.in_service", "使用可", "In service"},
    Entry{"machines.overdue", "点検期限を過ぎています。", "Inspection overdue."},
    Entry{"inspection.date", "点検日", "Date"},
    Entry{"inspection.inspector", "点検者", "Inspector"},
    Entry{"inspection.result", "結果", "Result"},
    Entry{"inspection.pass", "合格", "pass"},
    Entry{"inspection.fail", "不合格", "fail"},
    Entry{"inspection.notes", "備考", "Notes"},
    Entry{"inspection.next_due", "次回点検期限", "Next due"},
    Entry{"inspection.record", "点検を記録", "Record inspection"},
    Entry{"nav.events", "イベント", "Events"},
    Entry{"nav.sessions", "利用記録", "Sessions"},
    Entry{"history.door", "扉", "Door"},
    Entry{"history.machine", "機械", "Machine"},
    Entry{"history.from", "開始日", "From"},
    Entry{"history.to", "終了日", "To"},
    Entry{"history.reason", "理由コード", "Reason code"},
    Entry{"history.time", "日時", "Time"},
    Entry{"history.where", "場所", "Where"},
    Entry{"history.kind", "種類", "Kind"},
    Entry{"history.decision", "判定", "Decision"},
    Entry{"history.detail", "詳細", "Detail"},
    Entry{"history.started", "開始", "Started"},
    Entry{"history.ended", "終了", "Ended"},
    Entry{"history.seconds", "計測秒数", "Measured seconds"},
    Entry{"history.csv", "CSV で書き出す", "Export CSV"},
    Entry{"nav.audit", "監査ログ", "Audit log"},
    Entry{"audit.verification", "記録の検証状態", "Verification"},
    Entry{"audit.sealed", "記録は封印されています。封印チェーンの先頭：",
          "The record is sealed. Head of the seal chain:"},
    Entry{"audit.unsealed", "記録はまだ封印されていません（labgatectl audit setup）。",
          "The record is not sealed yet (labgatectl audit setup)."},
    Entry{"audit.chain_ok",
          "旧形式のハッシュチェーン（鍵なし。意図的な書き換えは検出できません）：正常",
          "Legacy hash chain (unkeyed: it cannot catch a deliberate rewrite): intact"},
    Entry{"audit.chain_bad", "旧形式のハッシュチェーン：異常", "Legacy hash chain: BROKEN"},
    Entry{"audit.key", "検証鍵（64桁の16進数）", "Verification key (64 hex digits)"},
    Entry{"audit.verify", "この場で検証する", "Verify here"},
    Entry{"audit.bad_key", "検証鍵は audit setup が表示した64桁の16進数です。",
          "The verification key is the 64 hex digits audit setup printed."},
    Entry{"audit.verify_failed", "検証を実行できませんでした：", "Verification could not run: "},
    Entry{"audit.verified", "封印された記録は改ざんされていません。",
          "The sealed record is intact."},
    Entry{"audit.tampered", "改ざんが見つかりました：", "Tampering found:"},
    Entry{"audit.seals", "件の封印", "seals"},
    Entry{"audit.rows", "行を確認", "rows checked"},
    Entry{"audit.key_note",
          "完全な検証には検証鍵が必要です。検証鍵はこの機器には置かないでください。保管場所で "
          "labgatectl audit verify を実行するか、下に貼り付けてください（メモリ上で一度だけ使い、"
          "保存も記録もしません）。",
          "Full verification needs the verification key, which is kept off this box: run "
          "labgatectl audit verify where it is kept, or paste it below (used once in memory, "
          "never stored or logged)."},
    Entry{"audit.actor", "実行者", "Actor"},
    Entry{"audit.action", "操作", "Action"},
    Entry{"audit.subject", "対象", "Subject"},
    // console13: staff accounts (admin only), state names, search by card, balance.
    Entry{"nav.users", "スタッフアカウント", "Staff accounts"},
    Entry{"users.role", "役割", "Role"},
    Entry{"users.active", "有効", "active"},
    Entry{"users.inactive", "無効", "inactive"},
    Entry{"users.set_role", "役割を変更", "Change role"},
    Entry{"users.disable", "無効にする", "Deactivate"},
    Entry{"users.enable", "有効にする", "Reactivate"},
    Entry{"users.new_password", "新しいパスワード", "New password"},
    Entry{"users.reset_password", "パスワードを再設定", "Reset password"},
    Entry{"users.add", "アカウントの追加", "Add an account"},
    Entry{"users.initial_password", "初期パスワード", "Initial password"},
    Entry{"users.add_submit", "追加", "Add"},
    Entry{"role.desk", "受付", "desk"},
    Entry{"role.trainer", "トレーナー", "trainer"},
    Entry{"role.staff", "スタッフ", "staff"},
    Entry{"role.manager", "マネージャー", "manager"},
    Entry{"role.admin", "管理者", "admin"},
    // The live page's door and machine state names, as the firmware names them.
    Entry{"state.door.locked", "施錠", "locked"},
    Entry{"state.door.unlocked", "解錠中", "released"},
    Entry{"state.door.open", "開扉中", "open"},
    Entry{"state.door.held_open", "開放状態（閉め忘れ）", "held open"},
    Entry{"state.door.forced_open", "こじ開け", "forced open"},
    Entry{"state.door.fire_release", "火災時開放", "fire release"},
    Entry{"state.door.fault", "故障", "fault"},
    Entry{"state.door.unknown", "不明", "unknown"},
    Entry{"state.machine.startup", "起動確認待ち", "start-up"},
    Entry{"state.machine.idle", "待機中", "idle"},
    Entry{"state.machine.in_use", "使用中", "in use"},
    Entry{"state.machine.grace", "猶予時間中", "grace period"},
    Entry{"state.machine.busy_hold", "稼働中につき保持", "busy hold"},
    Entry{"state.machine.awaiting_checkoff", "点検確認待ち", "awaiting check-off"},
    Entry{"state.machine.out_of_service", "使用停止中", "out of service"},
    Entry{"state.machine.fire_alarm", "火災警報で停止", "fire alarm stop"},
    Entry{"state.machine.fault", "故障", "fault"},
    Entry{"state.machine.unknown", "不明", "unknown"},
    // Members: search by card, balance.
    Entry{"members.card_match", "このカードの持ち主", "holds this card"},
    Entry{"members.card_revoked", "このカード（失効済み）の持ち主", "held this card (revoked)"},
    Entry{"member.account", "利用残高", "Account"},
    Entry{"member.balance", "残高", "Balance"},
    Entry{"member.credit_limit", "与信限度額", "Credit limit"},
    Entry{"yen", "円", "yen"},
    Entry{"enrol.heading", "カード登録", "Enrol a card"},
    Entry{"enrol.link", "受付リーダーでカードを登録", "Enrol a card at a reader"},
    Entry{"enrol.reader", "リーダー", "Reader"},
    Entry{"enrol.timeout", "待ち時間（秒）", "Wait (seconds)"},
    Entry{"enrol.start", "登録開始", "Start"},
    Entry{"enrol.cancel", "中止", "Cancel"},
    Entry{"enrol.state.idle", "リーダーを選んで開始してください。", "Choose a reader and start."},
    Entry{"enrol.state.waiting", "カードを待っています…リーダーにカードをかざしてください。",
          "Waiting for the card… hold it to the reader."},
    Entry{"enrol.state.done", "カードを登録しました。", "The card is enrolled."},
    Entry{"enrol.state.timeout", "時間切れです。もう一度開始してください。",
          "Timed out. Please start again."},
    Entry{"enrol.state.cancelled", "中止しました。", "Cancelled."},
    Entry{"enrol.state.failed", "登録できませんでした：", "The card could not be enrolled:"},
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
