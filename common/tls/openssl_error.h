// OpenSSL's thread-local error queue as text for error messages.
#pragma once

#include <string>

namespace mag::tls {

// The oldest queued error (the queue is then cleared); "unknown OpenSSL
// error" when the queue is empty.
std::string first_openssl_error();
// Every queued error, oldest first, joined with "; " (the queue is emptied).
std::string openssl_errors();

}  // namespace mag::tls
