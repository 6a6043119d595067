#include "stop_signal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace pweb::updater {
namespace {

volatile std::sig_atomic_t g_signal = 0;
int g_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  if (g_signal != 0) _exit(128 + sig);  // second signal: do not wait any longer
  g_signal = sig;
  const int saved = errno;
  const char byte = 's';
  [[maybe_unused]] const auto n = ::write(g_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

std::string install_stop_signals() {
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return std::string("pipe2: ") + std::strerror(errno);
  }
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(SIGINT, &sa, nullptr) != 0 || ::sigaction(SIGTERM, &sa, nullptr) != 0) {
    return std::string("sigaction: ") + std::strerror(errno);
  }
  std::signal(SIGPIPE, SIG_IGN);
  return {};
}

int stop_requested() { return static_cast<int>(g_signal); }

int wait_for_stop(std::chrono::milliseconds duration) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + duration;
  // Bounded: each round either ends the wait or was interrupted by a signal.
  for (int round = 0; round < 1000 && g_signal == 0; ++round) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) break;
    pollfd p{g_pipe[0], POLLIN, 0};
    const int timeout = static_cast<int>(std::min<long long>(left, 24LL * 3600 * 1000));
    const int r = ::poll(&p, 1, timeout);
    if (r < 0 && errno != EINTR) break;
  }
  return static_cast<int>(g_signal);
}

}  // namespace pweb::updater
