// WritePump: worker threads that turn engine events into gRPC writes, off
// the scheduler threads.
//
// A model's scheduler thread pushes every sampled token into its stream.
// Writing it out (filling the proto, serializing, StartWrite) costs tens of
// microseconds; done inline for 64 streams it would add about a millisecond
// to every decode step. A stream's wake-up therefore only posts its
// reactor here, and these threads do the writing while the scheduler runs
// the next step.
//
// Thread-safety: Post() may be called from any thread.
#ifndef TINYLM_SERVER_RPC_WRITE_PUMP_H_
#define TINYLM_SERVER_RPC_WRITE_PUMP_H_

#include <condition_variable>
#include <deque>
#include <functional>
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

  void Post(std::function<void()> task);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_WRITE_PUMP_H_
