#pragma once
// Private to dht/: calls `fire(id)` once `delay` after add(id), on its own
// thread. Every id waits the same delay, so a queue in order of adding is
// the schedule. stop() (also by the destructor) joins it and drops what waits.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "pweb/lock_guarded.hpp"

namespace pweb::dht {

class GraceTimer {
 public:
  using Clock = std::chrono::steady_clock;

  GraceTimer(std::chrono::milliseconds delay, std::function<void(std::uint64_t)> fire)
      : delay_(delay), fire_(std::move(fire)), thread_([this] { run(); }) {}
  ~GraceTimer() { stop(); }
  GraceTimer(const GraceTimer&) = delete;
  GraceTimer& operator=(const GraceTimer&) = delete;

  void add(std::uint64_t id) {
    {
      auto s = state_.lock();
      if (s->stopped) return;
      s->queue.emplace_back(Clock::now() + delay_, id);
    }
    wake_.notify_one();
  }

  void stop() {
    {
      auto s = state_.lock();
      if (s->stopped) return;
      s->stopped = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct State {
    bool stopped = false;
    std::deque<std::pair<Clock::time_point, std::uint64_t>> queue;
  };

  void run() {
    for (;;) {
      std::uint64_t id = 0;
      {
        auto s = state_.lock();
        s.wait(wake_, [&] { return s->stopped || !s->queue.empty(); });
        if (s->stopped) return;
        const auto due = s->queue.front().first;
        // Later adds are due later: only stop() cuts this wait short.
        if (s.wait_until(wake_, due, [&] { return s->stopped; })) return;
        id = s->queue.front().second;
        s->queue.pop_front();
      }
      fire_(id);  // unlocked: it may take its time
    }
  }

  const std::chrono::milliseconds delay_;
  const std::function<void(std::uint64_t)> fire_;
  LockGuarded<State> state_;
  std::condition_variable wake_;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace pweb::dht
