// The device tokens of the SQLite store (declared in sqlite_store.hpp; the
// table is created with the others in sqlite_store.cpp). Rows hold a keyed hash of the secret and
// the secret sealed under the node key, never the secret itself (tokens.hpp).
#include <sqlite3.h>

#include "pweb/registrar/sqlite_store.hpp"
#include "store_codec.hpp"

namespace pweb::registrar {
namespace {

// One statement for the length of one call (token operations are rare).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw StoreError(std::string("store: cannot prepare statement: ") + sqlite3_errmsg(db));
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  sqlite3_stmt* get() const noexcept { return stmt_; }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("store: ") + sqlite3_errmsg(db_));
  }
  void text(int col, const std::string& v) {
    sqlite3_bind_text(stmt_, col, v.c_str(), -1, SQLITE_TRANSIENT);
  }
  void blob(int col, const void* p, std::size_t n) {
    sqlite3_bind_blob(stmt_, col, p, static_cast<int>(n), SQLITE_TRANSIENT);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

std::string column_string(sqlite3_stmt* s, int col) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

constexpr const char* kColumns =
    "SELECT id, device, scope, subnets, expires, created, hash, sealed FROM tokens ";

// Rows that do not parse (written by hand, or a newer build) are skipped, not trusted.
std::vector<StoredToken> read_tokens(Stmt& s) {
  std::vector<StoredToken> out;
  while (s.step()) {
    auto* st = s.get();
    auto t = store_codec::token_from_columns(
        {column_string(st, 0), column_string(st, 1), column_string(st, 2), column_string(st, 3),
         sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5), column_string(st, 6),
         column_string(st, 7)});
    if (t) out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace

TokenInsert SqliteStore::add_token(const StoredToken& t) {
  exec("BEGIN IMMEDIATE");  // the checks and the insert see the same store
  try {
    Stmt device(db_, "SELECT 1 FROM devices WHERE name=?");
    device.text(1, t.info.device);
    if (!device.step()) {
      exec("ROLLBACK");
      return TokenInsert::no_device;
    }
    Stmt count(db_, "SELECT count(*) FROM tokens WHERE device=?");
    count.text(1, t.info.device);
    count.step();
    if (static_cast<std::size_t>(sqlite3_column_int64(count.get(), 0)) >= kMaxTokensPerDevice) {
      exec("ROLLBACK");
      return TokenInsert::limit;
    }
    const std::string subnets = store_codec::subnets_text(t.info.allowed_subnets);
    Stmt ins(db_,
             "INSERT OR IGNORE INTO tokens(id, device, scope, subnets, expires, created, hash, "
             "sealed) VALUES(?,?,?,?,?,?,?,?)");
    ins.text(1, t.info.id);
    ins.text(2, t.info.device);
    ins.text(3, scope_name(t.info.scope));
    ins.text(4, subnets);
    sqlite3_bind_int64(ins.get(), 5, t.info.expires);
    sqlite3_bind_int64(ins.get(), 6, t.info.created);
    ins.blob(7, t.hash.data(), t.hash.size());
    ins.blob(8, t.sealed.data(), t.sealed.size());
    ins.step();
    if (sqlite3_changes(db_) == 0) {
      exec("ROLLBACK");
      return TokenInsert::duplicate;
    }
    exec("COMMIT");
    return TokenInsert::added;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool SqliteStore::remove_token(const std::string& device, const std::string& id) {
  Stmt s(db_, "DELETE FROM tokens WHERE device=? AND id=?");
  s.text(1, device);
  s.text(2, id);
  s.step();
  return sqlite3_changes(db_) > 0;
}

void SqliteStore::erase_tokens(const std::string& device) {
  Stmt s(db_, "DELETE FROM tokens WHERE device=?");
  s.text(1, device);
  s.step();
}

std::vector<StoredToken> SqliteStore::load_tokens() const {
  Stmt s(db_, (std::string(kColumns) + "ORDER BY id").c_str());
  return read_tokens(s);
}

std::vector<StoredToken> SqliteStore::device_tokens(const std::string& device) const {
  Stmt s(db_, (std::string(kColumns) + "WHERE device=? ORDER BY created, id").c_str());
  s.text(1, device);
  return read_tokens(s);
}

TokenSalt SqliteStore::token_salt() {
  auto read = [&]() -> std::optional<TokenSalt> {
    Stmt s(db_, "SELECT value FROM meta WHERE key='token_salt'");
    if (!s.step()) return std::nullopt;
    auto salt = store_codec::salt_from_hex(column_string(s.get(), 0));
    if (!salt) throw StoreError("store " + path_.string() + ": the token salt is damaged");
    return salt;
  };
  if (auto salt = read()) return *salt;
  Stmt ins(db_, "INSERT OR IGNORE INTO meta(key, value) VALUES('token_salt', ?)");
  ins.text(1, store_codec::salt_hex(store_codec::new_salt()));
  ins.step();
  if (auto first = read()) return *first;  // another connection's, if it was first
  throw StoreError("store " + path_.string() + ": cannot keep the token salt");
}

}  // namespace pweb::registrar
