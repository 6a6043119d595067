#include "state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pweb::updater {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0' || *v != '/') return std::nullopt;  // only absolute paths
  return std::string(v);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::optional<std::filesystem::path> default_state_path(const std::string& device) {
  if (auto dir = env("STATE_DIRECTORY")) {
    // systemd may list several directories separated by ':'; the first is ours.
    return std::filesystem::path(dir->substr(0, dir->find(':'))) / device;
  }
  if (auto dir = env("XDG_STATE_HOME")) {
    return std::filesystem::path(*dir) / "pweb-update" / device;
  }
  if (auto home = env("HOME")) {
    return std::filesystem::path(*home) / ".local" / "state" / "pweb-update" / device;
  }
  return std::nullopt;
}

LoadedState load_state(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    return {std::nullopt, "cannot read " + path.string() + ": " + errno_text()};
  }
  std::string text(4096, '\0');  // a state file is three short lines
  std::size_t got = 0;
  for (int i = 0; i < 100 && got < text.size(); ++i) {
    const auto n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  auto state = registrar::update::parse_state(text);
  if (!state) return {std::nullopt, path.string() + " is not a pweb-update state file; ignored"};
  return {state, {}};
}

std::string save_state(const std::filesystem::path& path,
                       const registrar::update::UpdateState& state) {
  std::error_code ec;
  const auto dir = path.parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + ": " + errno_text();
  const auto text = registrar::update::format_state(state);
  std::size_t done = 0;
  for (int i = 0; i < 100 && done < text.size(); ++i) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  const auto err = errno_text();
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + err;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const auto e = errno_text();
    ::unlink(tmp.c_str());
    return "cannot rename " + tmp + " to " + path.string() + ": " + e;
  }
  return {};
}

}  // namespace pweb::updater
