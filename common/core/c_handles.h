// RAII owners for the C handles the project uses. Every C object that is
// allocated is held by one of these from the moment it is created.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <memory>

namespace mag {

template <auto Fn>
struct CDeleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    if (p) Fn(p);
  }
};

using EventBasePtr = std::unique_ptr<event_base, CDeleter<event_base_free>>;
using EventPtr = std::unique_ptr<event, CDeleter<event_free>>;
using BufferEventPtr = std::unique_ptr<bufferevent, CDeleter<bufferevent_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, CDeleter<evconnlistener_free>>;
using EvBufferPtr = std::unique_ptr<evbuffer, CDeleter<evbuffer_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, CDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, CDeleter<SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, CDeleter<SSL_SESSION_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, CDeleter<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, CDeleter<EVP_MD_CTX_free>>;

// jansson is reference counted: JsonPtr owns exactly one reference.
// (A named deleter, not CDeleter<json_decref>: json_decref is static inline,
// which would give every type built on it internal linkage.)
struct JsonDeleter {
  void operator()(json_t* j) const noexcept { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;
inline JsonPtr json_own(json_t* j) {
  return JsonPtr(j);
}
inline JsonPtr json_ref(json_t* j) {
  return JsonPtr(json_incref(j));
}

}  // namespace mag
