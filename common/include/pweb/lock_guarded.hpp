#pragma once
// A value and the mutex that guards it, inseparable (after PowerDNS LockGuarded<T>):
// the only way to reach the value is through a holder that owns the lock.
#include <condition_variable>
#include <mutex>
#include <utility>

namespace pweb {

template <typename T>
class LockGuarded {
 public:
  template <typename... Args>
  explicit LockGuarded(Args&&... args) : value_(std::forward<Args>(args)...) {}

  class Holder {
   public:
    Holder(T& value, std::mutex& m) : lock_(m), value_(value) {}
    T& operator*() { return value_; }
    T* operator->() { return &value_; }
    // Waits on `cv` with this lock, as std::condition_variable::wait does.
    template <typename Predicate>
    void wait(std::condition_variable& cv, Predicate pred) {
      cv.wait(lock_, pred);
    }
    // ... or until `deadline`; false if `pred` still does not hold then.
    template <typename TimePoint, typename Predicate>
    bool wait_until(std::condition_variable& cv, const TimePoint& deadline, Predicate pred) {
      return cv.wait_until(lock_, deadline, pred);
    }

   private:
    std::unique_lock<std::mutex> lock_;
    T& value_;
  };

  Holder lock() { return Holder(value_, mutex_); }

 private:
  T value_;
  std::mutex mutex_;
};

}  // namespace pweb
