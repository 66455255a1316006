// WritePump: worker threads that turn engine events into gRPC writes, off
// the scheduler threads.
//
// A model's scheduler thread pushes every sampled token into its stream.
// Writing it out (filling the proto, serializing, StartWrite) inline would
// put one write per stream into every decode step. A stream's wake-up
// therefore only posts its reactor here, and these threads do the writing
// while the scheduler runs the next step.
//
// Posting must stay cheap for the scheduler, which posts a burst of up to
// one task per stream every step: each worker has a lane of its own (a
// queue, a lock, a condition variable), posts go to the lanes in turn, and
// a worker takes its whole lane at once. A worker that ran out of tasks
// watches its lane for a while (kSpinBeforeSleep) before it sleeps, so
// that within a burst most posts find it awake: profiled at 64 streams on
// an H200 host with lanes but no such wait, the futex wake-ups of posts
// whose worker had just gone to sleep were 32% of the scheduler thread's
// samples, and going to sleep and waking half the workers'.
//
// Thread-safety: Post() may be called from any thread, but not once the
// destructor has begun (a lane that has stopped takes no more).
#ifndef TINYLM_SERVER_RPC_WRITE_PUMP_H_
#define TINYLM_SERVER_RPC_WRITE_PUMP_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tinylm {

class WritePump {
 public:
  explicit WritePump(int threads);
  // Runs the tasks still queued, then joins the threads.
  ~WritePump();
  WritePump(const WritePump&) = delete;
  WritePump& operator=(const WritePump&) = delete;

  // Tasks run in no set order; each runs once.
  void Post(std::function<void()> task);

 private:
  struct Lane {
    std::mutex mu;
    std::condition_variable ready;
    std::vector<std::function<void()>> tasks;  // guarded by mu
    std::atomic<bool> has_tasks{false};        // !tasks.empty(), unlocked
    // In or entering ready.wait(): a post notifies only then.
    bool sleeping = false;  // guarded by mu
    bool stopping = false;                     // guarded by mu
    std::thread thread;
  };
  static void Work(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<size_t> next_lane_{0};
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_WRITE_PUMP_H_
