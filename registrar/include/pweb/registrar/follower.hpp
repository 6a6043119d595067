#pragma once
// Keeps a node's snapshot following what the other nodes of its label write
// to a shared store: a thread waits on the store's change notifications and
// has the registrar catch up on each, and every `interval` besides, so a
// missed notification or a lost connection never leaves the node behind for
// longer than that.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "pweb/registrar/registrar.hpp"
#include "pweb/registrar/store.hpp"

namespace pweb::registrar {

class StoreFollower {
 public:
  StoreFollower(std::unique_ptr<ChangeWatch> watch, Registrar& registrar,
                std::chrono::milliseconds interval = std::chrono::seconds(5));
  ~StoreFollower();
  StoreFollower(const StoreFollower&) = delete;
  StoreFollower& operator=(const StoreFollower&) = delete;

  // Ends the thread within about kPoll; idempotent.
  void stop();

  static constexpr std::chrono::milliseconds kPoll{200};
  static constexpr std::chrono::milliseconds kMinGap{5};

 private:
  void run();

  std::unique_ptr<ChangeWatch> watch_;
  Registrar& registrar_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace pweb::registrar
