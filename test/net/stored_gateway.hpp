#pragma once
// A gateway on its own runtime with a FileStore in a temporary directory
// (its alarms and its sessions' state), which a test can stop and start
// again on the same directory, as a restart of the server process would.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/gateway/gateway.hpp"
#include "persist/persistence.hpp"
#include "test/net/temp_file_store.hpp"

namespace troupe::test {

class StoredGateway {
 public:
  // Adds the routes: runs before every start, with the store of that start.
  using Configure = std::function<void(Gateway&, Persistence&)>;

  explicit StoredGateway(Configure configure);  // and starts
  ~StoredGateway();

  // The store opened again if closed, a new gateway, its routes, started.
  void start();
  // The gateway stopped, every process ended, the store closed.
  void stop();

  // The keys the store holds under `prefix`, read on its own loop.
  std::vector<std::string> stored_keys(const std::string& prefix);

  std::uint16_t port() const { return gateway->port(); }

  Runtime rt{{.schedulers = 2}};
  TempFileStore files{rt};
  std::unique_ptr<Persistence> actors;
  std::unique_ptr<Gateway> gateway;

 private:
  Configure configure_;
};

}  // namespace troupe::test
