#include "pins.hpp"

#include <fcntl.h>
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

bool Pins::valid_key(const std::string& key) {
  if (key.size() != 40) return false;
  for (const char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Pins::Pins(std::filesystem::path path) : path_(std::move(path)) {
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
    std::string label, key, extra;
    if (!(fields >> label >> key) || (fields >> extra)) continue;
    if (registrar::label_error(label) || !valid_key(key)) continue;
    pins_.emplace(registrar::to_lower(label), key);  // an earlier line for the label wins
  }
}

std::optional<std::string> Pins::find(const std::string& label) const {
  const auto it = pins_.find(label);
  if (it == pins_.end()) return std::nullopt;
  return it->second;
}

std::string Pins::pin(const std::string& label, const std::string& key, bool* written) {
  if (written) *written = true;
  const auto [it, added] = pins_.emplace(label, key);
  if (added) {
    const bool ok = append(label + ' ' + key + '\n');
    if (written) *written = ok;
  }
  return it->second;
}

// One write(2) per line with O_APPEND: a crash leaves at most a torn last
// line, which loading skips and the next append starts after.
bool Pins::append(const std::string& line) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const std::string text = needs_newline_ ? '\n' + line : line;
  const bool ok = write_all(fd, text.data(), text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  needs_newline_ = !ok;  // after a failed write the file may end torn; a blank line is harmless
  return ok;
}

}  // namespace pweb::dht
