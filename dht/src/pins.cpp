#include "pweb/dht/pins.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "pweb/dht/agent_directory.hpp"
#include "pweb/registrar/names.hpp"
#include "write_all.hpp"

namespace pweb::dht {

namespace {
constexpr const char* kOperatorTag = "operator";
}  // namespace

const char* to_string(PinKind k) noexcept {
  return k == PinKind::operator_set ? "operator" : "automatic";
}

bool Pins::valid_key(const std::string& key) {
  if (key.size() != 40) return false;
  for (const char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Pins::Pins(std::filesystem::path path) : path_(std::move(path)) { load(); }

void Pins::load() {
  pins_.clear();
  needs_newline_ = false;
  seen_ = file_state();
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return;
  std::ifstream in(path_, std::ios::binary);
  if (!in) throw DirectoryError("cannot read the owner pins file " + path_.string());
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw DirectoryError("cannot read the owner pins file " + path_.string());
  needs_newline_ = !text.empty() && text.back() != '\n';
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string label, key, tag, extra;
    if (!(fields >> label >> key)) continue;
    const bool tagged = static_cast<bool>(fields >> tag);
    if ((tagged && tag != kOperatorTag) || (fields >> extra)) continue;
    if (registrar::label_error(label) || !valid_key(key)) continue;
    const Pin pin{key, tagged ? PinKind::operator_set : PinKind::automatic};
    auto [it, added] = pins_.emplace(registrar::to_lower(label), pin);
    // An earlier line for the label wins, unless this one is the operator's.
    if (!added && it->second.kind == PinKind::automatic && pin.kind == PinKind::operator_set) {
      it->second = pin;
    }
  }
}

Pins::FileState Pins::file_state() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return {};
  return {st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

bool Pins::reload_if_changed() {
  if (file_state() == seen_) return false;
  load();
  return true;
}

std::optional<Pin> Pins::find(const std::string& label) const {
  const auto it = pins_.find(label);
  if (it == pins_.end()) return std::nullopt;
  return it->second;
}

std::string Pins::pin(const std::string& label, const std::string& key, bool* written) {
  if (written) *written = true;
  const auto [it, added] = pins_.emplace(label, Pin{key, PinKind::automatic});
  if (added) {
    const bool ok = append(label + ' ' + key + '\n');
    if (written) *written = ok;
  }
  return it->second.key;
}

void Pins::set_operator(const std::string& label, const std::string& key) {
  pins_[label] = Pin{key, PinKind::operator_set};
  rewrite();
}

bool Pins::remove(const std::string& label) {
  if (pins_.erase(label) == 0) return false;
  rewrite();
  return true;
}

// One write(2) per line with O_APPEND: a crash leaves at most a torn last
// line, which loading skips and the next append starts after.
bool Pins::append(const std::string& line) {
  const bool unchanged = file_state() == seen_;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const std::string text = needs_newline_ ? '\n' + line : line;
  const bool ok = write_all(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  needs_newline_ = !ok;  // after a failed write the file may end torn; a blank line is harmless
  // Our own write is no change to re-read; another's since then still is.
  if (unchanged) seen_ = file_state();
  return ok;
}

void Pins::rewrite() {
  std::string text;
  for (const auto& [label, pin] : pins_) {
    text += label + ' ' + pin.key;
    if (pin.kind == PinKind::operator_set) text += std::string(" ") + kOperatorTag;
    text += '\n';
  }
  if (path_.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path_.parent_path(), ec);
  }
  const std::string tmp = path_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw DirectoryError("cannot write " + tmp + ": " + std::strerror(errno));
  const bool ok = write_all(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    throw DirectoryError("cannot write the owner pins file " + path_.string());
  }
  needs_newline_ = false;
  seen_ = file_state();
}

}  // namespace pweb::dht
