#include "proxy/credentials/token_request.h"

#include "proxy/auth/jwt_compact.h"
#include "proxy/credentials/client_assertion.h"
#include "proxy/credentials/form_body.h"

namespace mag::credentials {
namespace {

constexpr std::string_view kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
constexpr std::string_view kJwtBearerAssertion =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

std::string joined_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& scope : scopes) {
    if (!out.empty()) out += ' ';
    out += scope;
  }
  return out;
}

void add_if_set(FormBody* form, std::string_view name, const std::string& value) {
  if (!value.empty()) form->add(name, value);
}

// The POST to `token_endpoint` with `form` and the client's authentication
// (RFC 6749 §2.3.1 for the secret methods, RFC 7523 §2.2 for private_key_jwt).
bool finish(const config::OAuthClient& client, const std::string& token_endpoint,
            int64_t now_seconds, FormBody form, http::FetchRequest* out, std::string* error) {
  http::FetchRequest request;
  request.method = "POST";
  request.url = token_endpoint;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  switch (client.auth_method) {
    case config::OAuthClient::AuthMethod::kClientSecretBasic:
      request.headers.emplace_back(
          "Authorization", "Basic " + auth::base64_encode(form_encode(client.client_id) + ":" +
                                                          form_encode(client.client_secret)));
      break;
    case config::OAuthClient::AuthMethod::kClientSecretPost:
      form.add("client_id", client.client_id);
      form.add("client_secret", client.client_secret);
      break;
    case config::OAuthClient::AuthMethod::kPrivateKeyJwt: {
      const std::string assertion = client_assertion(client, token_endpoint, now_seconds, error);
      if (assertion.empty()) return false;
      form.add("client_id", client.client_id);
      form.add("client_assertion_type", kJwtBearerAssertion);
      form.add("client_assertion", assertion);
      break;
    }
  }
  request.body = form.text();
  *out = std::move(request);
  return true;
}

}  // namespace

bool client_credentials_request(const config::ClientCredentials& config,
                                const std::string& token_endpoint, int64_t now_seconds,
                                http::FetchRequest* out, std::string* error) {
  FormBody form;
  form.add("grant_type", "client_credentials");
  add_if_set(&form, "scope", joined_scopes(config.scopes));
  add_if_set(&form, "resource", config.resource);
  add_if_set(&form, "audience", config.audience);
  return finish(config.client, token_endpoint, now_seconds, std::move(form), out, error);
}

bool token_exchange_request(const config::TokenExchange& config, const std::string& token_endpoint,
                            std::string_view subject_token, int64_t now_seconds,
                            http::FetchRequest* out, std::string* error) {
  FormBody form;
  form.add("grant_type", kTokenExchangeGrant);
  form.add("subject_token", subject_token);
  form.add("subject_token_type", kAccessTokenType);
  form.add("requested_token_type", config.requested_token_type);
  add_if_set(&form, "audience", config.audience);
  add_if_set(&form, "resource", config.resource);
  add_if_set(&form, "scope", joined_scopes(config.scopes));
  return finish(config.client, token_endpoint, now_seconds, std::move(form), out, error);
}

}  // namespace mag::credentials
