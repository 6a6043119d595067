#include "pweb/registrar/follower.hpp"

#include <algorithm>

namespace pweb::registrar {

StoreFollower::StoreFollower(std::unique_ptr<ChangeWatch> watch, Registrar& registrar,
                             std::chrono::milliseconds interval)
    : watch_(std::move(watch)), registrar_(registrar), interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

StoreFollower::~StoreFollower() { stop(); }

void StoreFollower::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void StoreFollower::run() {
  using Clock = std::chrono::steady_clock;
  // What others wrote between the node's initial load and the watch's LISTEN.
  registrar_.catch_up();
  auto next = Clock::now() + interval_;
  auto last = Clock::now();
  while (!stopping_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    const bool woke = watch_->wait(std::clamp(left, std::chrono::milliseconds(1), kPoll));
    if (!woke && Clock::now() < next) continue;
    // A watch that keeps waking (a database refusing connections) must not
    // spin: catch-ups are kMinGap apart; one catch-up covers every change
    // committed before it, so nothing is lost by waiting.
    const auto since = Clock::now() - last;
    if (since < kMinGap) std::this_thread::sleep_for(kMinGap - since);
    // A periodic catch-up reads whatever a notification said.
    registrar_.catch_up(woke ? watch_->announced() : 0);
    last = Clock::now();
    next = last + interval_;
  }
}

}  // namespace pweb::registrar
