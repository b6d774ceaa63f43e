#include "test/net/stored_gateway.hpp"

#include <CppUTest/TestHarness.h>

#include "test/net/harness.hpp"

namespace troupe::test {

StoredGateway::StoredGateway(Configure configure) : configure_(std::move(configure)) {
  start();
}

StoredGateway::~StoredGateway() {
  if (gateway) stop();
  rt.shutdown();
}

void StoredGateway::start() {
  if (!files.is_open()) files.open();
  actors = std::make_unique<Persistence>(files.client());
  gateway = std::make_unique<Gateway>(
      rt, GatewayOptions{.server = quick_options(), .persistence = actors.get()});
  configure_(*gateway, *actors);
  CHECK_FALSE(gateway->start());
}

void StoredGateway::stop() {
  gateway->stop();
  gateway.reset();
  CHECK_TRUE(rt.run_for(10s));
  files.close();
  actors.reset();
}

std::vector<std::string> StoredGateway::stored_keys(const std::string& prefix) {
  std::vector<std::string> keys;
  auto page = on_loop_async<StoreResult<Page>>(
      rt, 0, [&](auto done) { files.client().store().list(prefix, {}, done); });
  CHECK_TRUE(page.ok());
  for (const auto& item : page.value().items) keys.push_back(item.key);
  return keys;
}

}  // namespace troupe::test
