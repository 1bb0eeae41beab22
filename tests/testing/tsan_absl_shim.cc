// ThreadSanitizer cannot see the locks of an Abseil it did not instrument
// (Debian's): these definitions take the place of absl::Mutex's, CondVar's
// and Notification's entry points in a TSan build, call the library's own
// through dlsym(RTLD_NEXT), and tell TSan the happens-before edge each one
// makes (a lock acquires what the last unlock released).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

// absl::Duration and absl::Time are trivially copyable 16-byte values,
// passed in registers like this struct.
struct Span {
  int64_t hi;
  uint32_t lo;
};

template <typename F>
F Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan shim: %s not found\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

}  // namespace

#define SHIM_NAME(ns, sym) "_ZN4absl" ns sym
#define NS "7debian3"

extern "C" {

void ShimLock(void* mu) __asm__(SHIM_NAME(NS, "5Mutex4LockEv"));
void ShimLock(void* mu) {
  static auto real = Real<void (*)(void*)>(SHIM_NAME(NS, "5Mutex4LockEv"));
  real(mu);
  __tsan_acquire(mu);
}

void ShimReaderLock(void* mu) __asm__(SHIM_NAME(NS, "5Mutex10ReaderLockEv"));
void ShimReaderLock(void* mu) {
  static auto real =
      Real<void (*)(void*)>(SHIM_NAME(NS, "5Mutex10ReaderLockEv"));
  real(mu);
  __tsan_acquire(mu);
}

bool ShimTryLock(void* mu) __asm__(SHIM_NAME(NS, "5Mutex7TryLockEv"));
bool ShimTryLock(void* mu) {
  static auto real = Real<bool (*)(void*)>(SHIM_NAME(NS, "5Mutex7TryLockEv"));
  const bool locked = real(mu);
  if (locked) __tsan_acquire(mu);
  return locked;
}

void ShimUnlock(void* mu) __asm__(SHIM_NAME(NS, "5Mutex6UnlockEv"));
void ShimUnlock(void* mu) {
  static auto real = Real<void (*)(void*)>(SHIM_NAME(NS, "5Mutex6UnlockEv"));
  __tsan_release(mu);
  real(mu);
}

void ShimReaderUnlock(void* mu) __asm__(SHIM_NAME(NS,
                                                  "5Mutex12ReaderUnlockEv"));
void ShimReaderUnlock(void* mu) {
  static auto real =
      Real<void (*)(void*)>(SHIM_NAME(NS, "5Mutex12ReaderUnlockEv"));
  __tsan_release(mu);
  real(mu);
}

void ShimLockWhen(void* mu, const void* cond) __asm__(
    SHIM_NAME(NS, "5Mutex8LockWhenERKNS0_9ConditionE"));
void ShimLockWhen(void* mu, const void* cond) {
  static auto real = Real<void (*)(void*, const void*)>(
      SHIM_NAME(NS, "5Mutex8LockWhenERKNS0_9ConditionE"));
  real(mu, cond);
  __tsan_acquire(mu);
}

void ShimAwait(void* mu, const void* cond) __asm__(
    SHIM_NAME(NS, "5Mutex5AwaitERKNS0_9ConditionE"));
void ShimAwait(void* mu, const void* cond) {
  static auto real = Real<void (*)(void*, const void*)>(
      SHIM_NAME(NS, "5Mutex5AwaitERKNS0_9ConditionE"));
  __tsan_release(mu);
  real(mu, cond);
  __tsan_acquire(mu);
}

bool ShimAwaitWithTimeout(void* mu, const void* cond, Span d) __asm__(
    SHIM_NAME(NS, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
bool ShimAwaitWithTimeout(void* mu, const void* cond, Span d) {
  static auto real = Real<bool (*)(void*, const void*, Span)>(SHIM_NAME(
      NS, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  __tsan_release(mu);
  const bool met = real(mu, cond, d);
  __tsan_acquire(mu);
  return met;
}

bool ShimAwaitWithDeadline(void* mu, const void* cond, Span t) __asm__(
    SHIM_NAME(NS, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
bool ShimAwaitWithDeadline(void* mu, const void* cond, Span t) {
  static auto real = Real<bool (*)(void*, const void*, Span)>(
      SHIM_NAME(NS, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  __tsan_release(mu);
  const bool met = real(mu, cond, t);
  __tsan_acquire(mu);
  return met;
}

void ShimWait(void* cv,
              void* mu) __asm__(SHIM_NAME(NS, "7CondVar4WaitEPNS0_5MutexE"));
void ShimWait(void* cv, void* mu) {
  static auto real =
      Real<void (*)(void*, void*)>(SHIM_NAME(NS, "7CondVar4WaitEPNS0_5MutexE"));
  __tsan_release(mu);
  real(cv, mu);
  __tsan_acquire(mu);
}

bool ShimWaitWithTimeout(void* cv, void* mu, Span d) __asm__(
    SHIM_NAME(NS, "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
bool ShimWaitWithTimeout(void* cv, void* mu, Span d) {
  static auto real = Real<bool (*)(void*, void*, Span)>(
      SHIM_NAME(NS, "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  __tsan_release(mu);
  const bool timed_out = real(cv, mu, d);
  __tsan_acquire(mu);
  return timed_out;
}

void ShimNotify(void* n) __asm__(SHIM_NAME(NS, "12Notification6NotifyEv"));
void ShimNotify(void* n) {
  static auto real =
      Real<void (*)(void*)>(SHIM_NAME(NS, "12Notification6NotifyEv"));
  __tsan_release(n);
  real(n);
}

void ShimWaitForNotification(const void* n) __asm__(
    "_ZNK4absl" NS "12Notification19WaitForNotificationEv");
void ShimWaitForNotification(const void* n) {
  static auto real = Real<void (*)(const void*)>(
      "_ZNK4absl" NS "12Notification19WaitForNotificationEv");
  real(n);
  __tsan_acquire(const_cast<void*>(n));
}

bool ShimWaitForNotificationWithTimeout(const void* n, Span d) __asm__(
    "_ZNK4absl" NS
    "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
bool ShimWaitForNotificationWithTimeout(const void* n, Span d) {
  static auto real = Real<bool (*)(const void*, Span)>(
      "_ZNK4absl" NS
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(n, d);
  if (notified) __tsan_acquire(const_cast<void*>(n));
  return notified;
}

}  // extern "C"
