// GenerationStream: the one-way channel from a model's scheduler to the
// consumer of one request (a gRPC reactor, or a test).
//
// The scheduler pushes events and reads the cancel flag; the consumer pops
// events and may set the flag. Nothing in the engine calls consumer code
// except the wake-up hook, which only tells the consumer to come and pop.
//
// Thread-safety: every method may be called from any thread. The wake-up
// hook runs on the producer's thread under the stream's hook lock, so it
// must not call SetWakeup() or ClearWakeup(); once ClearWakeup() returns
// it runs no more.
#ifndef TINYLM_SERVER_ENGINE_STREAM_H_
#define TINYLM_SERVER_ENGINE_STREAM_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "server/engine/request.h"

namespace tinylm {

class GenerationStream {
 public:
  GenerationStream() = default;
  GenerationStream(const GenerationStream&) = delete;
  GenerationStream& operator=(const GenerationStream&) = delete;

  // ---- consumer side
  // Installs the hook called after each push (and once now if events wait).
  void SetWakeup(std::function<void()> wake);
  void ClearWakeup();
  // Asks the scheduler to stop this request at the next step.
  void Cancel() { cancelled_.store(true); }

  // For consumers with one write in flight: pops the next event only when
  // no write is in flight and marks one in flight. EndWrite() clears it.
  bool TryBeginWrite(StreamEvent* event);
  // With the write slot taken: pops up to `max` more token events queued
  // next (not past any other event), for a write of several tokens.
  void TakeMoreTokens(size_t max, std::vector<TokenEvent>* tokens);
  void EndWrite();

  // Blocks until the next event (tests and simple in-process consumers).
  StreamEvent WaitNext();

  // ---- producer side (the scheduler)
  bool cancelled() const { return cancelled_.load(); }
  void Push(StreamEvent event);

 private:
  void Wake();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;  // guarded by mu_
  bool writing_ = false;            // guarded by mu_

  std::mutex wake_mu_;
  std::function<void()> wake_;      // guarded by wake_mu_

  std::atomic<bool> cancelled_{false};
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_ENGINE_STREAM_H_
