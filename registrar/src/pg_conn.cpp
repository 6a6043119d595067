#include "pg_conn.hpp"

#include <poll.h>

#include <charconv>
#include <cstring>

#include "pweb/registrar/store.hpp"

namespace pweb::registrar::pg {
namespace {

// libpq's messages end with a newline; log lines must not.
std::string one_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

bool uri_sets(const std::string& uri, const char* keyword) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(uri.c_str(), &err);
  if (!opts) {
    std::string why = one_line(err);
    PQfreemem(err);
    throw StoreError("store: not a valid PostgreSQL URI: " + why);
  }
  bool found = false;
  for (auto* o = opts; o->keyword; ++o) {
    if (std::strcmp(o->keyword, keyword) == 0 && o->val && *o->val) found = true;
  }
  PQconninfoFree(opts);
  return found;
}

}  // namespace

std::string Result::text(int row, int col) const {
  if (null(row, col)) return {};
  return {PQgetvalue(r_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::int64_t Result::integer(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  const char* end = p + PQgetlength(r_.get(), row, col);
  std::int64_t v = 0;
  if (std::from_chars(p, end, v).ec != std::errc()) {
    throw StoreError("store: a number column holds '" + std::string(p, end) + "'");
  }
  return v;
}

std::string Result::bytes(int row, int col) const {
  std::size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
  if (!raw) throw StoreError("store: cannot read a bytea column");
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

std::int64_t Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  std::int64_t v = 0;
  std::from_chars(n, n + std::strlen(n), v);
  return v;
}

Conn::Conn(const std::string& uri, std::string what) : what_(std::move(what)) {
  // Defaults first: the URI's own settings (expanded from dbname, last) win.
  std::vector<const char*> keys = {"keepalives",       "keepalives_idle",  "keepalives_interval",
                                   "keepalives_count", "tcp_user_timeout", "application_name"};
  std::vector<const char*> values = {"1", "5", "2", "2", "5000", "pweb-node"};
  if (!uri_sets(uri, "connect_timeout")) {
    keys.push_back("connect_timeout");
    values.push_back("3");
  }
  keys.push_back("dbname");
  values.push_back(uri.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_.reset(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn_) throw StoreError("store " + what_ + ": cannot connect: out of memory");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw StoreError("store " + what_ + ": cannot connect: " + one_line(PQerrorMessage(get())));
  }
  // Server notices (NOTICE: relation exists, ...) are not worth a line on stderr.
  PQsetNoticeProcessor(
      get(), [](void*, const char*) {}, nullptr);
  exec(
      "SET statement_timeout='3s'; SET lock_timeout='3s'; "
      // A node that stops answering inside a transaction must not hold the
      // change counter (and so every writer of the label) for long.
      "SET idle_in_transaction_session_timeout='10s'");
}

bool Conn::alive() noexcept {
  if (!ok()) return false;
  // A read takes what is buffered (the server's goodbye); the end of the
  // connection shows on the next one. A few reads at most: nothing waits here.
  for (int i = 0; i < 4 && ok(); ++i) {
    pollfd p{PQsocket(get()), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (!PQconsumeInput(get())) broken_ = true;
  }
  return ok();
}

bool Conn::ok() const noexcept {
  return conn_ && !broken_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

void Conn::fail(const std::string& why, const char* sql) {
  std::string stmt = sql;
  if (const auto nl = stmt.find_first_of(" ", 30); nl != std::string::npos) stmt.resize(nl);
  throw StoreError("store " + what_ + ": " + why + " (in: " + stmt + " ...)");
}

bool Conn::wait_readable(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{PQsocket(get()), POLLIN, 0};
  const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
  return rc >= 0 || errno == EINTR;
}

Result Conn::exec(const char* sql, const std::vector<Param>& params) {
  if (!ok()) {
    broken_ = true;
    fail("the connection is lost", sql);
  }
  PGconn* c = get();
  int sent = 0;
  if (params.empty()) {
    sent = PQsendQuery(c, sql);
  } else {
    const auto& name = prepared(sql, static_cast<int>(params.size()));
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
    sent = PQsendQueryPrepared(c, name.c_str(), static_cast<int>(params.size()), values.data(),
                               lengths.data(), formats.data(), 0);
  }
  if (!sent) {
    broken_ = PQstatus(c) != CONNECTION_OK;
    fail(one_line(PQerrorMessage(c)), sql);
  }
  return collect(sql);
}

const std::string& Conn::prepared(const char* sql, int nparams) {
  if (const auto it = prepared_.find(sql); it != prepared_.end()) return it->second;
  // Prepared statements belong to the session, not to a transaction: one
  // made inside a transaction that rolls back stays.
  std::string name = "p" + std::to_string(prepared_.size());
  if (!PQsendPrepare(get(), name.c_str(), sql, nparams, nullptr)) {
    broken_ = PQstatus(get()) != CONNECTION_OK;
    fail(one_line(PQerrorMessage(get())), sql);
  }
  collect(sql);
  return prepared_.emplace(sql, std::move(name)).first->second;
}

Result Conn::collect(const char* sql) {
  PGconn* c = get();
  const auto deadline = std::chrono::steady_clock::now() + kCallDeadline;
  ResultPtr last;
  std::string error;
  for (;;) {
    while (PQisBusy(c)) {
      if (!wait_readable(deadline)) {
        broken_ = true;  // a statement still in flight: the connection is unusable
        fail("no answer within " + std::to_string(kCallDeadline.count()) + " s", sql);
      }
      if (!PQconsumeInput(c)) {
        broken_ = true;
        fail(one_line(PQerrorMessage(c)), sql);
      }
    }
    ResultPtr r(PQgetResult(c));
    if (!r) break;
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && error.empty()) {
      error = one_line(PQresultErrorMessage(r.get()));
      if (error.empty()) error = PQresStatus(status);
    }
    last = std::move(r);
  }
  if (PQstatus(c) != CONNECTION_OK) broken_ = true;
  if (!error.empty()) fail(error, sql);
  return Result(std::move(last));
}

}  // namespace pweb::registrar::pg
