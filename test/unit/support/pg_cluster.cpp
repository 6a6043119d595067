#include "support/pg_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pweb::testutil {
namespace {

namespace fs = std::filesystem;
const fs::path kBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kUser = "pweb";

struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Whom the server runs as: nobody when this is root, else this user.
Account server_account() {
  if (geteuid() != 0) return {geteuid(), getegid()};
  const passwd* pw = getpwnam("nobody");
  if (!pw) throw std::runtime_error("pg_cluster: no user 'nobody' to run PostgreSQL as");
  return {pw->pw_uid, pw->pw_gid};
}

// Starts `argv` as the server account; it dies with this process.
pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const Account who = server_account();
  const bool drop = geteuid() == 0;
  const pid_t parent = getpid();
  const std::string log = (args.size() > 2 ? args[2] : std::string("/dev/null")) + ".log";
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("pg_cluster: fork failed");
  if (pid == 0) {  // only async-signal-safe calls from here
    if (drop && (setgroups(0, nullptr) != 0 || setgid(who.gid) != 0 || setuid(who.uid) != 0)) {
      _exit(126);
    }
    // The server's log goes to a file beside its data, not into the test output.
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    prctl(PR_SET_PDEATHSIG, SIGINT);  // after setuid, which clears it
    if (getppid() != parent) _exit(125);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` at most `limit`; its exit status, or -1 if still running.
int wait_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (std::chrono::steady_clock::now() > until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error("pg_cluster: no free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

PgCluster* PgCluster::shared() {
  static std::unique_ptr<PgCluster> cluster = []() -> std::unique_ptr<PgCluster> {
    if (!fs::exists(kBin / "initdb") || !fs::exists(kBin / "postgres")) return nullptr;
    return std::make_unique<PgCluster>();
  }();
  return cluster.get();
}

PgCluster::PgCluster() {
  char tmpl[] = "/tmp/pweb-pg-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("pg_cluster: cannot make a temporary directory");
  dir_ = tmpl;
  const Account who = server_account();
  if (chown(dir_.c_str(), who.uid, who.gid) != 0) {
    throw std::runtime_error("pg_cluster: cannot give " + dir_.string() + " to the server user");
  }
  const pid_t init = spawn({(kBin / "initdb").string(), "-D", (dir_ / "data").string(), "-U", kUser,
                            "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"});
  const int rc = wait_for(init, std::chrono::seconds(60));
  if (rc != 0) {
    if (rc < 0) kill(init, SIGKILL);
    throw std::runtime_error("pg_cluster: initdb failed (exit " + std::to_string(rc) + ")");
  }
  port_ = free_port();
  start();
}

PgCluster::~PgCluster() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgCluster::uri(const std::string& db) const {
  return "postgresql://" + std::string(kUser) + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

void PgCluster::start() {
  if (pid_ > 0) return;
  pid_ = spawn({(kBin / "postgres").string(), "-D", (dir_ / "data").string(), "-k", dir_.string(),
                "-p", std::to_string(port_), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on",
                "-c", "max_connections=200", "-c", "log_min_messages=fatal"});
  const std::string ping = uri("postgres") + "?connect_timeout=1";
  for (int i = 0; i < 300; ++i) {  // 30 s at most
    if (PQping(ping.c_str()) == PQPING_OK) return;
    if (wait_for(pid_, std::chrono::milliseconds(0)) >= 0) break;  // it exited
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop();
  throw std::runtime_error("pg_cluster: PostgreSQL did not start on port " + std::to_string(port_));
}

void PgCluster::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: sessions are cut, data is kept
  if (wait_for(pid_, std::chrono::seconds(20)) < 0) {
    kill(pid_, SIGKILL);
    wait_for(pid_, std::chrono::seconds(5));
  }
  pid_ = -1;
}

std::string PgCluster::create_database() {
  const std::string name = "t_" + std::to_string(++next_db_);
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(uri("postgres").c_str()), PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("pg_cluster: ") + PQerrorMessage(c.get()));
  }
  // The name is made here, never from input: no quoting needed.
  std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexec(c.get(), ("CREATE DATABASE " + name).c_str()), PQclear);
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error(std::string("pg_cluster: ") + PQresultErrorMessage(r.get()));
  }
  return uri(name);
}

}  // namespace pweb::testutil
