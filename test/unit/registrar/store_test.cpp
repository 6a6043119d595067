#include "pweb/registrar/store.hpp"

#include <gtest/gtest.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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

TEST(DeviceStore, PersistsAcrossReopen) {
  TempDir dir;
  {
    DeviceStore store(dir.path() / "nested");
    store.upsert({rec("laptop.alice.uw", "192.0.2.1", "2001:db8::1"),
                  rec("phone.alice.uw", "192.0.2.2", nullptr)});
    store.upsert({rec("phone.alice.uw", nullptr, "2001:db8::2")});
  }
  DeviceStore again(dir.path() / "nested");
  const auto all = again.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], rec("laptop.alice.uw", "192.0.2.1", "2001:db8::1"));
  EXPECT_EQ(all[1], rec("phone.alice.uw", nullptr, "2001:db8::2"));
  EXPECT_TRUE(again.remove("laptop.alice.uw"));
  EXPECT_FALSE(again.remove("laptop.alice.uw"));
  EXPECT_EQ(again.load_all().size(), 1u);
}

TEST(DeviceStore, Users) {
  TempDir dir;
  DeviceStore store(dir.path());
  EXPECT_TRUE(store.add_user("alice", "$argon2id$x", 1));
  EXPECT_FALSE(store.add_user("alice", "$argon2id$y", 2));
  EXPECT_EQ(store.password_hash("alice"), "$argon2id$x");
  EXPECT_FALSE(store.password_hash("bob"));
  store.add_user("bob", "h", 3);
  EXPECT_EQ(store.list_users(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE(store.remove_user("alice"));
  EXPECT_FALSE(store.remove_user("alice"));
}

TEST(DeviceStore, TransactionRollbackLeavesNothing) {
  TempDir dir;
  DeviceStore store(dir.path());
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
TEST(DeviceStore, RemovalsAreListedForCrawlersAskingForChanges) {
  TempDir dir;
  DeviceStore store(dir.path());
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

TEST(DeviceStore, RemovalsAreForgottenAfterTheRetention) {
  TempDir dir;
  DeviceStore store(dir.path());
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
  DeviceStore store(dir.path());
  store.upsert({rec("a.b.c", "192.0.2.1", nullptr)});
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "pweb.db-wal"));
}

TEST(DeviceStore, CorruptFileFailsWithClearError) {
  TempDir dir;
  std::ofstream(dir.path() / "pweb.db") << std::string(4096, 'x');
  try {
    DeviceStore store(dir.path());
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
    DeviceStore store(data_dir);
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
    EXPECT_THROW(DeviceStore(dir.path() / "sub"), StoreError);
  }
  chmod(dir.path().c_str(), 0700);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "sub"));
}

}  // namespace
}  // namespace pweb::registrar
