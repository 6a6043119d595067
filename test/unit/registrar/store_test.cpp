#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "pweb/registrar/sqlite_store.hpp"
#include "support/pg_cluster.hpp"
#include "temp_dir.hpp"

namespace pweb::registrar {
namespace {

using testutil::TempDir;

DeviceRecord rec(const std::string& name, const char* v4, const char* v6) {
  DeviceRecord r;
  r.name = name;
  if (v4) r.ipv4 = parse_ipv4(v4);
  if (v6) r.ipv6 = parse_ipv6(v6);
  r.updated = 1700000000;
  r.services = "http:8080";
  return r;
}

// The cases every backend must pass, run against SQLite and PostgreSQL.
class StoreTest : public ::testing::TestWithParam<StoreLocation::Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == StoreLocation::Kind::sqlite) {
      where_ = StoreLocation::sqlite(dir_.path() / "nested");
      return;
    }
    auto* cluster = testutil::PgCluster::shared();
    if (!cluster) GTEST_SKIP() << "SKIPPED: PostgreSQL 15 not installed (/usr/lib/postgresql/15)";
    where_ = StoreLocation::postgresql(cluster->create_database(), dir_.path());
  }
  // A connection of its own to the test's store (a reopen, for SQLite).
  std::unique_ptr<DeviceStore> open() { return open_store(where_); }

  TempDir dir_;
  StoreLocation where_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(StoreLocation::Kind::sqlite,
                                           StoreLocation::Kind::postgresql),
                         [](const auto& param_info) {
                           return param_info.param == StoreLocation::Kind::sqlite ? "Sqlite"
                                                                                  : "Postgresql";
                         });

TEST_P(StoreTest, PersistsAcrossReopen) {
  {
    auto store_ptr = open();
    auto& store = *store_ptr;
    store.upsert({rec("laptop.alice.uw", "192.0.2.1", "2001:db8::1"),
                  rec("phone.alice.uw", "192.0.2.2", nullptr)});
    store.upsert({rec("phone.alice.uw", nullptr, "2001:db8::2")});
  }
  auto again_ptr = open();
  auto& again = *again_ptr;
  const auto all = again.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], rec("laptop.alice.uw", "192.0.2.1", "2001:db8::1"));
  EXPECT_EQ(all[1], rec("phone.alice.uw", nullptr, "2001:db8::2"));
  EXPECT_TRUE(again.remove("laptop.alice.uw"));
  EXPECT_FALSE(again.remove("laptop.alice.uw"));
  EXPECT_EQ(again.load_all().size(), 1u);
}

TEST_P(StoreTest, Users) {
  auto store_ptr = open();
  auto& store = *store_ptr;
  EXPECT_TRUE(store.add_user("alice", "$argon2id$x", 1));
  EXPECT_FALSE(store.add_user("alice", "$argon2id$y", 2));
  EXPECT_EQ(store.password_hash("alice"), "$argon2id$x");
  EXPECT_FALSE(store.password_hash("bob"));
  store.add_user("bob", "h", 3);
  EXPECT_EQ(store.list_users(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(store.remove_user("alice"));
  EXPECT_FALSE(store.remove_user("alice"));
}

TEST_P(StoreTest, TransactionRollbackLeavesNothing) {
  auto store_ptr = open();
  auto& store = *store_ptr;
  store.begin();
  store.put(rec("a.b.c", "192.0.2.1", nullptr));
  store.rollback();
  EXPECT_FALSE(store.get("a.b.c"));
  store.begin();
  store.put(rec("a.b.c", "192.0.2.1", nullptr));
  store.commit();
  EXPECT_TRUE(store.get("a.b.c"));
  store.begin();
  store.erase("a.b.c", 100);
  store.commit();
  EXPECT_FALSE(store.get("a.b.c"));
}

std::vector<std::string> listed(const DeviceStore& store, std::int64_t since, bool with_removed) {
  std::vector<std::string> out;
  for (const auto& e : store.list("", since, 100, with_removed)) {
    out.push_back((e.removed ? "-" : "+") + e.device.name + "@" + std::to_string(e.device.updated));
  }
  return out;
}

// Crawlers asking for changes since a time learn of removals too, in name order
// with the devices; a name registered again is a device again, not a removal.
TEST_P(StoreTest, RemovalsAreListedForCrawlersAskingForChanges) {
  auto store_ptr = open();
  auto& store = *store_ptr;
  auto at = [](DeviceRecord r, std::int64_t t) {
    r.updated = t;
    return r;
  };
  store.begin();
  store.put(at(rec("a.u.x", "192.0.2.1", nullptr), 10));
  store.put(at(rec("b.u.x", "192.0.2.2", nullptr), 10));
  store.put(at(rec("c.u.x", "192.0.2.3", nullptr), 10));
  store.commit();
  store.begin();
  store.erase("b.u.x", 20);
  store.commit();
  EXPECT_EQ(listed(store, 0, false), (std::vector<std::string>{"+a.u.x@10", "+c.u.x@10"}));
  EXPECT_EQ(listed(store, 0, true),
            (std::vector<std::string>{"+a.u.x@10", "-b.u.x@20", "+c.u.x@10"}));
  EXPECT_EQ(listed(store, 15, true), (std::vector<std::string>{"-b.u.x@20"}));
  EXPECT_EQ(listed(store, 21, true), (std::vector<std::string>{}));
  // Pages by name continue across both kinds.
  const auto page = store.list("a.u.x", 0, 1, true);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_TRUE(page[0].removed);
  EXPECT_EQ(page[0].device.name, "b.u.x");

  store.begin();
  store.put(at(rec("b.u.x", "192.0.2.9", nullptr), 30));
  store.commit();
  EXPECT_EQ(listed(store, 15, true), (std::vector<std::string>{"+b.u.x@30"}));
  // The bulk import path clears removals as well.
  store.begin();
  store.erase("c.u.x", 40);
  store.commit();
  store.upsert({at(rec("c.u.x", "192.0.2.3", nullptr), 50)});
  EXPECT_EQ(listed(store, 35, true), (std::vector<std::string>{"+c.u.x@50"}));
}

TEST_P(StoreTest, RemovalsAreForgottenAfterTheRetention) {
  auto store_ptr = open();
  auto& store = *store_ptr;
  store.begin();
  store.erase("old.u.x", 1000);
  store.commit();
  EXPECT_EQ(listed(store, 0, true), (std::vector<std::string>{"-old.u.x@1000"}));
  store.begin();
  store.erase("new.u.x", 1000 + kRemovedRetentionSeconds);  // old is exactly at the edge
  store.commit();
  EXPECT_EQ(listed(store, 0, true).size(), 2u);
  store.begin();
  store.erase("newer.u.x", 1001 + kRemovedRetentionSeconds);  // one second past it
  store.commit();
  EXPECT_EQ(
      listed(store, 0, true),
      (std::vector<std::string>{"-new.u.x@" + std::to_string(1000 + kRemovedRetentionSeconds),
                                "-newer.u.x@" + std::to_string(1001 + kRemovedRetentionSeconds)}));
}

TEST(DeviceStore, UsesWal) {
  TempDir dir;
  SqliteStore store(dir.path());
  store.upsert({rec("a.b.c", "192.0.2.1", nullptr)});
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "pweb.db-wal"));
}

TEST(DeviceStore, CorruptFileFailsWithClearError) {
  TempDir dir;
  std::ofstream(dir.path() / "pweb.db") << std::string(4096, 'x');
  try {
    SqliteStore store(dir.path());
    FAIL() << "opened a corrupt store";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("pweb.db"), std::string::npos) << e.what();
  }
}

// A data dir that cannot be a directory at all is refused, saying which.
TEST(DeviceStore, DataDirThatCannotBeMadeFailsSayingWhy) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "not a directory\n";
  const auto data_dir = dir.path() / "file" / "sub";
  try {
    SqliteStore store(data_dir);
    FAIL() << "opened a store under a regular file";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot create data dir " + data_dir.string()), std::string::npos) << what;
  }
}

// Root (CI) checks files as `nobody` for the test: a file-system uid other than
// 0 drops CAP_DAC_OVERRIDE, so the directory's permissions apply. setfsuid
// changes only this thread, the one that opens the store.
class AsNobodyForFiles {
 public:
  AsNobodyForFiles() : was_root_(geteuid() == 0) {
    if (was_root_) setfsuid(kNobody);
  }
  ~AsNobodyForFiles() {
    if (was_root_) setfsuid(0);
  }
  AsNobodyForFiles(const AsNobodyForFiles&) = delete;
  AsNobodyForFiles& operator=(const AsNobodyForFiles&) = delete;

 private:
  static constexpr uid_t kNobody = 65534;
  bool was_root_;
};

TEST(DeviceStore, UnwritableDataDirFails) {
  TempDir dir;
  chmod(dir.path().c_str(), 0555);  // readable and searchable by all, writable by none
  {
    AsNobodyForFiles as_nobody;
    EXPECT_THROW(SqliteStore(dir.path() / "sub"), StoreError);
  }
  chmod(dir.path().c_str(), 0700);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "sub"));
}

// ---- Damage found before start (store_damage), set aside (set_aside_store) ----

namespace fs = std::filesystem;

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A store as a node leaves it: devices and a user, closed (no -wal left).
void make_store(const fs::path& dir, int devices = 2000) {
  SqliteStore store(dir);
  std::vector<DeviceRecord> records;
  for (int i = 0; i < devices; ++i) {
    records.push_back(rec("d" + std::to_string(i) + ".alice.uw", "192.0.2.1", "2001:db8::1"));
  }
  store.upsert(records);
  store.add_user("alice", "$argon2id$x", 1);
}

void make_identity(const fs::path& dir) { std::ofstream(dir / "identity.pem") << "key\n"; }

void set_schema_version(const fs::path& dir, const char* version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "pweb.db").c_str(), &db), SQLITE_OK);
  const std::string sql =
      std::string("UPDATE meta SET value='") + version + "' WHERE key='schema_version'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// The damage found, and the store's files exactly as they were.
std::string damage_changing_nothing(const fs::path& dir) {
  const auto before = bytes_of(dir / "pweb.db");
  const bool existed = fs::exists(dir / "pweb.db");
  const auto damage = store_damage(dir);
  EXPECT_EQ(fs::exists(dir / "pweb.db"), existed);
  EXPECT_EQ(bytes_of(dir / "pweb.db"), before);
  EXPECT_FALSE(fs::exists(dir / "pweb.db-wal"));
  EXPECT_FALSE(fs::exists(dir / "pweb.db-shm"));
  return damage.value_or("");
}

TEST(StoreDamage, NewAndSoundStoresAreFine) {
  TempDir dir;
  EXPECT_FALSE(store_damage(dir.path()));  // a new data dir
  EXPECT_FALSE(store_damage(dir.path() / "not-yet"));
  make_store(dir.path());
  make_identity(dir.path());
  EXPECT_EQ(damage_changing_nothing(dir.path()), "");
}

TEST(StoreDamage, MissingStoreInADataDirWithAnIdentity) {
  for (const char* identity : {"identity.pem", "identity.crt"}) {
    TempDir dir;
    std::ofstream(dir.path() / identity) << "x\n";
    const auto what = damage_changing_nothing(dir.path());
    EXPECT_NE(what.find((dir.path() / "pweb.db").string() + " is missing"), std::string::npos)
        << what;
    EXPECT_NE(what.find(identity), std::string::npos) << what;
  }
}

TEST(StoreDamage, EmptyStore) {
  TempDir dir;
  make_store(dir.path());
  fs::resize_file(dir.path() / "pweb.db", 0);
  const auto what = damage_changing_nothing(dir.path());
  EXPECT_EQ(what, (dir.path() / "pweb.db").string() + " is empty (0 bytes)");
}

TEST(StoreDamage, TruncatedStore) {
  TempDir dir;
  make_store(dir.path());
  const auto size = fs::file_size(dir.path() / "pweb.db");
  ASSERT_GT(size, 8 * 4096u);
  for (const auto cut : {size / 2 / 4096 * 4096, size - 100, std::uintmax_t{50}}) {
    fs::resize_file(dir.path() / "pweb.db", cut);
    const auto what = damage_changing_nothing(dir.path());
    EXPECT_NE(what.find("pweb.db is truncated: " + std::to_string(cut) + " bytes"),
              std::string::npos)
        << what;
  }
}

TEST(StoreDamage, JunkPageInTheMiddle) {
  TempDir dir;
  make_store(dir.path());
  const auto size = fs::file_size(dir.path() / "pweb.db");
  {
    std::fstream f(dir.path() / "pweb.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    f << std::string(4096, 'x');
  }
  const auto what = damage_changing_nothing(dir.path());
  EXPECT_NE(what.find((dir.path() / "pweb.db").string() + " is corrupt"), std::string::npos)
      << what;
}

TEST(StoreDamage, OverwrittenHeader) {
  TempDir dir;
  make_store(dir.path());
  {
    std::fstream f(dir.path() / "pweb.db", std::ios::in | std::ios::out | std::ios::binary);
    f << std::string(100, 'x');
  }
  const auto what = damage_changing_nothing(dir.path());
  EXPECT_NE(what.find("is not an SQLite database"), std::string::npos) << what;
}

TEST(StoreDamage, OtherSchemaVersionSaysWhichFoundAndWhichNeeded) {
  TempDir dir;
  make_store(dir.path(), 1);
  set_schema_version(dir.path(), "3");
  const std::string db = (dir.path() / "pweb.db").string();
  EXPECT_EQ(damage_changing_nothing(dir.path()),
            db + " has schema version 3; this build reads schema version 2");
  try {
    SqliteStore store(dir.path());
    FAIL() << "opened a store of schema version 3";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("has schema version 3"), std::string::npos) << e.what();
  }
  set_schema_version(dir.path(), "two");
  EXPECT_EQ(damage_changing_nothing(dir.path()),
            db + " has schema version 'two', which is not a number; this build reads schema "
                 "version 2");
  try {
    SqliteStore store(dir.path());
    FAIL() << "opened a store of schema version 'two'";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("'two', which is not a number"), std::string::npos)
        << e.what();
  }
}

// A store in use by a running node (its -wal open) is read through the WAL.
TEST(StoreDamage, StoreOpenByANodeIsSound) {
  TempDir dir;
  SqliteStore store(dir.path());
  store.upsert({rec("a.alice.uw", "192.0.2.1", nullptr)});
  ASSERT_TRUE(fs::exists(dir.path() / "pweb.db-wal"));
  EXPECT_FALSE(store_damage(dir.path()));
}

TEST(StoreDamage, SetAsideKeepsEveryFile) {
  TempDir dir;
  make_store(dir.path());
  fs::resize_file(dir.path() / "pweb.db", 4096);
  std::ofstream(dir.path() / "pweb.db-wal") << "wal";
  const auto kept = bytes_of(dir.path() / "pweb.db");
  const auto moved = set_aside_store(dir.path(), 1700000000);
  EXPECT_EQ(moved, dir.path() / "pweb.db.damaged-1700000000");
  EXPECT_EQ(bytes_of(moved), kept);
  EXPECT_EQ(bytes_of(moved.string() + "-wal"), "wal");
  EXPECT_FALSE(fs::exists(dir.path() / "pweb.db"));
  EXPECT_FALSE(fs::exists(dir.path() / "pweb.db-wal"));
  // Again within the same second: the first copy stays.
  std::ofstream(dir.path() / "pweb.db") << "second";
  EXPECT_EQ(set_aside_store(dir.path(), 1700000000), dir.path() / "pweb.db.damaged-1700000000.1");
  EXPECT_EQ(bytes_of(moved), kept);
  EXPECT_EQ(set_aside_store(dir.path(), 1700000001), fs::path());  // nothing left to move
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// The store holds password hashes: 0600 under a umask of 022, and an older
// store left 0644 is tightened when opened.
TEST(DeviceStore, FilesArePrivateWhateverTheUmask) {
  TempDir dir;
  const mode_t old = ::umask(022);
  {
    SqliteStore store(dir.path());
    store.add_user("alice", "$argon2id$x", 1);
    for (const char* f : {"pweb.db", "pweb.db-wal", "pweb.db-shm"}) {
      EXPECT_EQ(mode_of(dir.path() / f), 0600u) << f;
    }
  }
  ::chmod((dir.path() / "pweb.db").c_str(), 0644);
  {
    SqliteStore store(dir.path());
    store.add_user("bob", "$argon2id$y", 1);
    for (const char* f : {"pweb.db", "pweb.db-wal", "pweb.db-shm"}) {
      EXPECT_EQ(mode_of(dir.path() / f), 0600u) << f;
    }
  }
  ::umask(old);
}

StoredToken token(const std::string& id, const std::string& device, const NodeKey& key,
                  const TokenSalt& salt, const std::string& secret) {
  StoredToken t;
  t.info.id = id;
  t.info.device = device;
  t.info.scope = TokenScope::acme;
  t.info.allowed_subnets = {*parse_subnet("192.0.2.0/24").subnet,
                            *parse_subnet("2001:db8::/32").subnet};
  t.info.expires = 4102444800;
  t.info.created = 1700000000;
  t.hash = hash_token(salt, secret);
  t.sealed = seal_token(key, secret);
  return t;
}

TEST_P(StoreTest, TokensSurviveReopenAndGoWithTheirDevice) {
  NodeKey key{};
  key[0] = 42;
  const auto secret = new_token_secret();
  TokenSalt salt{};
  StoredToken made;
  {
    auto store_ptr = open();
    auto& store = *store_ptr;
    salt = store.token_salt();
    EXPECT_EQ(store.token_salt(), salt);
    store.upsert({rec("laptop.alice.uw", "192.0.2.1", nullptr),
                  rec("phone.alice.uw", "192.0.2.2", nullptr)});
    made = token("t0000000000000001", "laptop.alice.uw", key, salt, secret);
    EXPECT_EQ(store.add_token(made), TokenInsert::added);
    EXPECT_EQ(store.add_token(made), TokenInsert::duplicate);
    EXPECT_EQ(store.add_token(token("t0000000000000002", "tv.alice.uw", key, salt, secret)),
              TokenInsert::no_device);
    EXPECT_EQ(store.add_token(token("t0000000000000003", "phone.alice.uw", key, salt, secret)),
              TokenInsert::added);
  }
  auto again_ptr = open();
  auto& again = *again_ptr;
  EXPECT_EQ(again.token_salt(), salt);
  const auto all = again.load_tokens();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].info, made.info);
  EXPECT_EQ(all[0].hash, made.hash);
  EXPECT_EQ(unseal_token(key, all[0].sealed), secret);
  EXPECT_EQ(again.device_tokens("laptop.alice.uw").size(), 1u);
  EXPECT_FALSE(again.remove_token("phone.alice.uw", "t0000000000000001"));
  // Removing a device removes its tokens, by either path.
  again.begin();
  again.erase("laptop.alice.uw", 1700000100);
  again.commit();
  EXPECT_TRUE(again.device_tokens("laptop.alice.uw").empty());
  EXPECT_TRUE(again.remove("phone.alice.uw"));
  EXPECT_TRUE(again.load_tokens().empty());
}

TEST_P(StoreTest, TokenLimitPerDevice) {
  auto store_ptr = open();
  auto& store = *store_ptr;
  store.upsert({rec("laptop.alice.uw", "192.0.2.1", nullptr)});
  const NodeKey key{};
  const auto salt = store.token_salt();
  for (std::size_t i = 0; i < kMaxTokensPerDevice; ++i) {
    ASSERT_EQ(store.add_token(token(new_token_id(), "laptop.alice.uw", key, salt, "s")),
              TokenInsert::added);
  }
  EXPECT_EQ(store.add_token(token(new_token_id(), "laptop.alice.uw", key, salt, "s")),
            TokenInsert::limit);
  EXPECT_EQ(store.device_tokens("laptop.alice.uw").size(), kMaxTokensPerDevice);
}

TEST(DeviceStore, NoTokenSecretInTheFiles) {
  TempDir dir;
  std::vector<std::string> secrets;
  {
    SqliteStore store(dir.path());
    store.upsert({rec("laptop.alice.uw", "192.0.2.1", nullptr)});
    NodeKey key{};
    key[3] = 9;
    const auto salt = store.token_salt();
    for (int i = 0; i < 5; ++i) {
      secrets.push_back(new_token_secret());
      ASSERT_EQ(
          store.add_token(token(new_token_id(), "laptop.alice.uw", key, salt, secrets.back())),
          TokenInsert::added);
    }
  }
  std::string bytes;
  for (const char* f : {"pweb.db", "pweb.db-wal"}) {
    std::ifstream in(dir.path() / f, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 4096u);
  for (const auto& s : secrets) {
    EXPECT_EQ(bytes.find(s), std::string::npos);
    EXPECT_EQ(bytes.find(encode_token(s)), std::string::npos);
    EXPECT_EQ(bytes.find(s.substr(0, 16)), std::string::npos);  // nor a good part of one
  }
}

}  // namespace
}  // namespace pweb::registrar

namespace pweb::registrar {
namespace {

TEST_P(StoreTest, RrsetsTtlAndInterfaceIdSurviveReopenAndGoWithTheDevice) {
  DeviceRecord d = rec("laptop.alice.uw", "192.0.2.1", nullptr);
  d.ttl = 120;
  d.ipv6_iid = parse_ipv6("::1:2");
  d.rrsets = {RRset{"", 16, 300, {std::string("\x05hello", 6), std::string("\x00", 1)}},
              RRset{"_acme-challenge",
                    16,
                    60,
                    {std::string("\x03"
                                 "abc",
                                 4)}},
              RRset{"www",
                    5,
                    300,
                    {std::string("\x01"
                                 "a\x00",
                                 3)}}};
  {
    auto store_ptr = open();
    auto& store = *store_ptr;
    store.begin();
    store.put(d, true);
    store.put(rec("phone.alice.uw", "192.0.2.2", nullptr));
    store.commit();
  }
  auto again_ptr = open();
  auto& again = *again_ptr;
  EXPECT_EQ(again.get("laptop.alice.uw"), d);
  const auto all = again.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], d);
  EXPECT_TRUE(all[1].rrsets.empty());
  const auto listed = again.list("", 0, 10);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].device, d);
  // Fewer RRsets are written as fewer, not left behind.
  d.rrsets.pop_back();
  again.begin();
  again.put(d, true);
  again.commit();
  EXPECT_EQ(again.get("laptop.alice.uw")->rrsets.size(), 2u);
  again.begin();
  again.erase("laptop.alice.uw", 1700000001);
  again.put(rec("laptop.alice.uw", "192.0.2.1", nullptr));
  again.commit();
  EXPECT_TRUE(again.get("laptop.alice.uw")->rrsets.empty()) << "records outlived their device";
}

TEST(DeviceStoreRecords, DamagedRrsetDataIsReportedNotSkipped) {
  testutil::TempDir dir;
  DeviceRecord d = rec("laptop.alice.uw", "192.0.2.1", nullptr);
  d.rrsets = {RRset{"www",
                    16,
                    300,
                    {std::string("\x03"
                                 "abc",
                                 4)}}};
  {
    SqliteStore store(dir.path());
    store.upsert({d});
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "pweb.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE rrsets SET rdata=x'0009ab'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  SqliteStore again(dir.path());
  EXPECT_THROW((void)again.load_all(), StoreError);
}

// A store written by the previous version (schema 1) opens, migrated, devices kept.
TEST(DeviceStoreRecords, SchemaOneStoreIsMigrated) {
  testutil::TempDir dir;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "pweb.db").c_str(), &db), SQLITE_OK);
  const char* v1 =
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "INSERT INTO meta VALUES('schema_version','1');"
      "CREATE TABLE devices(name TEXT PRIMARY KEY, ipv4 TEXT, ipv6 TEXT,"
      " services TEXT NOT NULL DEFAULT '', updated INTEGER NOT NULL);"
      "CREATE TABLE users(name TEXT PRIMARY KEY, pwhash TEXT NOT NULL, created INTEGER NOT NULL);"
      "CREATE TABLE removed(name TEXT PRIMARY KEY, removed INTEGER NOT NULL);"
      "INSERT INTO devices VALUES('laptop.alice.uw','192.0.2.1',NULL,'',1700000000);";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(store_damage(dir.path()), std::nullopt);
  {
    SqliteStore store(dir.path());
    const auto d = store.get("laptop.alice.uw");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->ipv4, parse_ipv4("192.0.2.1"));
    EXPECT_EQ(d->ttl, 0u);
  }
  SqliteStore again(dir.path());  // a second open finds version 2
  EXPECT_TRUE(again.get("laptop.alice.uw"));
}

}  // namespace
}  // namespace pweb::registrar

namespace pweb::registrar {
namespace {

TEST(StoreLocation, ParsesSqliteAndPostgresqlAndRefusesTheRest) {
  std::string error;
  auto where = parse_store_location("sqlite", "/var/lib/pweb", error);
  ASSERT_TRUE(where);
  EXPECT_EQ(where->kind, StoreLocation::Kind::sqlite);
  EXPECT_EQ(where->describe(), "sqlite:/var/lib/pweb/pweb.db");
  EXPECT_TRUE(parse_store_location("", "/d", error));
  for (const char* uri : {"postgresql://pweb@db:5432/label", "postgres://db/label"}) {
    where = parse_store_location(uri, "/d", error);
    ASSERT_TRUE(where) << uri;
    EXPECT_EQ(where->kind, StoreLocation::Kind::postgresql);
    EXPECT_EQ(where->uri, uri);
    EXPECT_EQ(where->data_dir, "/d");  // the node key stays in the data dir
  }
  EXPECT_FALSE(parse_store_location("mysql://u:pw@db/x", "/d", error));
  EXPECT_NE(error.find("mysql://u:***@db/x"), std::string::npos) << error;
  EXPECT_NE(error.find("sqlite"), std::string::npos) << error;
  EXPECT_NE(error.find("postgresql://"), std::string::npos) << error;
}

TEST(StoreLocation, DescribeNeverShowsAPassword) {
  const auto described = [](const std::string& uri) {
    return StoreLocation::postgresql(uri, "/d").describe();
  };
  EXPECT_EQ(described("postgresql://pweb:s3cret@db:5432/label"),
            "postgresql://pweb:***@db:5432/label");
  EXPECT_EQ(described("postgresql://pweb@db/label?password=s3cret&sslmode=require"),
            "postgresql://pweb@db/label?password=***&sslmode=require");
  EXPECT_EQ(described("postgresql://db/label"), "postgresql://db/label");
}

}  // namespace
}  // namespace pweb::registrar
