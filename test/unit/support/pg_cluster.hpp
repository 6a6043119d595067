#pragma once
// A throwaway PostgreSQL 15 cluster for tests, from Debian's packages: initdb
// in a temporary directory (as `nobody` when running as root: initdb refuses
// root), a server on a free loopback port, trust authentication. One per test
// binary (shared()); each test takes a fresh database of its own. Tests stop
// and start it to see what the store does while PostgreSQL is down.
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace pweb::testutil {

class PgCluster {
 public:
  // The cluster of this test binary, started on first use; nullptr when the
  // PostgreSQL 15 binaries are not installed.
  static PgCluster* shared();

  PgCluster();  // initdb and start; throws std::runtime_error saying why not
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // A new empty database; its libpq URI.
  std::string create_database();
  // The URI of database `db`.
  [[nodiscard]] std::string uri(const std::string& db) const;
  // Fast shutdown (connections are cut), bounded; start() brings it back.
  void stop();
  void start();
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int next_db_ = 0;
};

// In a test body: skips the test, loudly, when there is no PostgreSQL.
#define PWEB_REQUIRE_PG(cluster)                                                     \
  auto* cluster = ::pweb::testutil::PgCluster::shared();                             \
  if (!(cluster)) {                                                                  \
    GTEST_SKIP() << "SKIPPED: PostgreSQL 15 not installed (/usr/lib/postgresql/15)"; \
  }

}  // namespace pweb::testutil
