#include "pweb/registrar/store.hpp"

#include <sqlite3.h>

#include <unordered_map>

namespace pweb::registrar {
namespace {

constexpr int kSchemaVersion = 1;

// Owns a prepared statement for the length of one call.
sqlite3_stmt* prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw StoreError(std::string("store: cannot prepare statement: ") + sqlite3_errmsg(db));
  }
  return stmt;
}

}  // namespace

// Prepared statements of the hot paths, kept for the connection's lifetime and
// keyed by their SQL text's address (always a string literal).
struct DeviceStore::StatementCache {
  std::unordered_map<const char*, sqlite3_stmt*> statements;
  ~StatementCache() {
    for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
  }
};

namespace {

// One use of a statement: prepared now, or borrowed from the cache and reset after.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db), stmt_(prepare(db, sql)) {}
  Statement(sqlite3* db, const char* sql, DeviceStore::StatementCache& cache)
      : db_(db), cached_(true) {
    auto& slot = cache.statements[sql];
    if (!slot) slot = prepare(db, sql);
    stmt_ = slot;
  }
  ~Statement() {
    if (cached_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    } else {
      sqlite3_finalize(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const noexcept { return stmt_; }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("store: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;
};

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p ? reinterpret_cast<const char*>(p) : std::string();
}

constexpr const char* kUpsertSql =
    "INSERT INTO devices(name, ipv4, ipv6, services, updated) VALUES(?,?,?,?,?) "
    "ON CONFLICT(name) DO UPDATE SET ipv4=excluded.ipv4, ipv6=excluded.ipv6, "
    "services=excluded.services, updated=excluded.updated";

constexpr const char* kUnremoveSql = "DELETE FROM removed WHERE name=?";

DeviceRecord read_device(sqlite3_stmt* s) {
  DeviceRecord r;
  r.name = column_text(s, 0);
  if (auto v4 = column_text(s, 1); !v4.empty()) r.ipv4 = parse_ipv4(v4);
  if (auto v6 = column_text(s, 2); !v6.empty()) r.ipv6 = parse_ipv6(v6);
  r.services = column_text(s, 3);
  r.updated = sqlite3_column_int64(s, 4);
  return r;
}

void bind_device(sqlite3_stmt* s, const DeviceRecord& r) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  sqlite3_bind_text(s, 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  if (r.ipv4) {
    sqlite3_bind_text(s, 2, format_ipv4(*r.ipv4).c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(s, 2);
  }
  if (r.ipv6) {
    sqlite3_bind_text(s, 3, format_ipv6(*r.ipv6).c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(s, 3);
  }
  sqlite3_bind_text(s, 4, r.services.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 5, r.updated);
}

}  // namespace

DeviceStore::DeviceStore(const std::filesystem::path& data_dir)
    : path_(data_dir / "pweb.db"), cache_(std::make_unique<StatementCache>()) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    throw StoreError("store: cannot create data dir " + data_dir.string() + ": " + ec.message());
  }
  if (sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("store: cannot open " + path_.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    exec(
        "CREATE TABLE IF NOT EXISTS devices("
        " name TEXT PRIMARY KEY,"
        " ipv4 TEXT,"
        " ipv6 TEXT,"
        " services TEXT NOT NULL DEFAULT '',"
        " updated INTEGER NOT NULL)");
    exec(
        "CREATE TABLE IF NOT EXISTS users("
        " name TEXT PRIMARY KEY,"
        " pwhash TEXT NOT NULL,"
        " created INTEGER NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS devices_updated ON devices(updated)");
    // Names of removed devices, so that crawlers asking for changes learn of them.
    exec(
        "CREATE TABLE IF NOT EXISTS removed("
        " name TEXT PRIMARY KEY,"
        " removed INTEGER NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS removed_time ON removed(removed)");
    Statement check(db_, "SELECT value FROM meta WHERE key='schema_version'");
    if (check.step()) {
      if (std::stoi(column_text(check.get(), 0)) != kSchemaVersion) {
        throw StoreError("store: " + path_.string() + " has schema version " +
                         column_text(check.get(), 0) + ", this build reads " +
                         std::to_string(kSchemaVersion));
      }
    } else {
      exec("INSERT INTO meta(key, value) VALUES('schema_version', '1')");
    }
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

DeviceStore::~DeviceStore() {
  cache_.reset();  // statements go before their connection
  sqlite3_close(db_);
}

void DeviceStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError("store " + path_.string() + ": " + msg + " (in: " + sql + ")");
  }
}

std::vector<DeviceRecord> DeviceStore::load_all() const {
  std::vector<DeviceRecord> out;
  Statement s(db_, "SELECT name, ipv4, ipv6, services, updated FROM devices ORDER BY name");
  while (s.step()) out.push_back(read_device(s.get()));
  return out;
}

std::optional<DeviceRecord> DeviceStore::get(const std::string& name) const {
  Statement s(db_, "SELECT name, ipv4, ipv6, services, updated FROM devices WHERE name=?", *cache_);
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (!s.step()) return std::nullopt;
  return read_device(s.get());
}

std::vector<ListedDevice> DeviceStore::list(const std::string& after, std::int64_t since,
                                            std::size_t limit, bool with_removed) const {
  std::vector<ListedDevice> out;
  Statement s(db_,
              "SELECT name, ipv4, ipv6, services, updated, 0 FROM devices "
              "WHERE name > ?1 AND updated >= ?2 "
              "UNION ALL SELECT name, NULL, NULL, '', removed, 1 FROM removed "
              "WHERE ?4 AND name > ?1 AND removed >= ?2 "
              "ORDER BY 1 LIMIT ?3");
  sqlite3_bind_text(s.get(), 1, after.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 2, since);
  sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(limit));
  sqlite3_bind_int(s.get(), 4, with_removed ? 1 : 0);
  while (s.step()) out.push_back({read_device(s.get()), sqlite3_column_int(s.get(), 5) != 0});
  return out;
}

void DeviceStore::begin() { exec("BEGIN IMMEDIATE"); }
void DeviceStore::commit() { exec("COMMIT"); }
void DeviceStore::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

void DeviceStore::put(const DeviceRecord& r) {
  Statement s(db_, kUpsertSql, *cache_);
  bind_device(s.get(), r);
  s.step();
  Statement back(db_, kUnremoveSql, *cache_);  // a name registered again is no longer removed
  sqlite3_bind_text(back.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  back.step();
}

void DeviceStore::erase(const std::string& name, std::int64_t when) {
  Statement s(db_, "DELETE FROM devices WHERE name=?", *cache_);
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  s.step();
  Statement mark(db_, "INSERT OR REPLACE INTO removed(name, removed) VALUES(?,?)", *cache_);
  sqlite3_bind_text(mark.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(mark.get(), 2, when);
  mark.step();
  Statement forget(db_, "DELETE FROM removed WHERE removed < ?", *cache_);
  sqlite3_bind_int64(forget.get(), 1, when - kRemovedRetentionSeconds);
  forget.step();
}

bool DeviceStore::add_user(const std::string& name, const std::string& password_hash,
                           std::int64_t created) {
  Statement s(db_, "INSERT OR IGNORE INTO users(name, pwhash, created) VALUES(?,?,?)");
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, password_hash.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 3, created);
  s.step();
  return sqlite3_changes(db_) > 0;
}

bool DeviceStore::remove_user(const std::string& name) {
  Statement s(db_, "DELETE FROM users WHERE name=?");
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  s.step();
  return sqlite3_changes(db_) > 0;
}

std::optional<std::string> DeviceStore::password_hash(const std::string& name) const {
  Statement s(db_, "SELECT pwhash FROM users WHERE name=?", *cache_);
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (!s.step()) return std::nullopt;
  return column_text(s.get(), 0);
}

std::vector<std::string> DeviceStore::list_users() const {
  std::vector<std::string> out;
  Statement s(db_, "SELECT name FROM users ORDER BY name");
  while (s.step()) out.push_back(column_text(s.get(), 0));
  return out;
}

void DeviceStore::upsert(const std::vector<DeviceRecord>& records) {
  exec("BEGIN IMMEDIATE");
  try {
    Statement s(db_, kUpsertSql);
    Statement back(db_, kUnremoveSql);
    for (const auto& r : records) {
      bind_device(s.get(), r);
      s.step();
      s.reset();
      sqlite3_bind_text(back.get(), 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
      back.step();
      back.reset();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool DeviceStore::remove(const std::string& name) {
  Statement s(db_, "DELETE FROM devices WHERE name=?");
  sqlite3_bind_text(s.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  s.step();
  return sqlite3_changes(db_) > 0;
}

}  // namespace pweb::registrar
