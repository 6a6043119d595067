#pragma once
// A small RAII wrapper over libpq for the PostgreSQL store: one connection,
// statements always with parameters (never values in the SQL text), every call
// bounded in time (a stopped or unreachable server makes it fail, never hang).
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace pweb::registrar::pg {

struct ConnClose {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnClose>;
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

// How long the server may run one statement (SET statement_timeout, lock_timeout),
// and how long this side waits for an answer at most (a frozen server cannot
// enforce its own timeout).
inline constexpr std::chrono::seconds kStatementTimeout{3};
inline constexpr std::chrono::seconds kCallDeadline{5};

// One statement parameter: text or NULL, or raw bytes sent in binary (bytea).
struct Param {
  std::optional<std::string> value;
  bool binary = false;

  Param(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): reads as SQL NULL
  Param(std::optional<std::string> v) : value(std::move(v)) {}  // NOLINT
  Param(std::string v) : value(std::move(v)) {}                 // NOLINT
  Param(const char* v) : value(v) {}                            // NOLINT
  Param(std::int64_t v) : value(std::to_string(v)) {}           // NOLINT
  static Param bytes(std::string b) {
    Param p(std::move(b));
    p.binary = true;
    return p;
  }
};

// The rows of one statement, columns read as text.
class Result {
 public:
  explicit Result(ResultPtr r) : r_(std::move(r)) {}
  [[nodiscard]] int rows() const noexcept { return r_ ? PQntuples(r_.get()) : 0; }
  [[nodiscard]] bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  // "" when NULL.
  [[nodiscard]] std::string text(int row, int col) const;
  [[nodiscard]] std::int64_t integer(int row, int col) const;
  // A bytea column, unescaped from its text form.
  [[nodiscard]] std::string bytes(int row, int col) const;
  // Rows an INSERT, UPDATE or DELETE touched.
  [[nodiscard]] std::int64_t affected() const;

 private:
  ResultPtr r_;
};

class Conn {
 public:
  // Connects to the libpq URI `uri` (connect_timeout 3 s unless it sets one;
  // TCP keepalives) and sets the session's timeouts. `what` names the store in
  // errors, without its password. Throws StoreError.
  Conn(const std::string& uri, std::string what);

  // Runs `sql` with `params` ($1, $2, ...) and returns the last result. Without
  // params `sql` may hold several statements (constant SQL only). With params
  // it is prepared on this connection the first time (parsed and planned
  // once: most of the server's work per update otherwise). Throws StoreError
  // on any failure; after a lost connection or a timeout, ok() is false.
  Result exec(const char* sql, const std::vector<Param>& params = {});
  [[nodiscard]] bool ok() const noexcept;
  // ok(), and the server has not closed it while idle (it says so before it
  // goes: a restart or an administrator ended the session). Reads what is there.
  [[nodiscard]] bool alive() noexcept;
  [[nodiscard]] PGconn* get() const noexcept { return conn_.get(); }
  [[nodiscard]] const std::string& what() const noexcept { return what_; }

 private:
  [[noreturn]] void fail(const std::string& why, const char* sql);
  bool wait_readable(std::chrono::steady_clock::time_point deadline);
  // The results of what was sent, within the call deadline; the last one.
  Result collect(const char* sql);
  // The name `sql` is prepared under on this connection, preparing it first.
  const std::string& prepared(const char* sql, int nparams);

  ConnPtr conn_;
  std::string what_;
  bool broken_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

}  // namespace pweb::registrar::pg
