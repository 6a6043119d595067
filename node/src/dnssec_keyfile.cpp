#include "pweb/node/dnssec_keyfile.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pweb::node {

std::string write_new_dnssec_key(const std::filesystem::path& path) {
  const std::string pem = dns::DnssecKey::generate_pem();
  if (pem.empty()) return "OpenSSL could not make a P-256 key";
  // O_EXCL: a key in use is never replaced (resolvers hold its DS).
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create " + path.string() + ": " + std::strerror(errno);
  std::size_t done = 0;
  while (done < pem.size()) {
    const ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(path.c_str());
      return "cannot write " + path.string();
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return "cannot write " + path.string();
  return {};
}

std::shared_ptr<const dns::DnssecKey> load_dnssec_key(const std::filesystem::path& data_dir,
                                                      const std::string& key_file, bool create) {
  const bool shared = !key_file.empty();
  const std::filesystem::path path =
      shared ? std::filesystem::path(key_file) : data_dir / kDnssecKeyFile;
  const std::string option = shared ? "--dnssec-key" : "--dnssec";
  std::error_code ec;
  if (!shared && create && !std::filesystem::exists(path, ec)) {
    std::filesystem::create_directories(data_dir, ec);
    if (auto err = write_new_dnssec_key(path); !err.empty()) {
      throw std::runtime_error(option + ": " + err);
    }
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error(option + ": cannot read the key file " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  std::string err;
  auto key = dns::DnssecKey::from_pem(text.str(), err);
  if (!key) throw std::runtime_error(option + ": " + path.string() + ": " + err);
  return key;
}

}  // namespace pweb::node
