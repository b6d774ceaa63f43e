#include "test/net/ws_client.hpp"

#include <cstring>

namespace troupe::test {
namespace {

int client_event(lws* wsi, lws_callback_reasons reason, void*, void* in, std::size_t len) {
  auto* client = static_cast<WsTestClient*>(lws_context_user(lws_get_context(wsi)));
  return client->on_event(wsi, reason, in, len);
}

}  // namespace

bool ClientConnection::wait_open(milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return state_ != State::connecting; });
  return state_ == State::open;
}

bool ClientConnection::failed() const {
  std::lock_guard lock(mu_);
  return state_ == State::failed;
}

int ClientConnection::refused_status() const {
  std::lock_guard lock(mu_);
  return refused_status_;
}

void ClientConnection::send(std::string data, MessageKind kind) {
  client_->run_on_service([this, data = std::move(data), kind]() mutable {
    if (!wsi_ || close_requested_) return;
    outbound_.push_back({std::move(data), kind});
    lws_callback_on_writable(wsi_);
  });
}

void ClientConnection::close(std::uint16_t code, std::string reason) {
  client_->run_on_service([this, code, reason = std::move(reason)] {
    if (!wsi_ || close_requested_) return;
    close_requested_ = true;
    close_request_ = {code, reason};
    lws_callback_on_writable(wsi_);
  });
}

void ClientConnection::pause_reading(bool paused) {
  client_->run_on_service([this, paused] {
    if (wsi_) lws_rx_flow_control(wsi_, paused ? 0 : 1);
  });
}

std::optional<ClientMessage> ClientConnection::next_message(milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !received_.empty(); });
  if (received_.empty()) return std::nullopt;
  ClientMessage message = std::move(received_.front());
  received_.pop_front();
  return message;
}

std::optional<ClientClose> ClientConnection::wait_closed(milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return state_ == State::closed || state_ == State::failed; });
  if (state_ != State::closed) return std::nullopt;
  return closed_;
}

WsTestClient::WsTestClient() {
  std::memset(protocols_, 0, sizeof(protocols_));
  protocols_[0].name = "test-client";
  protocols_[0].callback = client_event;
  lws_context_creation_info info;
  std::memset(&info, 0, sizeof(info));
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols_;
  info.user = this;
  info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
  lws_set_log_level(LLL_ERR, nullptr);
  context_ = lws_create_context(&info);
  thread_ = std::thread([this] {
    while (!stopping_.load()) lws_service(context_, 0);
  });
}

WsTestClient::~WsTestClient() {
  stopping_.store(true);
  lws_cancel_service(context_);
  thread_.join();
  lws_context_destroy(context_);
}

void WsTestClient::run_on_service(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back(std::move(fn));
  }
  lws_cancel_service(context_);
}

void WsTestClient::drain() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(commands_);
  }
  for (auto& fn : batch) fn();
}

std::shared_ptr<ClientConnection> WsTestClient::connect(std::uint16_t port, std::string path,
                                                        ConnectOptions options) {
  auto connection = std::make_shared<ClientConnection>();
  connection->client_ = this;
  run_on_service(
      [this, pending = Pending{connection, port, std::move(path), std::move(options)}]() mutable {
        start_connect(pending);
      });
  return connection;
}

void WsTestClient::start_connect(Pending& pending) {
  connections_.push_back(pending.connection);
  lws_client_connect_info info;
  std::memset(&info, 0, sizeof(info));
  info.context = context_;
  info.address = pending.options.address.c_str();
  info.port = pending.port;
  info.path = pending.path.c_str();
  info.host = info.address;
  info.origin = pending.options.origin.empty() ? nullptr : pending.options.origin.c_str();
  info.ietf_version_or_minus_one = -1;
  info.local_protocol_name = protocols_[0].name;
  info.opaque_user_data = pending.connection.get();
  ClientConnection& c = *pending.connection;
  if (!lws_client_connect_via_info(&info)) finish(c, ClientConnection::State::failed, {});
}

void WsTestClient::finish(ClientConnection& c, ClientConnection::State state, ClientClose close) {
  std::lock_guard lock(c.mu_);
  if (c.state_ == ClientConnection::State::closed || c.state_ == ClientConnection::State::failed) {
    return;
  }
  c.state_ = state;
  c.closed_ = std::move(close);
  c.cv_.notify_all();
}

int WsTestClient::on_event(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len) {
  if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
    drain();
    return 0;
  }
  auto* c = static_cast<ClientConnection*>(lws_get_opaque_user_data(wsi));
  if (!c) return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
      c->wsi_ = wsi;
      std::lock_guard lock(c->mu_);
      c->state_ = ClientConnection::State::open;
      c->cv_.notify_all();
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      {
        std::lock_guard lock(c->mu_);
        c->refused_status_ = static_cast<int>(lws_http_client_http_response(wsi));
      }
      c->wsi_ = nullptr;
      finish(*c, ClientConnection::State::failed, {});
      return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (lws_is_first_fragment(wsi)) {
        c->inbound_.clear();
        c->inbound_kind_ = lws_frame_is_binary(wsi) ? MessageKind::binary : MessageKind::text;
      }
      c->inbound_.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi)) {
        std::lock_guard lock(c->mu_);
        c->received_.push_back({std::move(c->inbound_), c->inbound_kind_});
        c->inbound_.clear();
        c->cv_.notify_all();
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (!c->outbound_.empty()) {
        ClientMessage& m = c->outbound_.front();
        std::vector<unsigned char> buffer(LWS_PRE + m.data.size());
        std::memcpy(buffer.data() + LWS_PRE, m.data.data(), m.data.size());
        const auto mode = m.kind == MessageKind::text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
        if (lws_write(wsi, buffer.data() + LWS_PRE, m.data.size(), mode) <
            static_cast<int>(m.data.size())) {
          return -1;
        }
        c->outbound_.pop_front();
        if (!c->outbound_.empty() || c->close_requested_) lws_callback_on_writable(wsi);
        return 0;
      }
      if (c->close_requested_) {
        auto& why = c->close_request_.reason;
        lws_close_reason(wsi, static_cast<lws_close_status>(c->close_request_.code),
                         reinterpret_cast<unsigned char*>(why.data()), why.size());
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
      const auto* p = static_cast<const unsigned char*>(in);
      ClientClose close{1005, {}};
      if (p && len >= 2) {
        close.code = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
        close.reason.assign(reinterpret_cast<const char*>(p) + 2, len - 2);
      }
      c->peer_close_ = close;
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED: {
      c->wsi_ = nullptr;
      ClientClose close = c->peer_close_.value_or(ClientClose{1006, {}});
      if (!c->peer_close_ && c->close_requested_) close = c->close_request_;
      finish(*c, ClientConnection::State::closed, close);
      return 0;
    }
    case LWS_CALLBACK_WSI_DESTROY: {
      c->wsi_ = nullptr;
      lws_set_opaque_user_data(wsi, nullptr);
      bool was_open = false;
      {
        std::lock_guard lock(c->mu_);
        was_open = c->state_ == ClientConnection::State::open;
      }
      finish(*c, was_open ? ClientConnection::State::closed : ClientConnection::State::failed,
             ClientClose{1006, {}});
      return 0;
    }
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
}

}  // namespace troupe::test
