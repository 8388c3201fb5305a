#pragma once
// An engine and its HTTP server in this process, on a free loopback port (tests of the
// server's own behaviour: backpressure, streams, auth).

#include <memory>

#include <gtest/gtest.h>

#include "eddy/engine.h"
#include "http/server.h"
#include "testutil/testutil.h"

namespace eddy::test {

struct Served {
  explicit Served(Options o) : options(std::move(o)) {
    engine = OpenEngine(options);
    server = std::make_unique<HttpServer>(*engine, options);
    EXPECT_TRUE(server->Start().ok());
  }
  ~Served() {
    server->BeginShutdown();
    server->Join();
  }
  Options options;  // the server keeps a reference: declared first, destroyed last
  std::unique_ptr<Engine> engine;
  std::unique_ptr<HttpServer> server;
};

}  // namespace eddy::test
