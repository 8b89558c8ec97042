#include "actors/moe/server/task_pool.hpp"
#include "apps/node/node.hpp"
#include "gpu/device.hpp"
#include "messages/error.hpp"

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace colony;
using namespace std::chrono_literals;

namespace {

/// Every wait of these tests is bounded by this.
constexpr auto test_timeout = 3s;

/// Holds the device inside a batch until the test opens it.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;
  int entered = 0;

  void pass() {
    std::unique_lock<std::mutex> guard{mtx};
    ++entered;
    cv.notify_all();
    cv.wait_for(guard, test_timeout, [&] { return open; });
  }

  bool wait_entered(int n) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, test_timeout, [&] { return entered >= n; });
  }

  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    open = true;
    cv.notify_all();
  }
};

/// Rows x 3 floats starting at `first`.
at::Tensor rows_of(int64_t rows, float first = 0) {
  return at::arange(rows * 3, at::kFloat).add(first).reshape({rows, 3});
}

using tensors = std::vector<at::Tensor>;
using outcome = caf::expected<tensors>;

class task_pool_test : public ::testing::Test {
 protected:
  ~task_pool_test() override {
    for (auto& a : actors_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  caf::actor device() {
    auto dev = gpu::spawn_device(sys_, "cpu", log_);
    EXPECT_TRUE(dev) << describe(dev.error());
    actors_.push_back(*dev);
    return *dev;
  }

  caf::actor pool(const caf::actor& dev, moe::batch_function f,
                  size_t max_batch_size = 64, std::string name = "test/pool",
                  size_t min_batch_size = 1,
                  caf::timespan timeout = std::chrono::milliseconds(10)) {
    moe::task_pool_options opts;
    opts.name = std::move(name);
    opts.max_batch_size = max_batch_size;
    opts.min_batch_size = min_batch_size;
    opts.batch_timeout = timeout;
    auto p = moe::spawn_task_pool(sys_, opts, std::move(f), dev);
    actors_.push_back(p);
    return p;
  }

  /// Sends a submit without waiting.
  auto submit_async(const caf::actor& p, tensors inputs) {
    return self_->request(p, test_timeout, moe::submit_atom::value,
                          std::move(inputs));
  }

  template <class Handle>
  outcome wait(Handle& h) {
    outcome result{caf::error{}};
    h.receive([&](tensors& out) { result = std::move(out); },
              [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  outcome submit(const caf::actor& p, tensors inputs) {
    auto h = submit_async(p, std::move(inputs));
    return wait(h);
  }

  /// The pool's counters; also proves earlier submits have arrived.
  moe::task_pool_stats stats(const caf::actor& p) {
    moe::task_pool_stats result;
    self_->request(p, test_timeout, moe::stats_atom::value)
        .receive([&](moe::task_pool_stats& s) { result = s; },
                 [&](caf::error& err) { ADD_FAILURE() << describe(err); });
    return result;
  }

  std::unique_ptr<caf::actor_system_config> cfg_ = make_system_config();
  caf::actor_system sys_{*cfg_};
  caf::scoped_actor self_{sys_};
  std::shared_ptr<spdlog::logger> log_ = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::vector<caf::actor> actors_;
};

} // namespace

TEST_F(task_pool_test, results_match_per_request_results_and_batches_form) {
  gate g;
  std::atomic<int> calls{0};
  std::atomic<int> max_rows{0};
  auto dev = device();
  auto p = pool(dev, [&](const tensors& in) {
    if (calls++ == 0)
      g.pass(); // requests pile up meanwhile
    max_rows = std::max<int>(max_rows, static_cast<int>(in[0].size(0)));
    return tensors{in[0].mul(2).add(1), in[0].add(in[1])};
  });
  constexpr int requests = 40;
  std::vector<tensors> inputs;
  std::vector<decltype(submit_async(p, {}))> handles;
  for (int i = 0; i < requests; ++i) {
    auto rows = 1 + i % 5;
    inputs.push_back({rows_of(rows, 100.0f * i), at::ones({rows, 3})});
    handles.push_back(submit_async(p, inputs.back()));
  }
  ASSERT_TRUE(g.wait_entered(1));
  EXPECT_EQ(stats(p).requests, size_t{requests}); // all of them queued
  g.release();
  for (int i = 0; i < requests; ++i) {
    auto out = wait(handles[i]);
    ASSERT_TRUE(out) << describe(out.error());
    ASSERT_EQ(out->size(), 2u);
    EXPECT_TRUE(at::equal((*out)[0], inputs[i][0].mul(2).add(1))) << i;
    EXPECT_TRUE(at::equal((*out)[1], inputs[i][0].add(1))) << i;
  }
  auto s = stats(p);
  EXPECT_EQ(s.requests, size_t{requests});
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.rows, size_t{(1 + 2 + 3 + 4 + 5) * requests / 5});
  EXPECT_EQ(s.batches, static_cast<size_t>(calls.load()));
  // While the first batch slept, the others gathered into few batches.
  EXPECT_LT(calls.load(), requests / 2);
  EXPECT_GT(max_rows.load(), 5);
  EXPECT_LE(max_rows.load(), 64);
}

TEST_F(task_pool_test, exception_fails_only_the_requests_of_its_batch) {
  gate g;
  std::atomic<int> calls{0};
  auto dev = device();
  auto p = pool(dev, [&](const tensors& in) {
    if (calls++ == 0)
      g.pass();
    if (in[0].lt(0).any().item<bool>())
      throw std::runtime_error("marked input seen");
    return tensors{in[0].mul(2)};
  });
  auto first = submit_async(p, {rows_of(2)});
  ASSERT_TRUE(g.wait_entered(1));
  // These three form the next batch, behind the first.
  auto a = submit_async(p, {rows_of(1)});
  auto b = submit_async(p, {rows_of(2, -100.0f)});
  auto c = submit_async(p, {rows_of(3)});
  EXPECT_EQ(stats(p).requests, 4u);
  g.release();
  auto r0 = wait(first);
  ASSERT_TRUE(r0) << describe(r0.error());
  EXPECT_TRUE(at::equal((*r0)[0], rows_of(2).mul(2)));
  for (auto* h : {&a, &b, &c}) {
    auto r = wait(*h);
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_error(r.error(), errc::remote_error)) << describe(r.error());
    EXPECT_NE(error_reason(r.error()).find("marked input seen"),
              std::string::npos)
        << describe(r.error());
  }
  // The device keeps serving.
  auto d = submit(p, {rows_of(4)});
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_TRUE(at::equal((*d)[0], rows_of(4).mul(2)));
  auto s = stats(p);
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.batches, 3u);
}

TEST_F(task_pool_test, request_above_max_batch_size_fails_at_once) {
  std::atomic<int> calls{0};
  auto dev = device();
  auto p = pool(
      dev,
      [&](const tensors& in) {
        ++calls;
        return in;
      },
      8);
  auto start = std::chrono::steady_clock::now();
  auto r = submit(p, {rows_of(9)});
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::too_large)) << describe(r.error());
  auto text = error_reason(r.error());
  EXPECT_NE(text.find("9 rows"), std::string::npos) << text;
  EXPECT_NE(text.find("max_batch_size 8"), std::string::npos) << text;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(calls.load(), 0);
  // A request of exactly max rows is served.
  auto ok = submit(p, {rows_of(8)});
  ASSERT_TRUE(ok) << describe(ok.error());
  EXPECT_EQ(stats(p).failed, 1u);
}

TEST_F(task_pool_test, device_serves_the_oldest_request_first_across_pools) {
  std::mutex mtx;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&, name](const tensors& in) {
      std::lock_guard<std::mutex> guard{mtx};
      order.push_back(name);
      return in;
    };
  };
  auto dev = device();
  auto a = pool(dev, record("a"), 64, "a");
  auto b = pool(dev, record("b"), 64, "b");
  for (bool a_first : {true, false}) {
    SCOPED_TRACE(a_first ? "a first" : "b first");
    gate g;
    auto slow = pool(dev, [&](const tensors& in) {
      g.pass();
      std::lock_guard<std::mutex> guard{mtx};
      order.push_back("slow");
      return in;
    });
    {
      std::lock_guard<std::mutex> guard{mtx};
      order.clear();
    }
    auto hs = submit_async(slow, {rows_of(1)});
    ASSERT_TRUE(g.wait_entered(1));
    auto& first = a_first ? a : b;
    auto& second = a_first ? b : a;
    auto h1 = submit_async(first, {rows_of(1)});
    stats(first); // enqueued
    // The device orders by enqueue time: the pause makes `first` older
    // than `second` by more than any clock's granularity.
    std::this_thread::sleep_for(2ms);
    auto h2 = submit_async(second, {rows_of(1)});
    stats(second);
    g.release();
    for (auto* h : {&hs, &h1, &h2}) {
      auto r = wait(*h);
      ASSERT_TRUE(r) << describe(r.error());
    }
    std::lock_guard<std::mutex> guard{mtx};
    EXPECT_EQ(order, (std::vector<std::string>{"slow", a_first ? "a" : "b",
                                               a_first ? "b" : "a"}));
  }
}

TEST_F(task_pool_test, older_request_ready_by_timeout_goes_before_newer) {
  std::mutex mtx;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&, name](const tensors& in) {
      std::lock_guard<std::mutex> guard{mtx};
      order.push_back(name);
      return in;
    };
  };
  gate g;
  auto dev = device();
  auto slow = pool(dev, [&](const tensors& in) {
    g.pass();
    return in;
  });
  // `late` is ready only when its request waited 30 ms; `eager` at once.
  auto late = pool(dev, record("late"), 64, "late", 100, 30ms);
  auto eager = pool(dev, record("eager"), 64, "eager");
  auto hs = submit_async(slow, {rows_of(1)});
  ASSERT_TRUE(g.wait_entered(1));
  auto h1 = submit_async(late, {rows_of(1)});
  stats(late);
  // As above: `late`'s request is the older one.
  std::this_thread::sleep_for(2ms);
  auto h2 = submit_async(eager, {rows_of(1)});
  stats(eager);
  // Time is the subject here: `late` becomes ready only when its 30 ms
  // batch timeout expires inside the pool, which nothing outside the pool
  // and the device can observe, so wait it out (with margin) while the
  // device is still busy.
  std::this_thread::sleep_for(60ms);
  g.release();
  for (auto* h : {&hs, &h1, &h2}) {
    auto r = wait(*h);
    ASSERT_TRUE(r) << describe(r.error());
  }
  std::lock_guard<std::mutex> guard{mtx};
  EXPECT_EQ(order, (std::vector<std::string>{"late", "eager"}));
}

TEST_F(task_pool_test, pool_waits_for_min_batch_size_or_timeout) {
  std::vector<int64_t> batch_rows;
  auto dev = device();
  auto p = pool(
      dev,
      [&](const tensors& in) {
        batch_rows.push_back(in[0].size(0)); // device thread only
        return in;
      },
      64, "test/min", 4, std::chrono::milliseconds(100));
  // One row waits for the timeout.
  auto start = std::chrono::steady_clock::now();
  auto r = submit(p, {rows_of(1)});
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 95ms);
  // Four rows in two requests make a batch at once.
  start = std::chrono::steady_clock::now();
  auto h1 = submit_async(p, {rows_of(1)});
  auto h2 = submit_async(p, {rows_of(3)});
  ASSERT_TRUE(wait(h1));
  ASSERT_TRUE(wait(h2));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 90ms);
  EXPECT_EQ(stats(p).batches, 2u);
  EXPECT_EQ(batch_rows, (std::vector<int64_t>{1, 4}));
}

TEST_F(task_pool_test, wrong_output_rows_fail_the_batch) {
  auto dev = device();
  auto p = pool(dev, [&](const tensors& in) {
    return tensors{in[0], at::zeros({1, 3})};
  });
  auto r = submit(p, {rows_of(3)});
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_error(r.error(), errc::bad_shape)) << describe(r.error());
  EXPECT_NE(
      error_reason(r.error()).find("expert returned 1 rows for a batch of 3"),
      std::string::npos)
      << describe(r.error());
}

TEST_F(task_pool_test, run_task_runs_on_the_device_thread) {
  auto dev = device();
  std::thread::id ran_on;
  self_
      ->request(dev, test_timeout, gpu::run_task_atom::value,
                gpu::device_task{[&] {
                  ran_on = std::this_thread::get_id();
                }})
      .receive([]() {},
               [](caf::error& err) { ADD_FAILURE() << describe(err); });
  EXPECT_NE(ran_on, std::thread::id{});
  EXPECT_NE(ran_on, std::this_thread::get_id());
  // A task that throws reports the text; the device keeps serving.
  self_
      ->request(dev, test_timeout, gpu::run_task_atom::value,
                gpu::device_task{[] {
                  throw std::runtime_error("disk full");
                }})
      .receive([]() { ADD_FAILURE() << "task did not fail"; },
               [](caf::error& err) {
                 EXPECT_TRUE(is_error(err, errc::remote_error));
                 EXPECT_EQ(error_reason(err), "disk full");
               });
  auto p = pool(dev, [](const tensors& in) { return in; });
  auto r = submit(p, {rows_of(2)});
  ASSERT_TRUE(r) << describe(r.error());
}

TEST_F(task_pool_test, spawn_device_rejects_unknown_and_cuda_devices) {
  auto cuda = gpu::spawn_device(sys_, "cuda:0", log_);
  ASSERT_FALSE(cuda);
  EXPECT_TRUE(is_error(cuda.error(), errc::invalid_argument));
  EXPECT_NE(error_reason(cuda.error()).find("LibTorch was built without CUDA"),
            std::string::npos)
      << describe(cuda.error());
  for (auto name : {"tpu", "cuda", "cuda:", "cuda:x", "cuda:-1", "CPU", ""}) {
    auto dev = gpu::spawn_device(sys_, name, log_);
    ASSERT_FALSE(dev) << name;
    EXPECT_TRUE(is_error(dev.error(), errc::invalid_argument)) << name;
  }
}

TEST_F(task_pool_test, pending_requests_fail_when_the_device_stops) {
  gate g;
  auto dev = device();
  auto p = pool(dev, [&](const tensors& in) {
    g.pass();
    return in;
  });
  auto busy = submit_async(p, {rows_of(1)});
  ASSERT_TRUE(g.wait_entered(1));
  auto queued = submit_async(p, {rows_of(2)});
  stats(p);
  caf::anon_send_exit(dev, caf::exit_reason::user_shutdown);
  g.release();
  auto r1 = wait(busy); // it was running: it finishes
  ASSERT_TRUE(r1) << describe(r1.error());
  auto r2 = wait(queued);
  ASSERT_FALSE(r2);
  EXPECT_TRUE(is_error(r2.error(), errc::disconnected)) << describe(r2.error());
  // Later submits fail at once too.
  auto r3 = submit(p, {rows_of(1)});
  ASSERT_FALSE(r3);
  EXPECT_TRUE(is_error(r3.error(), errc::disconnected)) << describe(r3.error());
}

TEST_F(task_pool_test, pending_requests_fail_when_the_pool_stops) {
  gate g;
  auto dev = device();
  auto p = pool(dev, [&](const tensors& in) {
    g.pass();
    return in;
  });
  auto busy = submit_async(p, {rows_of(1)});
  ASSERT_TRUE(g.wait_entered(1));
  auto queued = submit_async(p, {rows_of(2)});
  stats(p);
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  auto r2 = wait(queued);
  ASSERT_FALSE(r2);
  auto r1 = wait(busy); // in flight on the device: fails too
  ASSERT_FALSE(r1);
  g.release();
  // The device keeps serving other pools.
  auto other = pool(dev, [](const tensors& in) { return in; });
  auto r3 = submit(other, {rows_of(1)});
  ASSERT_TRUE(r3) << describe(r3.error());
}

TEST_F(task_pool_test, single_row_round_trip_is_fast) {
  constexpr int rounds = 2000;
  auto x = rows_of(1);
  auto per_call = [&](const caf::actor& target) {
    EXPECT_TRUE(submit(target, {x})); // warm up
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i)
      if (!submit(target, {x}))
        return std::chrono::microseconds::max();
    return std::chrono::duration_cast<std::chrono::microseconds>(
        (std::chrono::steady_clock::now() - start) / rounds);
  };
  // Baseline: the same request answered by a plain actor.
  auto echo = sys_.spawn([]() -> caf::behavior {
    return {[](moe::submit_atom, tensors& in) {
      return in;
    }};
  });
  actors_.push_back(echo);
  auto baseline = per_call(echo);
  auto p = pool(device(), [](const tensors& in) { return in; });
  auto pooled = per_call(p);
  std::cout << "B=1 round trip: through pool and device " << pooled.count()
            << " us, plain actor " << baseline.count() << " us\n";
  // Loose bound: the machine is shared; the figures are printed above.
  EXPECT_LT(pooled.count(), 1000);
}
